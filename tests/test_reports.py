"""Reports: question statistics against hand-computed values, the progress matrix, CSV, privacy.

The fixture: five learners in a group take the first module's quiz (four questions) once, the
third a second time; the expected facility, SD and discrimination were worked out on paper
(see the comments), with q2 discriminating negatively: those who did well elsewhere got it wrong.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import update

from app.accounts import services as accounts
from app.accounts.models import User
from app.content.quiz_syntax import parse_quiz
from app.extensions import db
from app.progress import statements as progress
from app.progress.models import ModuleProgress
from app.quizzes import services as quizzes
from app.trainer import groups
from app.trainer.csv_export import ITEM_COLUMNS, PROGRESS_COLUMNS, neutralise
from app.trainer.item_analysis import AttemptData, analyse
from app.trainer.models import Group
from app.web import catalogue
from tests.conftest import make_app
from tests.helpers import PASSWORD, signed_in

COURSES = Path(__file__).resolve().parent / "courses"
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# Answers per learner: q1 single (a right), q2 single (a right), q3 multiple (a, b right),
# q4 GIFT single (a right). Scores: q1 [1,1,0,0,1], q2 [0,0,1,1,1], q3 [1,1,.5,0,1], q4 [1,1,0,0,0].
ANSWERS = {
    "=Eve": {"q1": "a", "q2": "b", "q3": ["a", "b"], "q4": "a"},
    "Bob": {"q1": "a", "q2": "b", "q3": ["a", "b"], "q4": "a"},
    "Cy": {"q1": "b", "q2": "a", "q3": ["a"], "q4": "b"},
    "Di": {"q1": "c", "q2": "a", "q3": ["c"], "q4": "b"},
    "Al": {"q1": "a", "q2": "a", "q3": ["a", "b"], "q4": "b"},
}
# Hand-computed over the five first attempts (rest = sum of the other three questions):
# q2: x = 0,0,1,1,1; rest = 3,3,.5,0,2. F = 60; SD = sqrt(1.2/4) = 54.77;
#     r = -2.6 / sqrt(1.2 * 7.8) = -0.84984 -> D = -84.98 (negative: flagged).
# q1: x = 1,1,0,0,1; rest = 2,2,1.5,1,2. F = 60; r = 0.9 / sqrt(1.2 * 0.8) = 0.91856 -> 91.86.
# q4: x = 1,1,0,0,0; rest = 2,2,1.5,1,3. F = 40; r = 0.2 / sqrt(1.2 * 2.2) = 0.12309 -> 12.31.
# q3: x = 1,1,.5,0,1. F = 70.
EXPECTED = {
    "q1": (60.0, 54.77, 91.86),
    "q2": (60.0, 54.77, -84.98),
    "q3": (70.0, 44.72, None),
    "q4": (40.0, 54.77, 12.31),
}


def submit(learner: str, module_id: str, answers: dict, when: datetime) -> None:
    """A real graded attempt through the quiz service, as the quiz form stores it."""
    course = catalogue().course("groups-demo")
    module = course.module(module_id, "en")[0]
    state = quizzes.new_state(module, now=when, seed=1)
    quizzes.submit(learner, course, module, "en", state, answers, now=when)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The group below, built once for the tests that only read it."""
    return build_app(tmp_path_factory.mktemp("reports"))


@pytest.fixture
def fresh_app(tmp_path: Path) -> Flask:
    """The group below, for a test that changes it."""
    return build_app(tmp_path)


