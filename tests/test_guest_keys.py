"""A guest's key comes with their CSRF token, so a POST retried on another server keeps it.

Whoever hands a guest a CSRF token (/csrf-token, a page with a form, the quiz page) puts the
guest key in the same session cookie (app/web.py `give_guest_key_with_csrf`). A beacon or
quiz submission then never mints a key, and a copy of it that nginx sends again to a second
app server (the first stored it and died before answering) is stored under the same learner.
A first-time visitor's shared page still sets no cookie, and a key alone stores nothing.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.extensions import db
from app.progress.models import CourseCompletion, CourseProgress, ModuleProgress, Statement
from app.quizzes.models import QuizAttempt
from tests.conftest import CONTENT, make_app, second_server
from tests.helpers import PASSWORD, csrf_from, register

pytestmark = pytest.mark.db

MODULE = "/it/trial/first-steps/"
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The fixture course with first-time visitors' pages kept in memory, as in production."""
    return make_app(tmp_path, CONTENT, CONTENT_RECHECK_SECONDS=10)


@pytest.fixture
def other(app: Flask, tmp_path: Path) -> Flask:
    """A second app server on the same database with the same secret (another host)."""
    return second_server(app, CONTENT, tmp_path)


def session_of(client: FlaskClient) -> dict[str, object]:
    """What the client's session cookie holds now."""
    with client.session_transaction() as session:
        return dict(session)


def same_browser(client: FlaskClient, app: Flask) -> FlaskClient:
    """A client on `app` sending the cookies `client` holds now (the retried request's)."""
    copy = app.test_client()
    for cookie in client._cookies.values():  # noqa: SLF001  (the test client keeps no API)
        copy.set_cookie(cookie.key, cookie.value)
    return copy


def rows_of(app: Flask, learner: str) -> int:
    """Every progress and quiz row stored under `learner`."""
    with app.app_context():
        return sum(
            db.session.scalar(select(func.count()).where(model.learner == learner)) or 0
            for model in (Statement, ModuleProgress, CourseProgress, CourseCompletion, QuizAttempt)
        )


def read_beacon(statement_id: str, section: str = "experience") -> dict[str, object]:
    """The page's script reporting a section read, with its statement id."""
    return {"verb": "section-read", "section": section, "seconds": 600, "id": statement_id}


def quiz_form(client: FlaskClient) -> dict[str, str]:
    """The quiz page's hidden fields (CSRF token, signed attempt), submitted blank."""
    response = client.get(MODULE + "quiz")
    assert response.status_code == 200
    fields = dict(HIDDEN_FIELD.findall(response.text))
    assert fields.get("csrf_token")
    return fields


def test_a_first_time_visitors_pages_set_no_cookie(app: Flask) -> None:
    """Catalogue, course and module: the shared bytes, no session, from Flask and from memory."""
    for path in ("/it/", "/it/trial/", MODULE, "/en/trial/first-steps/"):
        for _ in range(2):  # Flask answers the first, GuestPages the second
            client = app.test_client()
            response = client.get(path)
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path
            assert 'name="csrf-token" content=""' in response.text
            assert session_of(client) == {}


def test_the_csrf_token_comes_with_a_guest_key_and_nothing_stored(app: Flask) -> None:
    """/csrf-token puts token and key in one cookie; the key alone writes no row."""
    client = app.test_client()
    response = client.get("/csrf-token")
    assert response.status_code == 200 and response.get_json()["token"]
    assert response.headers["Cache-Control"] == "no-store"
    session = session_of(client)
    assert session.get("csrf_token") and isinstance(session.get("guest"), str)
    assert len(str(session["guest"])) == 24
    assert rows_of(app, f"g:{session['guest']}") == 0
    # Asked again, the same session keeps its key; another browser gets another one.
    client.get("/csrf-token")
    assert session_of(client)["guest"] == session["guest"]
    stranger = app.test_client()
    stranger.get("/csrf-token")
    assert session_of(stranger)["guest"] != session["guest"]


def test_pages_with_a_form_give_the_key_with_their_token(app: Flask) -> None:
    """The quiz page and the sign-in page carry their own token: the key comes with it."""
    for path in (MODULE + "quiz", "/it/login", "/it/register"):
        client = app.test_client()
        assert client.get(path).status_code == 200
        session = session_of(client)
        assert session.get("csrf_token") and session.get("guest"), path


def test_a_guests_first_beacon_is_stored_under_the_key_given_with_the_token(
    app: Flask, other: Flask
) -> None:
    """The POST mints nothing, so its copy retried on another server stores under one key."""
    client = app.test_client()
    token = csrf_from(client, MODULE)
    guest = f"g:{session_of(client)['guest']}"
    retry = same_browser(client, other)  # the cookies of the original request
    statement_id = str(uuid.uuid4())
    first = client.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": token}
    )
    assert first.status_code == 200, first.text
    assert "Set-Cookie" not in first.headers  # nothing new in the session
    again = retry.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": token}
    )
    assert again.status_code == 200, again.text
    assert (
        again.get_json()
        == first.get_json()
        == {
            "read": ["experience"],
            "total": 5,
            "completed": False,
        }
    )
    with app.app_context():
        stored = db.session.scalars(select(Statement).where(Statement.uuid == statement_id)).all()
        assert [s.learner for s in stored] == [guest]
    assert rows_of(app, guest) == 2  # the statement and the module's summary


