"""Groups: create, join (signed in and as a guest), leave, share, close; the CLI; who sees what."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.accounts import services as accounts
from app.extensions import db
from app.progress import queries as progress
from app.trainer import groups
from app.trainer.models import Group
from app.web import catalogue
from tests.conftest import make_app
from tests.helpers import PASSWORD, beacon, csrf_from, register, signed_in

COURSES = Path(__file__).resolve().parent / "courses"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The app serving the fixture courses, with a trainer, a second trainer and an admin."""
    app = make_app(tmp_path, COURSES)
    with app.app_context():
        accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        accounts.create_user("otto@example.org", PASSWORD, "Otto", "trainer")
        accounts.create_user("ada@example.org", PASSWORD, "Admin", "admin")
        accounts.create_user("lea@example.org", PASSWORD, "Lea", "learner")
        db.session.commit()
    return app


def create_group(client: FlaskClient, name: str = "Class A", closes: str = "") -> int:
    """Create a group through the trainer's form; returns its id."""
    token = csrf_from(client, "/en/trainer/groups/")
    response = client.post(
        "/en/trainer/groups/",
        data={
            "csrf_token": token,
            "name": name,
            "course": "groups-demo",
            "language": "en",
            "closes": closes,
        },
    )
    assert response.status_code == 302, response.data.decode()
    return int(re.search(r"/groups/(\d+)/", response.headers["Location"]).group(1))


def code_of(app: Flask, group_id: int) -> str:
    with app.app_context():
        return db.session.get(Group, group_id).code


def join(client: FlaskClient, code: str):
    token = csrf_from(client, f"/en/join/{code}")
    return client.post(f"/en/join/{code}", data={"csrf_token": token})