def build_app(tmp_path: Path) -> Flask:
    """Fixture courses; a trainer's group of five learners with attempts, and one outsider."""
    app = make_app(tmp_path, COURSES)
    with app.test_request_context():
        tina = accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        accounts.create_user("otto@example.org", PASSWORD, "Otto", "trainer")
        group = groups.create_group(tina, "groups-demo", "Class A", "en")
        course = catalogue().course("groups-demo")
        first = course.module("first", "en")[0]
        for n, (name, answers) in enumerate(ANSWERS.items()):
            user = accounts.create_user(f"l{n}@example.org", PASSWORD, name)
            groups.join(group, user)
            progress.record(
                user.learner_key, course, first, "experienced", language="en", section_id="s1"
            )
            submit(user.learner_key, "first", answers, T0 + timedelta(hours=n))
            submit(user.learner_key, "second", {"only": "a"}, T0 + timedelta(hours=n))
        cy = db.session.query(User).filter_by(display_name="Cy").one()
        all_right = {"q1": "a", "q2": "a", "q3": ["a", "b"], "q4": "a"}
        submit(cy.learner_key, "first", all_right, T0 + timedelta(days=1))
        progress.record(cy.learner_key, course, first, "downloaded", language="en", channel="pdf")
        second = course.module("second", "en")[0]
        progress.record(
            cy.learner_key, course, second, "experienced", language="en", section_id="a"
        )
        # Someone outside the group, with an attempt that only "all learners" statistics see.
        outsider = accounts.create_user("out@example.org", PASSWORD, "Outsider")
        submit(outsider.learner_key, "first", {"q1": "b"}, T0)
        # Di has not been back since November (summaries only: statements are never replayed).
        di = db.session.query(User).filter_by(display_name="Di").one()
        db.session.execute(
            update(ModuleProgress)
            .where(ModuleProgress.learner == di.learner_key)
            .values(last_activity=T0)
        )
        # A guest's attempt appears in no report.
        submit("g:guest-token", "first", all_right, T0)
        db.session.commit()
        app.config["GROUP_CODE"] = group.code
        app.config["GROUP_ID"] = group.id
    return app


