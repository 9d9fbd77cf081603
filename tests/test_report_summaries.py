"""The summary tables the group reports read: PDF downloads per module and per course, and
each learner's latest per-question scores; kept in step by the writes, moved with a guest's
progress, removed with an account, and filled from stored history by the migration."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from app.progress import statements as progress
from app.progress.models import CourseProgress, ModuleProgress
from app.quizzes import services as quizzes
from app.quizzes.models import LatestScore
from app.trainer import groups
from app.web import catalogue
from tests.conftest import make_app
from tests.helpers import PASSWORD, signed_in

COURSES = Path(__file__).resolve().parent / "courses"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
ALL_RIGHT = {"q1": "a", "q2": "a", "q3": ["a", "b"], "q4": "a"}
ALL_WRONG = {"q1": "b", "q2": "b", "q3": ["c"], "q4": "b"}


def submit(learner: str, answers: dict, when: datetime) -> None:
    """A graded attempt at the first module through the quiz service."""
    course = catalogue().course("groups-demo")
    module = course.module("first", "en")[0]
    quizzes.submit(
        learner, course, module, "en", quizzes.new_state(module, now=when), answers, now=when
    )


def latest(learner: str) -> dict[str, float]:
    """The learner's stored latest scores in the first module."""
    rows = db.session.execute(
        select(LatestScore.question_id, LatestScore.score).where(
            LatestScore.learner == learner, LatestScore.module_id == "first"
        )
    )
    return {question_id: score for question_id, score in rows}


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = make_app(tmp_path, COURSES)
    with app.test_request_context():
        tina = accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        group = groups.create_group(tina, "groups-demo", "Class", "en")
        db.session.commit()
        app.config["GROUP_ID"] = group.id
        app.config["GROUP_CODE"] = group.code
    return app


def test_pdf_downloads_are_counted_in_the_summaries_and_shown_as_a_channel(app: Flask) -> None:
    with app.test_request_context():
        course = catalogue().course("groups-demo")
        first = course.module("first", "en")[0]
        ada = accounts.create_user("ada@example.org", PASSWORD, "Ada")
        groups.join(groups.group_by_code(app.config["GROUP_CODE"]), ada)
        for _ in range(2):
            progress.record(
                ada.learner_key, course, first, "downloaded", language="en", channel="pdf"
            )
        progress.record_course_event(
            ada.learner_key, course, "downloaded", language="en", channel="pdf"
        )
        db.session.commit()
        row = db.session.scalar(
            select(ModuleProgress).where(ModuleProgress.learner == ada.learner_key)
        )
        assert row.pdf_downloads == 2
        # The summary is what the statements imply: a replay gives the same count.
        assert progress.rebuild(ada.learner_key, course.id, "first").pdf_downloads == 2
        whole = db.session.scalar(
            select(CourseProgress).where(CourseProgress.learner == ada.learner_key)
        )
        assert whole.pdf_downloads == 1 and whole.last_activity is not None
    trainer = signed_in(app, "tina@example.org")
    page = trainer.get(f"/en/trainer/groups/{app.config['GROUP_ID']}/").data.decode()
    assert "PDF: 3" in page  # two of the module, one of the whole course
    csv_text = trainer.get(
        f"/en/trainer/groups/{app.config['GROUP_ID']}/progress.csv"
    ).data.decode()
    assert ",first,in_progress," in csv_text and csv_text.splitlines()[1].split(",")[9] == "2"


def test_latest_scores_follow_the_latest_attempt_and_mastery_counts_them(app: Flask) -> None:
    with app.test_request_context():
        ada = accounts.create_user("ada@example.org", PASSWORD, "Ada")
        groups.join(groups.group_by_code(app.config["GROUP_CODE"]), ada)
        submit(ada.learner_key, ALL_WRONG, T0 + timedelta(hours=2))
        submit(ada.learner_key, ALL_RIGHT, T0 + timedelta(hours=3))
        # An attempt stored later but dated earlier (a clock told otherwise) is not the latest.
        submit(ada.learner_key, ALL_WRONG, T0)
        db.session.commit()
        assert latest(ada.learner_key) == {"q1": 1.0, "q2": 1.0, "q3": 1.0, "q4": 1.0}
    trainer = signed_in(app, "tina@example.org")
    page = trainer.get(f"/en/trainer/groups/{app.config['GROUP_ID']}/").data.decode()
    mastered = re.search(r'data-outcome="first/alpha">(?:<td>.*?</td>){2}\s*<td>(.*?)</td>', page)
    assert mastered and mastered.group(1) == "1 of 1"


