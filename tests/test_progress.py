"""Progress: statements, summaries, completion, guests becoming learners, privacy."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.extensions import db
from app.progress import queries, statements
from app.progress.models import CourseCompletion, ModuleProgress, Statement
from app.progress.rules import Event, ModuleShape, Summary, apply, is_complete, replay
from app.web import catalogue
from tests.conftest import CONTENT, make_app
from tests.helpers import beacon, csrf_from, login, register, write_mini_course

pytestmark = pytest.mark.db

URL = "/en/trial/first-steps/progress"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(verb: str, section: str | None = None, minutes: int = 0, **result: float) -> Event:
    return Event(verb, section, result or None, {"language": "it"}, T0 + timedelta(minutes=minutes))


# --- the pure rules -------------------------------------------------------------------------


def test_rules_read_sections_once_and_remember_the_last() -> None:
    summary = replay(
        [event("experienced", "a"), event("experienced", "b", 1), event("experienced", "a", 2)]
    )
    assert summary.sections_read == ["a", "b"]
    assert summary.last_section == "a" and summary.statements == 3
    assert summary.last_activity == T0 + timedelta(minutes=2)


def test_rules_listening_to_90_percent_of_a_section_reads_it() -> None:
    summary = Summary()
    apply(summary, event("progressed", "a", listened=50, position=50, duration=100))
    assert summary.sections_read == []
    apply(summary, event("progressed", "a", listened=39, position=89, duration=100))
    assert summary.sections_read == []
    apply(summary, event("progressed", "a", listened=1, position=90, duration=100))
    assert summary.sections_read == ["a"]
    assert summary.last_audio_section == "a" and summary.last_audio_position == 90


def test_rules_completion_needs_every_section_and_a_passed_quiz() -> None:
    shape = ModuleShape(sections=("a", "b"), has_quiz=True)
    summary = replay([event("experienced", "a"), event("experienced", "b")])
    assert not is_complete(summary, shape)
    apply(summary, event("failed", score=0.4))
    assert not is_complete(summary, shape) and summary.best_score == 0.4
    apply(summary, event("passed", score=0.9))
    apply(summary, event("failed", score=0.2))
    assert is_complete(summary, shape) and summary.best_score == 0.9
    assert is_complete(replay([event("experienced", "a")]), ModuleShape(("a",), has_quiz=False))


# --- through the app --------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, CONTENT)


def test_a_guest_reads_a_section_and_the_pages_show_it(app: Flask) -> None:
    client = app.test_client()
    response = beacon(
        client, URL, {"verb": "section-read", "section": "experience", "seconds": 600}
    )
    assert response.status_code == 200
    assert response.json == {"read": ["experience"], "total": 5, "completed": False}
    course_page = client.get("/en/trial/").data.decode()
    assert "1 of 5 sections read" in course_page
    assert 'href="/en/trial/first-steps/#experience"' in course_page  # continue here
    module_page = client.get("/it/trial/first-steps/").data.decode()
    assert 'data-outline-section="experience"' in module_page and 'class="read"' in module_page
    assert "1 / 5" in module_page


@pytest.mark.parametrize(
    "payload",
    [
        {"verb": "section-read", "section": "no-such-section", "seconds": 600},
        {"verb": "section-read"},
        {"verb": "flew", "section": "experience"},
        {
            "verb": "audio-progressed",
            "section": "experience",
            "position": -1,
            "listened": 1,
            "duration": 9,
        },
        {
            "verb": "audio-progressed",
            "section": "experience",
            "position": 5,
            "listened": 1e9,
            "duration": 9,
        },
        {
            "verb": "audio-progressed",
            "section": "experience",
            "position": 50,
            "listened": 1,
            "duration": 9,
        },
        {
            "verb": "audio-progressed",
            "section": "experience",
            "position": "x",
            "listened": 1,
            "duration": 9,
        },
        ["not", "an", "object"],
    ],
)
def test_the_beacon_refuses_what_does_not_fit_and_stores_nothing(app: Flask, payload) -> None:
    client = app.test_client()
    assert beacon(client, URL, payload).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Statement.id))) == 0


def test_the_beacon_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/en/")
    response = client.post(
        URL, json={"verb": "section-read", "section": "experience", "seconds": 600}
    )
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Statement.id))) == 0


def test_the_beacon_for_an_unknown_module_is_a_404(app: Flask) -> None:
    client = app.test_client()
    assert (
        beacon(
            client,
            "/en/trial/nope/progress",
            {"verb": "section-read", "section": "x", "seconds": 600},
        ).status_code
        == 404
    )


def test_audio_position_is_kept_for_resuming_on_any_device(app: Flask) -> None:
    phone = app.test_client()
    register(phone, "ada@example.org")
    payload = {
        "verb": "audio-progressed",
        "section": "experience",
        "position": 42.5,
        "listened": 10,
        "duration": 120,
    }
    assert beacon(phone, URL, payload).status_code == 200
    laptop = app.test_client()
    login(laptop, "ada@example.org")
    with app.test_request_context():
        course = catalogue().course("trial")
        status = queries.module_statuses("u:1", course, "en")["first-steps"]
    assert (status.last_audio_section, status.last_audio_position) == ("experience", 42.5)
    page = laptop.get("/it/trial/").data.decode()
    assert 'href="/it/trial/first-steps/#experience"' in page
    with app.app_context():
        (statement,) = db.session.scalars(select(Statement)).all()
        assert statement.context == {"channel": "audio", "language": "en"}


def complete_module(app: Flask, learner: str, module_id: str, *, passed: bool = True) -> None:
    """Read every section and pass the quiz through the service, as the channels would."""
    with app.test_request_context():
        course = catalogue().course("trial")
        module, _ = course.module(module_id, "it")
        for section in module.reading_sections:
            statements.record(
                learner, course, module, "experienced", section_id=section.id, language="it"
            )
        if module.questions:
            verb = "passed" if passed else "failed"
            statements.record(
                learner,
                course,
                module,
                verb,
                result={"score": 0.9 if passed else 0.3},
                language="it",
            )
        db.session.commit()


def test_a_module_completes_when_read_and_passed_and_the_course_when_all_are(app: Flask) -> None:
    complete_module(app, "u:7", "first-steps", passed=False)
    with app.app_context():
        row = db.session.scalar(select(ModuleProgress))
        assert row.completed_at is None and row.best_score == 0.3
    complete_module(app, "u:7", "first-steps")
    with app.app_context():
        row = db.session.scalar(select(ModuleProgress))
        assert row.completed_at is not None and row.best_score == 0.9
        verbs = db.session.scalars(
            select(Statement.verb).where(Statement.verb == "completed")
        ).all()
        assert verbs == ["completed"]
        assert db.session.scalar(select(CourseCompletion)) is None
    for entry in load_entries()[1:]:
        complete_module(app, "u:7", entry)
    with app.app_context():
        completion = db.session.scalar(select(CourseCompletion))
        assert completion.learner == "u:7" and completion.course_id == "trial"
        course_statement = db.session.scalar(
            select(Statement).where(Statement.verb == "completed", Statement.module_id.is_(None))
        )
        assert course_statement.object_id == "trial"


def load_entries() -> list[str]:
    from app.content.loader import load_catalogue

    return [e.id for e in load_catalogue(CONTENT).courses["trial"].visible]


def test_summary_always_equals_the_replayed_statements(app: Flask) -> None:
    complete_module(app, "u:3", "first-steps")
    with app.app_context():
        row = db.session.scalar(select(ModuleProgress))
        rebuilt = statements.rebuild("u:3", "trial", "first-steps")
        assert rebuilt.sections_read == row.sections_read
        assert rebuilt.completed_at == row.completed_at.replace(tzinfo=rebuilt.completed_at.tzinfo)
        assert rebuilt.statements == row.statements
        assert rebuilt.best_score == row.best_score and rebuilt.quiz_passed == row.quiz_passed


def edit_first_module(content: Path, change) -> None:
    for lang in ("it", "en"):
        path = content / "trial" / "01-first-steps" / f"{lang}.md"
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")


def test_content_edits_never_lose_progress(tmp_path: Path, content_copy: Path) -> None:
    app = make_app(tmp_path, content_copy)
    complete_module(app, "u:1", "first-steps")
    # A new section: the module stays completed, with its date.
    edit_first_module(
        content_copy,
        lambda text: text.replace("\n## ", "\n## Extra {#extra}\n\nNew text.\n\n## ", 1),
    )
    with app.test_request_context():
        course = catalogue().course("trial")
        status = queries.module_statuses("u:1", course, "it")["first-steps"]
    assert status.completed_at is not None and status.total == 6 and status.read_count == 5
    # A removed section stops counting.
    edit_first_module(
        content_copy, lambda text: re.sub(r"\n## [^\n]*\{#experience\}", "\n### Ocx", text)
    )
    with app.test_request_context():
        course = catalogue().course("trial")
        status = queries.module_statuses("u:1", course, "it")["first-steps"]
    assert "experience" not in status.read and status.total == 5 and status.read_count == 4


def test_guest_progress_moves_to_the_account_on_registration(app: Flask) -> None:
    client = app.test_client()
    beacon(client, URL, {"verb": "section-read", "section": "experience", "seconds": 600})
    beacon(client, URL, {"verb": "section-read", "section": "words", "seconds": 600})
    register(client, "ada@example.org")
    page = client.get("/en/me/").data.decode()
    assert re.search(r'data-module="first-steps">.*?data-sections-read>2 / 5<', page, re.S)
    with app.app_context():
        assert set(db.session.scalars(select(Statement.learner))) == {"u:1"}
        rows = db.session.scalars(select(ModuleProgress)).all()
        assert [(r.learner, sorted(r.sections_read)) for r in rows] == [
            ("u:1", ["experience", "words"])
        ]


def test_guest_progress_joins_an_existing_account_on_login(app: Flask) -> None:
    register(app.test_client(), "ada@example.org")
    laptop = app.test_client()
    login(laptop, "ada@example.org")
    beacon(laptop, URL, {"verb": "section-read", "section": "experience", "seconds": 600})
    phone = app.test_client()  # reads as a guest first, then signs in
    beacon(phone, URL, {"verb": "section-read", "section": "chains", "seconds": 600})
    login(phone, "ada@example.org")
    with app.app_context():
        row = db.session.scalar(select(ModuleProgress))
        assert sorted(row.sections_read) == ["chains", "experience"] and row.learner == "u:1"
        assert row.statements == 2


def test_learners_see_only_their_own_progress(app: Flask) -> None:
    ada, bob = app.test_client(), app.test_client()
    register(ada, "ada@example.org")
    register(bob, "bob@example.org")
    beacon(ada, URL, {"verb": "section-read", "section": "experience", "seconds": 600})
    bob_page = bob.get("/en/me/").data.decode()
    assert re.search(r'data-module="first-steps">.*?data-sections-read>0 / 5<', bob_page, re.S)
    assert "Continue where you left off" not in bob_page
    assert "1 of 5" not in bob.get("/en/trial/").data.decode()
    # No learner route takes a learner id: another learner's data has no address at all.
    # (Trainer and admin pages do, behind role and group-ownership checks: tests/test_reports.py.)
    staff = ("/<lang:lang>/trainer/", "/<lang:lang>/admin/")
    rules = [r.rule for r in bob.application.url_map.iter_rules() if not r.rule.startswith(staff)]
    assert not any("user" in r or "learner" in r for r in rules)


def test_eqf_preference_highlights_modules_and_deepening(app: Flask) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/me/")
    assert client.post("/en/me/eqf", data={"csrf_token": token, "level": "5"}).status_code == 302
    course_page = client.get("/en/trial/").data.decode()
    matches = re.findall(r'class="module-card eqf-match" data-module="([^"]+)"', course_page)
    assert "first-steps" not in matches and "deep-dive" in matches
    assert 'data-eqf-level="5"' in client.get("/en/trial/deep-dive/").data.decode()
    assert client.post("/en/me/eqf", data={"csrf_token": token, "level": "9"}).status_code == 400
    register(client, "ada@example.org")
    token = csrf_from(client, "/en/me/")
    client.post("/en/me/eqf", data={"csrf_token": token, "level": "3"})
    assert "selected>EQF 3" in client.get("/en/me/").data.decode().replace(
        '"3" selected', "selected"
    )


def test_listening_to_most_of_a_section_through_the_beacon_marks_it_read(app: Flask) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/")
    for position in (40, 80, 92):
        payload = {
            "verb": "audio-progressed",
            "section": "experience",
            "position": position,
            "listened": 40 if position < 92 else 12,
            "duration": 100,
        }
        response = beacon(client, URL, payload, token)
    assert response.json["read"] == ["experience"]
    with app.app_context():
        row = db.session.scalar(select(ModuleProgress))
        assert row.audio_listened == {"experience": 92.0} and row.sections_read == ["experience"]


@pytest.mark.pdf
def test_pdf_downloads_are_recorded_once_per_full_download(tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_mini_course(root)
    app = make_app(tmp_path, root)
    client = app.test_client()
    first = client.get("/it/mini/one.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    again = client.get("/it/mini/one.pdf", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/it/mini.pdf").status_code == 200
    with app.app_context():
        rows = db.session.scalars(select(Statement).order_by(Statement.id)).all()
        assert [(s.verb, s.object_id, s.context["channel"]) for s in rows] == [
            ("downloaded", "mini/one", "pdf"),
            ("downloaded", "mini", "pdf"),
        ]


# --- the beacon's answer, repeated ids, two instances -----------------------------------------

SECTIONS = ("words", "models", "approaches", "experience", "chains")


def learner_of(app: Flask, email: str) -> str:
    """The learner key of an account."""
    from app.accounts.models import User

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        return str(user.learner_key)


def statuses(app: Flask, learner: str) -> dict[str, queries.ModuleStatus]:
    """The learner's module statuses as the pages read them, in a fresh transaction."""
    with app.test_request_context():
        return queries.module_statuses(learner, catalogue().course("trial"), "en")