def test_trainer_creates_a_group_and_a_learner_joins_after_confirming(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = create_group(trainer)
    page = trainer.get(f"/en/trainer/groups/{group_id}/").data.decode()
    code = code_of(app, group_id)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
    assert f"/en/join/{code}" in page

    learner = signed_in(app, "lea@example.org")
    confirm = learner.get(f"/en/join/{code}").data.decode()
    assert "data-join" in confirm and "Class A" in confirm
    with app.app_context():  # opening the link alone joins nobody
        assert groups.members(db.session.get(Group, group_id)) == []
    response = join(learner, code)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/en/groups-demo/")
    me = learner.get("/en/me/").data.decode()
    assert "Class A" in me and "trainer: Tina" in me
    assert 'data-learner="' in trainer.get(f"/en/trainer/groups/{group_id}/").data.decode()
    # Joining twice keeps one membership.
    join(learner, code)
    with app.app_context():
        assert [u.email for u in groups.members(db.session.get(Group, group_id))] == [
            "lea@example.org"
        ]


def test_a_guest_signs_up_from_the_link_joins_and_keeps_guest_progress(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    code = code_of(app, create_group(trainer))
    guest = app.test_client()
    assert guest.post(f"/en/join/{code}", data={}).status_code in (302, 400)
    beacon(
        guest,
        "/en/groups-demo/first/progress",
        {"verb": "section-read", "section": "s1", "seconds": 600},
    )
    page = guest.get(f"/en/join/{code}").data.decode()
    assert f"/en/register?next=/en/join/{code}" in page
    response = register(guest, "gino@example.org", "Gino")
    assert response.status_code == 302
    # The register link brings the guest back to the join page, where they confirm.
    back = guest.get(f"/en/register?next=/en/join/{code}")
    assert back.status_code in (200, 302)
    assert join(guest, code).status_code == 302
    with app.app_context():
        group = groups.group_by_code(code)
        assert [u.email for u in groups.members(group)] == ["gino@example.org"]
        user = accounts.authenticate("gino@example.org", PASSWORD)
        course = catalogue().course("groups-demo")
        statuses = progress.module_statuses(user.learner_key, course, "en")
        assert statuses["first"].read == {"s1"}


def test_learner_leaves_a_group_and_its_trainer_no_longer_sees_them(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = create_group(trainer)
    learner = signed_in(app, "lea@example.org")
    join(learner, code_of(app, group_id))
    with app.app_context():
        lea = accounts.authenticate("lea@example.org", PASSWORD)
        lea_id = lea.id
    assert trainer.get(f"/en/trainer/groups/{group_id}/learners/{lea_id}/").status_code == 200
    token = csrf_from(learner, "/en/me/")
    learner.post(f"/en/me/groups/{group_id}/leave", data={"csrf_token": token})
    assert "Class A" not in learner.get("/en/me/").data.decode()
    assert (
        f'data-learner="{lea_id}"'
        not in trainer.get(f"/en/trainer/groups/{group_id}/").data.decode()
    )
    assert trainer.get(f"/en/trainer/groups/{group_id}/learners/{lea_id}/").status_code == 404


def test_regenerated_code_replaces_the_old_one_and_a_closed_group_refuses_joins(
    app: Flask,
) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = create_group(trainer)
    old = code_of(app, group_id)
    token = csrf_from(trainer, f"/en/trainer/groups/{group_id}/")
    trainer.post(f"/en/trainer/groups/{group_id}/code", data={"csrf_token": token})
    new = code_of(app, group_id)
    assert new != old
    learner = signed_in(app, "lea@example.org")
    assert learner.get(f"/en/join/{old}").status_code == 404

    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    closed_id = create_group(trainer, "Old class", closes=yesterday)
    closed = code_of(app, closed_id)
    assert "data-closed" in learner.get(f"/en/join/{closed}").data.decode()
    response = learner.post(f"/en/join/{closed}", data={"csrf_token": csrf_from(learner, "/en/")})
    assert response.status_code == 410
    with app.app_context():
        assert groups.members(db.session.get(Group, closed_id)) == []


def test_trainers_see_their_own_and_shared_groups_and_admins_see_all(app: Flask) -> None:
    tina = signed_in(app, "tina@example.org")
    group_id = create_group(tina, "Tina's class")
    otto = signed_in(app, "otto@example.org")
    assert "Tina&#39;s class" not in otto.get("/en/trainer/groups/").data.decode()
    assert otto.get(f"/en/trainer/groups/{group_id}/").status_code == 404
    assert otto.get(f"/en/trainer/groups/{group_id}/progress.csv").status_code == 404
    # Otto cannot regenerate the code of a group he cannot see.
    token = csrf_from(otto, "/en/trainer/groups/")
    assert (
        otto.post(f"/en/trainer/groups/{group_id}/code", data={"csrf_token": token}).status_code
        == 404
    )

    token = csrf_from(tina, f"/en/trainer/groups/{group_id}/")
    tina.post(
        f"/en/trainer/groups/{group_id}/trainers",
        data={"csrf_token": token, "email": "otto@example.org"},
    )
    assert "Tina&#39;s class" in otto.get("/en/trainer/groups/").data.decode()
    assert otto.get(f"/en/trainer/groups/{group_id}/").status_code == 200
    # A co-trainer sees the group but does not manage it.
    token = csrf_from(otto, f"/en/trainer/groups/{group_id}/")
    assert (
        otto.post(f"/en/trainer/groups/{group_id}/code", data={"csrf_token": token}).status_code
        == 403
    )
    # A learner cannot be made a co-trainer.
    tina.post(
        f"/en/trainer/groups/{group_id}/trainers",
        data={"csrf_token": token, "email": "lea@example.org"},
    )
    with app.app_context():
        assert [u.email for u in groups.co_trainers(db.session.get(Group, group_id))] == [
            "otto@example.org"
        ]

    admin = signed_in(app, "ada@example.org")
    assert "Tina&#39;s class" in admin.get("/en/trainer/groups/").data.decode()
    assert admin.get(f"/en/trainer/groups/{group_id}/").status_code == 200


def test_cli_creates_and_lists_groups(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["groups", "create", "groups-demo", "Evening class", "--trainer", "tina@example.org"]
    )
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{8}", code)
    listed = runner.invoke(args=["groups", "list"])
    assert (
        code in listed.output
        and "Evening class" in listed.output
        and "0 member(s)" in listed.output
    )
    refused = runner.invoke(
        args=["groups", "create", "groups-demo", "X", "--trainer", "lea@example.org"]
    )
    assert refused.exit_code != 0 and "no trainer account" in refused.output
    unknown = runner.invoke(args=["groups", "create", "nope", "X", "--trainer", "tina@example.org"])
    assert unknown.exit_code != 0 and "no course 'nope'" in unknown.output