def test_a_guests_first_quiz_submission_retried_elsewhere_is_one_attempt(
    app: Flask, other: Flask
) -> None:
    """The quiz page gave the key: the retried form returns the stored attempt, not a 400."""
    client = app.test_client()
    form = quiz_form(client)
    guest = f"g:{session_of(client)['guest']}"
    retry = same_browser(client, other)
    first = client.post(MODULE + "quiz", data=form)
    assert first.status_code == 303
    again = retry.post(MODULE + "quiz", data=form)
    assert again.status_code == 303 and again.headers["Location"] == first.headers["Location"]
    assert retry.get(again.headers["Location"]).status_code == 200  # the review, theirs
    with app.app_context():
        attempts = db.session.scalars(select(QuizAttempt)).all()
        assert [a.learner for a in attempts] == [guest]


def test_a_session_from_before_keys_came_with_tokens_gets_one_key_on_every_server(
    app: Flask, other: Flask
) -> None:
    """A session holding a token but no key: each server derives the same key for its POST."""
    client = app.test_client()
    token = csrf_from(client, MODULE)
    form = quiz_form(client)
    with client.session_transaction() as session:
        session.pop("guest")  # as sessions were handed out before
    retry = same_browser(client, other)
    statement_id = str(uuid.uuid4())
    first = client.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": token}
    )
    again = retry.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": token}
    )
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    key = session_of(client)["guest"]
    assert session_of(retry)["guest"] == key
    submitted = retry.post(MODULE + "quiz", data=form)
    resubmitted = same_browser(retry, app).post(MODULE + "quiz", data=form)
    assert submitted.status_code == resubmitted.status_code == 303
    assert submitted.headers["Location"] == resubmitted.headers["Location"]
    with app.app_context():
        assert db.session.scalars(
            select(Statement.learner).where(Statement.uuid == statement_id)
        ).all() == [f"g:{key}"]
        assert db.session.scalars(select(QuizAttempt.learner)).all() == [f"g:{key}"]
    # Another session from before gets a key of its own.
    stranger = app.test_client()
    stranger_token = csrf_from(stranger, MODULE)
    with stranger.session_transaction() as session:
        session.pop("guest")
    stranger.post(
        MODULE + "progress",
        json=read_beacon(str(uuid.uuid4())),
        headers={"X-CSRFToken": stranger_token},
    )
    assert session_of(stranger)["guest"] not in (None, key)


def test_another_learner_still_cannot_claim_a_statement_id_or_an_attempt(app: Flask) -> None:
    """The same id or attempt token from another browser is refused; the owner's stays."""
    owner, intruder = app.test_client(), app.test_client()
    owner_token = csrf_from(owner, MODULE)
    form = quiz_form(owner)
    statement_id = str(uuid.uuid4())
    mine = owner.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": owner_token}
    )
    assert mine.status_code == 200
    assert owner.post(MODULE + "quiz", data=form).status_code == 303
    intruder_token = csrf_from(intruder, MODULE)
    theirs = intruder.post(
        MODULE + "progress", json=read_beacon(statement_id), headers={"X-CSRFToken": intruder_token}
    )
    assert theirs.status_code == 400
    stolen = dict(form, csrf_token=quiz_form(intruder)["csrf_token"])
    assert intruder.post(MODULE + "quiz", data=stolen).status_code == 400
    owner_key = f"g:{session_of(owner)['guest']}"
    with app.app_context():
        assert db.session.scalars(
            select(Statement.learner).where(Statement.uuid == statement_id)
        ).all() == [owner_key]
        assert db.session.scalars(select(QuizAttempt.learner)).all() == [owner_key]
    assert rows_of(app, f"g:{session_of(intruder)['guest']}") == 0


def test_sign_up_adopts_what_the_guest_recorded_and_a_new_key_follows_sign_out(
    app: Flask,
) -> None:
    """The key given with the token is adopted at sign-up; after sign-out, a fresh key."""
    client = app.test_client()
    token = csrf_from(client, MODULE)
    guest = f"g:{session_of(client)['guest']}"
    response = client.post(
        MODULE + "progress", json=read_beacon(str(uuid.uuid4())), headers={"X-CSRFToken": token}
    )
    assert response.status_code == 200
    assert register(client, "ada@example.org", lang="it").status_code == 302
    assert "guest" not in session_of(client)
    assert rows_of(app, guest) == 0
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count()).select_from(Statement).where(Statement.learner.like("u:%"))
            )
            == 1
        )
    logout_token = csrf_from(client, "/it/")
    assert client.post("/it/logout", data={"csrf_token": logout_token}).status_code == 302
    after = session_of(client).get("guest")
    assert after and f"g:{after}" != guest
    assert rows_of(app, f"g:{after}") == 0
    # Signing in again adopts nothing from the empty new key.
    login_token = csrf_from(client, "/it/login")
    signed_in = client.post(
        "/it/login",
        data={"csrf_token": login_token, "email": "ada@example.org", "password": PASSWORD},
    )
    assert signed_in.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Statement)) == 1