def test_each_beacon_answers_what_the_pages_then_read_up_to_completion(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    learner = learner_of(app, "ada@example.org")
    with app.test_request_context():
        course = catalogue().course("trial")
        module, _ = course.module("first-steps", "en")
        statements.record(learner, course, module, "passed", result={"score": 1.0}, language="en")
        db.session.commit()
    token = csrf_from(client, "/en/")
    for n, section in enumerate(SECTIONS, 1):
        if n % 2:
            payload = {"verb": "section-read", "section": section, "seconds": 600}
        else:
            payload = {"verb": "audio-progressed", "section": section, "position": 100,
                       "listened": 100, "duration": 100}  # fmt: skip
        answer = beacon(client, URL, payload, token).get_json()
        status = statuses(app, learner)["first-steps"]
        assert answer == {
            "read": sorted(status.read),
            "total": 5,
            "completed": status.completed_at is not None,
        }
        assert len(answer["read"]) == n
    assert answer["completed"] is True  # the last section read with the quiz passed
    with app.app_context():
        done = db.session.scalars(select(Statement.module_id).where(Statement.verb == "completed"))
        assert list(done) == ["first-steps"]


@pytest.mark.parametrize(
    "payload",
    [
        {"verb": "section-read", "section": "experience", "seconds": 600},
        {
            "verb": "audio-progressed",
            "section": "experience",
            "position": 30,
            "listened": 30,
            "duration": 600,
        },
    ],  # fmt: skip
    ids=["read", "audio"],
)
def test_a_beacon_sent_again_is_stored_once_and_answered_the_same(app: Flask, payload) -> None:
    import uuid

    client = app.test_client()
    token = csrf_from(client, "/en/")
    sent = {**payload, "id": str(uuid.uuid4())}
    first = beacon(client, URL, sent, token)
    assert first.status_code == 200
    for _ in range(2):
        again = beacon(client, URL, sent, token)
        assert (again.status_code, again.get_json()) == (200, first.get_json())
    # A copy in another form of the same UUID is the same id.
    upper = beacon(client, URL, {**sent, "id": sent["id"].upper()}, token)
    assert (upper.status_code, upper.get_json()) == (200, first.get_json())
    with app.app_context():
        assert db.session.scalar(select(func.count(Statement.id))) == 1
        row = db.session.scalar(select(ModuleProgress))
        assert row.statements == 1
        if payload["verb"] == "audio-progressed":
            assert row.audio_listened == {"experience": 30.0}  # not 60 or 90
        # Read back through the ORM as it would have written them: JSON, booleans, UTC times.
        stored = db.session.scalar(select(Statement))
        assert stored.context == {"channel": "audio" if "listened" in payload else "web",
                                  "language": "en"}  # fmt: skip
        assert stored.result == (
            {"duration": 600.0} if "seconds" in payload
            else {"position": 30.0, "listened": 30.0, "duration": 600.0}
        )  # fmt: skip
        assert stored.timestamp.tzinfo is not None and row.last_activity == stored.timestamp
        assert row.quiz_passed is False and row.completed_at is None
    # The same id from another learner, or for another section, is refused and changes nothing.
    other = app.test_client()
    refused = beacon(other, URL, sent, csrf_from(other, "/en/"))
    assert refused.status_code == 400
    assert beacon(client, URL, {**sent, "section": "chains"}, token).status_code == 400
    with app.app_context():
        assert db.session.scalar(select(func.count(Statement.id))) == 1
        assert db.session.scalar(select(func.count(ModuleProgress.id))) == 1
        assert db.session.scalar(select(ModuleProgress.statements)) == 1


def test_beacons_at_once_on_two_instances_of_one_database_lose_nothing(tmp_path: Path) -> None:
    """One learner on two devices, each served by its own app (engine, pool) on one database.

    The first beacons of a module arrive together (its summary row created by one of them),
    and every event reaches both instances at once under its id (a retry that overtook the
    first copy): each is stored once.
    """
    import threading
    import uuid

    instances = [make_app(tmp_path, CONTENT), make_app(tmp_path, CONTENT)]
    devices = [instance.test_client() for instance in instances]
    register(devices[0], "ada@example.org")
    login(devices[1], "ada@example.org")
    learner = learner_of(instances[0], "ada@example.org")
    tokens = [csrf_from(device, "/en/") for device in devices]
    events = []
    for n in range(24):
        section = SECTIONS[n % len(SECTIONS)]
        if n % 2:
            payload = {"verb": "section-read", "section": section, "seconds": 600}
        else:
            payload = {"verb": "audio-progressed", "section": section, "position": 10.0,
                       "listened": 7.0, "duration": 600}  # fmt: skip
        events.append({**payload, "id": str(uuid.uuid4())})
    THREADS = 8
    barrier = threading.Barrier(THREADS)
    answers: list[int] = []
    errors: list[BaseException] = []

    def work(n: int) -> None:
        # Each thread its own client (a client's cookie jar is not shared between threads),
        # carrying its device's session cookie.
        which = n % 2
        device = instances[which].test_client()
        cookie = devices[which].get_cookie("session")
        assert cookie is not None
        device.set_cookie("session", cookie.value, domain=cookie.domain)
        # Threads 2k and 2k+1 send the same events, one to each instance.
        mine = [e for i, e in enumerate(events) if i % (THREADS // 2) == n // 2]
        try:
            barrier.wait()
            for payload in mine:
                answers.append(beacon(device, URL, payload, tokens[which]).status_code)
        except BaseException as exc:  # noqa: BLE001  (reported by the test)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert answers == [200] * 48
    distinct = {e["id"] for e in events}
    with instances[1].app_context():
        stored = db.session.scalars(
            select(Statement.uuid).where(Statement.verb != "completed")
        ).all()
        assert sorted(stored) == sorted(distinct)
        row = db.session.scalar(select(ModuleProgress).where(ModuleProgress.learner == learner))
        rebuilt = statements.rebuild(learner, "trial", "first-steps")
        assert row.statements == rebuilt.statements == len(distinct)
        assert sorted(row.sections_read) == sorted(rebuilt.sections_read)
        assert row.audio_listened == rebuilt.audio_listened
        audio = sum(1 for e in events if "listened" in e)
        assert sum(row.audio_listened.values()) == pytest.approx(7.0 * audio)