def test_a_guest_keeps_downloads_and_latest_scores_and_deletion_removes_them(app: Flask) -> None:
    guest = "g:guest-token"
    with app.test_request_context():
        course = catalogue().course("groups-demo")
        progress.record_course_event(guest, course, "downloaded", language="en", channel="pdf")
        submit(guest, ALL_RIGHT, T0)
        ada = accounts.create_user("ada@example.org", PASSWORD, "Ada")
        # Ada had downloaded the course PDF once on another device already.
        progress.record_course_event(
            ada.learner_key, course, "downloaded", language="en", channel="pdf"
        )
        accounts.adopt_guest(guest, ada, catalogue().courses)
        db.session.commit()
        counts = dict(
            db.session.execute(select(CourseProgress.learner, CourseProgress.pdf_downloads)).all()
        )
        assert counts == {ada.learner_key: 2}
        assert latest(guest) == {} and latest(ada.learner_key)["q1"] == 1.0
        key = ada.learner_key
        accounts.delete_account(db.session.get(User, ada.id), PASSWORD)
        db.session.commit()
        assert db.session.scalar(select(CourseProgress.id)) is None
        assert latest(key) == {}


@pytest.mark.db
def test_the_migration_fills_the_summaries_from_stored_history(tmp_path: Path) -> None:
    from flask_migrate import upgrade

    app = make_app(tmp_path, COURSES, migrate=False)
    with app.app_context():
        upgrade(revision="d3e4f5a6b7c8")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO module_progress (learner, course_id, module_id, sections_read,"
                    " audio_listened, quiz_passed, statements) VALUES"
                    """ ('u:1', 'c', 'm', '[]', '{"s1": 30.5, "s2": 10}', false, 3),"""
                    " ('u:2', 'c', 'm', '[]', '{}', false, 1)"
                )
            )
            statement = (
                "INSERT INTO statements (uuid, learner, verb, object_id, course_id, module_id,"
                " context, timestamp) VALUES (:uuid, :learner, :verb, 'c/m', 'c', :module, '{}',"
                " :when)"
            )
            for n, (learner, verb, module) in enumerate(
                [("u:1", "downloaded", "m"), ("u:1", "downloaded", "m"),
                 ("u:1", "experienced", "m"), ("u:2", "downloaded", None),
                 ("u:2", "downloaded", None), ("u:2", "experienced", "m")]
            ):  # fmt: skip
                connection.execute(
                    text(statement),
                    {"uuid": f"00000000-0000-0000-0000-00000000000{n}", "learner": learner,
                     "verb": verb, "module": module,
                     "when": (T0 + timedelta(minutes=n)).isoformat()},
                )  # fmt: skip
            attempt = (
                "INSERT INTO quiz_attempts (token, learner, course_id, module_id, language,"
                " question_order, answers, scores, score, passed, pass_mark, started_at,"
                " submitted_at, duration_seconds) VALUES (:token, 'u:1', 'c', 'm', 'en', '[]',"
                " '{}', :scores, 0.5, false, 60, :when, :when, 1.0)"
            )
            # Stored first but submitted later: the latest attempt is the first row.
            for token, scores, when in (
                ("new", {"q1": 1.0, "q2": 0.0}, T0 + timedelta(days=1)),
                ("old", {"q1": 0.0, "q2": 0.0, "q3": 1.0}, T0),
            ):
                connection.execute(
                    text(attempt),
                    {"token": token, "scores": json.dumps(scores), "when": when.isoformat()},
                )
        upgrade()
        with db.engine.connect() as connection:
            summaries = connection.execute(
                text("SELECT learner, pdf_downloads, audio_seconds FROM module_progress")
            ).all()
            downloads = {learner: (pdfs, audio) for learner, pdfs, audio in summaries}
            course = connection.execute(
                text("SELECT learner, course_id, pdf_downloads FROM course_progress")
            ).all()
            scores = dict(
                connection.execute(text("SELECT question_id, score FROM latest_scores")).all()
            )
        db.engine.dispose()
    assert downloads == {"u:1": (2, 40.5), "u:2": (0, 0.0)}
    assert [tuple(r) for r in course] == [("u:2", "c", 2)]
    assert scores == {"q1": 1.0, "q2": 0.0}  # the latest attempt only