def rows_of(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_statistics_match_the_hand_computed_values(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = app.config["GROUP_ID"]
    response = trainer.get(
        f"/en/trainer/questions/groups-demo/first/questions.csv?group={group_id}"
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = {r["question_id"]: r for r in rows_of(response.data.decode("utf-8"))}
    assert list(rows["q1"])[: len(ITEM_COLUMNS)] == list(ITEM_COLUMNS)
    for qid, (facility, sd, discrimination) in EXPECTED.items():
        row = rows[qid]
        assert row["attempts"] == "5"
        assert float(row["facility"]) == pytest.approx(facility, abs=0.05)
        assert float(row["sd"]) == pytest.approx(sd, abs=0.05)
        if discrimination is not None:
            assert float(row["discrimination"]) == pytest.approx(discrimination, abs=0.05)
    assert rows["q2"]["flag"] == "negative_discrimination"
    assert rows["q1"]["flag"] == ""
    assert rows["q1"]["outcome"] == "alpha" and rows["q4"]["outcome"] == "o2"
    # How often each option was chosen.
    assert (rows["q1"]["option_a"], rows["q1"]["option_b"], rows["q1"]["option_c"]) == (
        "3",
        "1",
        "1",
    )
    assert (rows["q3"]["option_a"], rows["q3"]["option_b"], rows["q3"]["option_c"]) == (
        "4",
        "3",
        "1",
    )
    assert (rows["q2"]["option_a"], rows["q2"]["option_c"]) == ("3", "")

    # All attempts on request: Cy's second attempt counts too.
    every = rows_of(
        trainer.get(
            f"/en/trainer/questions/groups-demo/first/questions.csv?group={group_id}&attempts=all"
        ).data.decode()
    )
    assert {r["question_id"]: r["attempts"] for r in every}["q1"] == "6"
    # Over all registered learners: the outsider is counted, the guest never.
    everyone = rows_of(
        trainer.get("/en/trainer/questions/groups-demo/first/questions.csv").data.decode()
    )
    assert {r["question_id"]: r["attempts"] for r in everyone}["q1"] == "6"


def test_the_quiz_view_flags_questions_and_names_the_hardest(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    page = trainer.get(f"/en/trainer/questions/groups-demo/first/?group={app.config['GROUP_ID']}")
    html = page.data.decode()
    assert 'data-question="q2" data-flag="negative_discrimination"' in html
    assert 'data-hardest="q4"' in html
    second = trainer.get(
        f"/en/trainer/questions/groups-demo/second/?group={app.config['GROUP_ID']}"
    )
    assert 'data-question="only" data-flag="too_easy"' in second.data.decode()


def test_flags_and_edge_cases_of_the_pure_analysis() -> None:
    questions = parse_quiz(
        "1. Q {#hard}\n   - (x) a\n   - ( ) b\n\n2. R {#easy}\n   - (x) a\n   - ( ) b\n"
    )
    attempts = [
        AttemptData(
            f"u:{i}",
            T0,
            {"hard": 1.0 if i == 0 else 0.0, "easy": 1.0},
            {"hard": "a" if i == 0 else "b", "easy": "a"},
        )
        for i in range(6)
    ]
    stats = {s.question.id: s for s in analyse(questions, attempts)}
    assert stats["hard"].facility == pytest.approx(100 / 6)
    assert stats["hard"].flags == ("too_hard",)
    assert stats["easy"].flags == ("too_easy",)
    assert stats["easy"].sd == 0 and stats["easy"].discrimination is None  # nothing varies
    assert analyse(questions, [])[0].facility is None


def test_progress_matrix_and_its_csv(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = app.config["GROUP_ID"]
    page = trainer.get(f"/en/trainer/groups/{group_id}/").data.decode()
    assert page.count('data-learner="') == 5
    assert "Outsider" not in page
    response = trainer.get(f"/en/trainer/groups/{group_id}/progress.csv")
    rows = rows_of(response.data.decode("utf-8"))
    assert list(rows[0]) == list(PROGRESS_COLUMNS)
    assert len(rows) == 10  # five learners x two modules
    cy = {r["module_id"]: r for r in rows if r["learner"] == "Cy"}
    assert cy["first"]["status"] == "in_progress"
    assert (cy["first"]["sections_read"], cy["first"]["sections_total"]) == ("1", "2")
    assert cy["first"]["best_score"] == "100.0" and cy["first"]["attempts"] == "2"
    assert cy["first"]["pdf_downloaded"] == "1"
    assert cy["first"]["last_activity"].endswith("Z")
    assert datetime.fromisoformat(cy["first"]["last_activity"]).tzinfo is not None
    # Cy read the second module's section and passed its quiz; the others only passed the quiz.
    assert cy["second"]["status"] == "completed"
    assert {r["status"] for r in rows if r["module_id"] == "second" and r["learner"] != "Cy"} == {
        "in_progress"
    }
    # A name that a spreadsheet would run as a formula is neutralised.
    assert "'=Eve" in {r["learner"] for r in rows}
    # The CLI prints the same file.
    result = app.test_cli_runner().invoke(args=["reports", "progress", app.config["GROUP_CODE"]])
    assert result.exit_code == 0
    assert result.stdout_bytes == response.data
    items = app.test_cli_runner().invoke(
        args=[
            "reports",
            "items",
            "groups-demo",
            "first",
            "--language",
            "en",
            "--group",
            app.config["GROUP_CODE"],
        ]
    )
    assert items.exit_code == 0
    assert {r["question_id"]: r["flag"] for r in rows_of(items.output)}[
        "q2"
    ] == "negative_discrimination"


def test_filters_and_sorting(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    base = f"/en/trainer/groups/{app.config['GROUP_ID']}/"
    completed = trainer.get(base + "?module=second&status=completed").data.decode()
    assert completed.count('data-learner="') == 1 and "Cy</a>" in completed
    assert (
        trainer.get(base + "?module=first&status=completed").data.decode().count('data-learner="')
        == 0
    )
    # Everyone was last active in November 2026 at the latest; "inactive for 0 days" keeps all.
    assert trainer.get(base + "?inactive=0").data.decode().count('data-learner="') == 5
    inactive = trainer.get(base + "?inactive=7").data.decode()
    assert inactive.count('data-learner="') == 1 and "Di</a>" in inactive
    by_name = trainer.get(base + "?sort=name").data.decode()
    assert by_name.index("Al</a>") < by_name.index("Bob</a>") < by_name.index("Cy</a>")
    reverse = trainer.get(base + "?sort=-name").data.decode()
    assert reverse.index("Di</a>") < reverse.index("Cy</a>")


def mastery(page: str, key: str) -> str:
    """The "mastered" cell of an outcome's row in the group page."""
    match = re.search(rf'data-outcome="{key}">(?:<td>.*?</td>){{2}}\s*<td>(.*?)</td>', page, re.S)
    assert match, key
    return match.group(1)


def test_mastery_per_outcome_and_the_learner_page(app: Flask) -> None:
    trainer = signed_in(app, "tina@example.org")
    group_id = app.config["GROUP_ID"]
    page = trainer.get(f"/en/trainer/groups/{group_id}/").data.decode()
    # alpha = q1, q2 (latest attempts): Eve .5, Bob .5, Cy 1 (second attempt), Di .5, Al 1 -> 2 of 5
    # at the 60% pass mark; o2 = q3, q4: Eve 1, Bob 1, Cy 1, Di 0, Al .5 -> 3 of 5.
    assert mastery(page, "first/alpha") == "2 of 5"
    assert mastery(page, "first/o2") == "3 of 5"
    with app.app_context():
        cy = db.session.query(User).filter_by(display_name="Cy").one()
        cy_id = cy.id
    learner_page = trainer.get(f"/en/trainer/groups/{group_id}/learners/{cy_id}/").data.decode()
    assert learner_page.count("data-attempt=") == 3
    assert "downloaded" in learner_page and "experienced" in learner_page
    assert "Outcome A – 100% (mastered)" in learner_page


def test_learners_see_their_outcome_standing_after_an_attempt_and_on_the_dashboard(
    app: Flask,
) -> None:
    learner = signed_in(app, "l3@example.org")  # Di
    dashboard = learner.get("/en/me/").data.decode()
    assert "Outcome A: <strong>50%</strong>" in dashboard
    assert "Outcome B: <strong>0%</strong> (not yet)" in dashboard


def test_who_may_see_reports(app: Flask) -> None:
    group_id = app.config["GROUP_ID"]
    urls = [
        f"/en/trainer/groups/{group_id}/",
        f"/en/trainer/groups/{group_id}/progress.csv",
        f"/en/trainer/groups/{group_id}/learners/3/",
        f"/en/trainer/questions/groups-demo/first/?group={group_id}",
        f"/en/trainer/questions/groups-demo/first/questions.csv?group={group_id}",
    ]
    guest = app.test_client()
    for url in urls:
        response = guest.get(url)
        assert response.status_code == 302 and "/en/login" in response.headers["Location"], url
    learner = signed_in(app, "l0@example.org")
    for url in urls:
        assert learner.get(url).status_code == 403, url
    other = signed_in(app, "otto@example.org")
    for url in urls:
        assert other.get(url).status_code == 404, url
    tina = signed_in(app, "tina@example.org")
    with app.app_context():
        outsider = db.session.query(User).filter_by(email="out@example.org").one().id
    # Tampered ids: a non-member's page, a group that does not exist, another course's module.
    assert tina.get(f"/en/trainer/groups/{group_id}/learners/{outsider}/").status_code == 404
    assert tina.get("/en/trainer/groups/99999/").status_code == 404
    assert tina.get(f"/en/trainer/questions/groups-demo/nope/?group={group_id}").status_code == 404


def test_a_deleted_account_vanishes_from_reports(fresh_app: Flask) -> None:
    app = fresh_app
    with app.test_request_context():
        bob = db.session.query(User).filter_by(display_name="Bob").one()
        accounts.delete_account(bob, PASSWORD)
        db.session.commit()
        group = db.session.get(Group, app.config["GROUP_ID"])
        assert "Bob" not in [u.display_name for u in groups.members(group)]
    trainer = signed_in(app, "tina@example.org")
    text = trainer.get(f"/en/trainer/groups/{app.config['GROUP_ID']}/progress.csv").data.decode()
    assert "Bob" not in text and len(rows_of(text)) == 8
    items = rows_of(
        trainer.get(
            f"/en/trainer/questions/groups-demo/first/questions.csv?group={app.config['GROUP_ID']}"
        ).data.decode()
    )
    assert {r["question_id"]: r["attempts"] for r in items}["q1"] == "4"


def test_formula_neutralising() -> None:
    assert [neutralise(v) for v in ("=1+1", "+39 02", "-x", "@SUM", "Ann", "")] == [
        "'=1+1",
        "'+39 02",
        "'-x",
        "'@SUM",
        "Ann",
        "",
    ]
