"""Taking a quiz: the page, submitting, review, attempts, progress, tampering, guests, GIFT out."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from app.accounts import services as accounts
from app.content.gift import parse_gift
from app.content.model import Module
from app.content.questions import QuestionType
from app.extensions import db
from app.pages import page_cache
from app.progress.models import ModuleProgress, Statement
from app.quizzes import services
from app.quizzes.models import QuizAttempt
from app.quizzes.services import choice_id, field_name
from app.web import catalogue
from tests.conftest import CONTENT, make_app
from tests.helpers import PASSWORD, csrf_from, login, register

pytestmark = pytest.mark.db

BASICS = "/en/trial/first-steps"

MINI_COURSE = """\
id: mini
default_language: en
languages: [en, it]
title: {en: "Mini course", it: "Mini corso"}
description: {en: "A course for quiz tests.", it: "Un corso per i test dei quiz."}
eqf: 3-5
pass_mark: 60
"""

MINI_MODULE = """\
---
title: Quiz kinds
eqf: 4
duration: 10
description: Every kind of question.
keywords: [quiz]
outcomes:
  - Answer questions
quiz:
  pass_mark: 75
  shuffle: false
---

Intro.

## Read this {#read}

Some text.

## Test yourself {#quiz}

```quiz
1. Which one integrates? {#single}
   - ( ) Multichannel
     > Feedback-multi-wrong: channels side by side.
   - (x) Omnichannel
     > Feedback-omni-right.
   > General-single: integration counts.

2. Physical channels? {#multi}
   - [x] Shop
     > Feedback-shop.
   - [ ] App
     > Feedback-app.
   - [x] Kiosk

3. Buy online and [[collect|pick up]] in store. {#gaps}
   > General-gaps.
```

```gift
::Intro note:: Read the next questions carefully.

::year:: Year of Moodle 1.0? {#=2002:0#Feedback-exact =%50%2002:2#Feedback-close ~#Feedback-off}

::capital:: The capital of Italy is {=Rome#Feedback-rome =%50%Roma} in English.

::match:: Match each channel. {
=Shop -> physical
=Newsletter -> digital
= -> neither
####General-match.
}

::tf:: The sky is blue.{TRUE#Feedback-tf-wrong#Feedback-tf-right}
```
"""


@pytest.fixture
def quiz_app(tmp_path: Path) -> Flask:
    """The fixture course (tests/content)."""
    return make_app(tmp_path, CONTENT)


@pytest.fixture
def mini_app(tmp_path: Path) -> Flask:
    """A one-module course with every question kind, answers in written order."""
    root = tmp_path / "content"
    module_dir = root / "mini" / "01-kinds"
    module_dir.mkdir(parents=True)
    (root / "mini" / "course.yml").write_text(MINI_COURSE, encoding="utf-8")
    (module_dir / "en.md").write_text(MINI_MODULE, encoding="utf-8")
    return make_app(tmp_path, root)


MINI = "/en/mini/kinds"


def module_of(app: Flask, course_id: str, module_id: str, lang: str = "en") -> Module:
    with app.test_request_context():
        course = catalogue().course(course_id)
        assert course is not None, "the test course failed to load"
        found = course.module(module_id, lang)
        assert found is not None
        return found[0]


def page_form(client: FlaskClient, url: str) -> tuple[str, dict[str, str]]:
    """The quiz page's HTML and its hidden fields (CSRF token and attempt state)."""
    response = client.get(url)
    assert response.status_code == 200
    html = response.data.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    assert set(hidden) == {"csrf_token", services.STATE_FIELD}
    return html, hidden


def right_answers(module: Module) -> dict[str, str | list[str]]:
    """Form fields answering every question of a module right."""
    data: dict[str, str | list[str]] = {}
    for q in module.questions:
        name = field_name(q.id)
        if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
            data[name] = max(q.options, key=lambda o: o.fraction).id
        elif q.type is QuestionType.MULTIPLE_CHOICE:
            data[name] = [o.id for o in q.options if o.correct]
        elif q.type is QuestionType.GAP_FILL:
            data.update({field_name(q.id, g.id): g.answers[0] for g in q.gaps})
        elif q.type is QuestionType.SHORT_ANSWER:
            data[name] = q.answers[0].text
        elif q.type is QuestionType.NUMERICAL:
            data[name] = str(q.numeric[0].value)
        elif q.type is QuestionType.MATCHING:
            for pair in q.pairs:
                if not pair.is_distractor:
                    data[field_name(q.id, pair.id)] = choice_id(pair.answer)
    return data


def submit(client: FlaskClient, url: str, answers: dict, **extra: str):
    _, hidden = page_form(client, f"{url}/quiz")
    return client.post(f"{url}/quiz", data={**hidden, **answers, **extra}), hidden


def count(app: Flask, model: type) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


class _Inputs(HTMLParser):
    """Every form control of a page with its id, and every label's `for`."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        data = dict(attrs)
        if tag in ("input", "select", "textarea") and data.get("type") != "hidden":
            self.controls.append(data)
        if tag == "label" and data.get("for"):
            self.label_for.add(data["for"] or "")


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_every_question_with_a_labelled_input(mini_app: Flask) -> None:
    client = mini_app.test_client()
    html, _ = page_form(client, f"{MINI}/quiz")
    module = module_of(mini_app, "mini", "kinds")
    parser = _Inputs()
    parser.feed(html)
    for control in parser.controls:
        assert control.get("id") in parser.label_for or control.get("aria-label"), control
    kinds = {(c.get("type") or "select") for c in parser.controls}
    assert {"radio", "checkbox", "text", "number", "select"} <= kinds
    names = {c["name"] for c in parser.controls}
    assert names == {
        "q.single", "q.multi", "q.gaps.g1", "q.year", "q.capital", "q.match.a", "q.match.b", "q.tf",
    }  # fmt: skip
    # Descriptions are shown, not numbered; graded questions are.
    assert "Read the next questions carefully." in html
    assert "Question 7 of 7" in html and "Question 8 of" not in html
    # The missing word sits inside its sentence.
    assert re.search(
        r"The capital of Italy is <input[^>]+name=\"q.capital\"[^>]*> in English", html
    )
    assert len(module.questions) == 8


def test_the_page_never_contains_answers_or_feedback(mini_app: Flask, quiz_app: Flask) -> None:
    for app, course_id, module_id, url in (
        (mini_app, "mini", "kinds", f"{MINI}/quiz"),
        (quiz_app, "trial", "first-steps", f"{BASICS}/quiz"),
    ):
        html, hidden = page_form(app.test_client(), url)
        module = module_of(app, course_id, module_id)
        shown = " ".join(
            [q.text for q in module.questions]
            + [o.text for q in module.questions for o in q.options]
            + [p.prompt + " " + p.answer for q in module.questions for p in q.pairs]
        )
        for q in module.questions:
            secrets_ = [q.general_feedback] + [o.feedback for o in q.options]
            secrets_ += [a.feedback for a in q.answers] + [a.feedback for a in q.numeric]
            secrets_ += [a.text for a in q.answers] + [a for g in q.gaps for a in g.answers]
            secrets_ += [str(a.value) for a in q.numeric if a.value is not None]
            for secret in filter(None, secrets_):
                if secret not in shown:
                    assert secret.replace('"', "&#34;") not in html, secret
        for marker in ("checked", "selected", "correct", "fraction", "data-right", "data-feedback"):
            assert marker not in html
        # The signed state carries ids and order only.
        state = URLSafeSerializer(app.config["SECRET_KEY"], salt="academy.quiz-attempt").loads(
            hidden[services.STATE_FIELD]
        )
        assert set(state) == {"t", "c", "m", "l", "s", "o"}
        for entry in state["o"]:
            assert set(entry) <= {"id", "type", "options", "rows", "choices", "gaps"}


def test_answers_are_shuffled_per_attempt_when_the_module_asks(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    module = module_of(quiz_app, "trial", "first-steps")
    assert module.quiz.shuffle

    def option_order(html: str) -> list[str]:
        return re.findall(r'<input type="(?:radio|checkbox)" name="[^"]+" id="([^"]+)"', html)

    orders = {tuple(option_order(page_form(client, f"{BASICS}/quiz")[0])) for _ in range(3)}
    assert len(orders) > 1
    # Question order is the trainer's.
    html = page_form(client, f"{BASICS}/quiz")[0]
    ids = re.findall(r'<li class="quiz-question" id="question-([^"]+)"', html)
    assert ids == [q.id for q in module.questions]


def test_without_shuffle_options_keep_the_written_order(mini_app: Flask) -> None:
    html, _ = page_form(mini_app.test_client(), f"{MINI}/quiz")
    assert re.findall(r'name="q.multi" id="[^"]+" value="([^"]+)"', html) == ["a", "b", "c"]


def test_the_order_is_stable_within_an_attempt_and_stored_with_it(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    module = module_of(quiz_app, "trial", "first-steps")
    html, hidden = page_form(client, f"{BASICS}/quiz")
    shown = re.findall(r'name="q\.q-integration" id="[^"]+" value="([^"]+)"', html)
    client.post(f"{BASICS}/quiz", data={**hidden, **right_answers(module)})
    with quiz_app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        entry = next(e for e in attempt.question_order if e["id"] == "q-integration")
        assert entry["options"] == shown


def test_the_page_is_rendered_once_yet_each_visit_starts_its_own_attempt(quiz_app: Flask) -> None:
    """The quiz page comes from the page cache, but never as one visitor's bytes to another."""
    module = module_of(quiz_app, "trial", "first-steps")
    cache = page_cache(quiz_app)
    visitors = [quiz_app.test_client() for _ in range(6)]
    pages = []
    for visitor in visitors:
        response = visitor.get(f"{BASICS}/quiz")
        # A first-time visitor gets a session: the form's CSRF token is theirs.
        assert response.status_code == 200 and "Set-Cookie" in response.headers
        pages.append(page_form(visitor, f"{BASICS}/quiz"))
    renders = cache.renders
    serializer = URLSafeSerializer(quiz_app.config["SECRET_KEY"], salt="academy.quiz-attempt")
    states = [serializer.loads(hidden[services.STATE_FIELD]) for _, hidden in pages]
    assert len({state["t"] for state in states}) == len(visitors)
    assert len({hidden["csrf_token"] for _, hidden in pages}) == len(visitors)
    for (html, _), state in zip(pages, states, strict=True):
        # Every question's options are shown in the order its attempt state says.
        for entry in state["o"]:
            if "options" in entry:
                name = re.escape(field_name(entry["id"]))
                shown = re.findall(rf'name="{name}" id="[^"]+" value="([^"]+)"', html)
                assert shown == entry["options"]
    assert len({tuple(map(str, state["o"])) for state in states}) > 1  # shuffled per attempt
    for visitor, (_, hidden) in zip(visitors, pages, strict=True):
        response = visitor.post(f"{BASICS}/quiz", data={**hidden, **right_answers(module)})
        assert response.status_code == 303
    # Its best score and attempts list are each learner's own; the page was not rendered again.
    html = visitors[0].get(f"{BASICS}/quiz").data.decode()
    assert "data-best-score" in html and html.count('class="current"') == 0
    assert html.count(f"{BASICS}/quiz/attempts/") == 1
    assert cache.renders == renders
    assert count(quiz_app, QuizAttempt) == len(visitors)


def test_matching_choices_follow_each_attempt_and_grade(mini_app: Flask) -> None:
    module = module_of(mini_app, "mini", "kinds")
    serializer = URLSafeSerializer(mini_app.config["SECRET_KEY"], salt="academy.quiz-attempt")
    client = mini_app.test_client()
    orders = set()
    for _ in range(8):
        html, hidden = page_form(client, f"{MINI}/quiz")
        entry = next(e for e in serializer.loads(hidden["attempt"])["o"] if e["id"] == "match")
        for row in entry["rows"]:
            select_html = html.split(f'name="{field_name("match", row)}"', 1)[1]
            select_html = select_html.split("</select>", 1)[0]
            values = re.findall(r'<option value="([^"]+)">', select_html)
            assert values == entry["choices"]
        orders.add(tuple(entry["choices"]))
    assert len(orders) > 1
    response = client.post(f"{MINI}/quiz", data={**hidden, **right_answers(module)})
    assert "Score: 100%" in client.get(response.headers["Location"]).data.decode()


def test_a_module_without_questions_or_an_unknown_module_has_no_quiz(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    assert client.get("/en/trial/nope/quiz").status_code == 404
    assert client.get("/xx/trial/first-steps/quiz").status_code == 404


# --- submitting -------------------------------------------------------------------------------


def test_all_right_passes_records_progress_and_shows_the_review(mini_app: Flask) -> None:
    client = mini_app.test_client()
    module = module_of(mini_app, "mini", "kinds")
    response, _ = submit(client, MINI, right_answers(module))
    assert response.status_code == 303
    review = client.get(response.headers["Location"]).data.decode()
    assert "Score: 100%" in review and "Passed" in review
    assert review.count('data-outcome="right"') == 7
    shown = ("Feedback-omni-right.", "General-single: integration counts.", "Feedback-shop.")
    shown += ("Feedback-exact", "Feedback-rome", "General-match.", "Feedback-tf-right")
    for text in shown:
        assert text in review
    assert "Feedback-app." not in review and "Feedback-multi-wrong" not in review
    with mini_app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        assert attempt.passed and attempt.score == 1.0 and attempt.pass_mark == 75
        assert attempt.learner.startswith("g:") and attempt.language == "en"
        assert attempt.duration_seconds >= 0 and attempt.submitted_at >= attempt.started_at
        assert set(attempt.scores) == {"single", "multi", "gaps", "year", "capital", "match", "tf"}
        statement = db.session.scalar(select(Statement).where(Statement.verb == "passed"))
        assert statement.result == {
            "score": 1.0,
            "raw": 7.0,
            "max": 7,
            "duration": attempt.duration_seconds,
            "attempt": attempt.token,
        }
        assert statement.context == {"channel": "web", "language": "en"}
        summary = db.session.scalar(select(ModuleProgress))
        assert summary.quiz_passed and summary.best_score == 1.0
        # "attempted" and "passed" both folded into the one row the submission locked.
        assert summary.statements == 2


def test_wrong_and_partial_answers_are_reviewed_and_fail(mini_app: Flask) -> None:
    client = mini_app.test_client()
    module = module_of(mini_app, "mini", "kinds")
    answers = right_answers(module)
    answers.update(
        {
            "q.single": "a",  # wrong
            "q.multi": ["a", "b"],  # one right (+1/2) and one wrong (-1): 0
            "q.year": "2003",  # 50%
            "q.capital": "  ROMA ",  # 50%
            "q.match.b": choice_id("neither"),  # 1 of 2 pairs
        }
    )
    del answers["q.tf"]  # unanswered
    response, _ = submit(client, MINI, answers)
    review = client.get(response.headers["Location"]).data.decode()
    # right: gaps; partly: year, capital, match; wrong: single, multi, tf.
    assert review.count('data-outcome="right"') == 1
    assert review.count('data-outcome="partly"') == 3
    assert review.count('data-outcome="wrong"') == 3
    assert "Score: 36%" in review and "Not passed yet" in review and "75%" in review
    assert "Feedback-multi-wrong: channels side by side." in review  # feedback of the choice
    assert "Feedback-app." in review and "Feedback-close" in review
    assert "No answer" in review
    # The learner's answer and the right one are both shown.
    single = review.split('id="question-single"')[1].split("</li>")[0]
    given = single.split("data-given>")[1].split("</dd>")[0]
    right = single.split("data-right>")[1].split("</dd>")[0]
    assert "Multichannel" in given and "Omnichannel" in right
    with mini_app.app_context():
        verbs = db.session.scalars(select(Statement.verb).order_by(Statement.id)).all()
        assert verbs == ["attempted", "failed"]
        summary = db.session.scalar(select(ModuleProgress))
        assert not summary.quiz_passed and summary.best_score == pytest.approx(2.5 / 7)


def test_retrying_keeps_every_attempt_and_the_best_score_counts(mini_app: Flask) -> None:
    client = mini_app.test_client()
    module = module_of(mini_app, "mini", "kinds")
    right = right_answers(module)
    submit(client, MINI, {**right, "q.single": "a", "q.tf": "false"})  # 5/7
    submit(client, MINI, right)  # 7/7
    response, _ = submit(client, MINI, {})  # 0
    with mini_app.app_context():
        scores = db.session.scalars(select(QuizAttempt.score).order_by(QuizAttempt.id)).all()
        assert scores == [pytest.approx(5 / 7), 1.0, 0.0]
        summary = db.session.scalar(select(ModuleProgress))
        assert summary.best_score == 1.0 and summary.quiz_passed
        verbs = db.session.scalars(select(Statement.verb).order_by(Statement.id)).all()
        assert verbs == ["attempted", "failed", "attempted", "passed", "attempted", "failed"]
    page = client.get(f"{MINI}/quiz").data.decode()
    assert "Best score: 100%" in page and page.count("quiz/attempts/") == 3
    review = client.get(response.headers["Location"]).data.decode()
    assert "Score: 0%" in review and "Best score: 100%" in review


def test_passing_completes_the_module_once_its_sections_are_read(mini_app: Flask) -> None:
    client = mini_app.test_client()
    module = module_of(mini_app, "mini", "kinds")
    token = csrf_from(client, f"{MINI}/")
    for section in module.reading_sections:
        client.post(
            f"{MINI}/progress",
            json={"verb": "section-read", "section": section.id, "seconds": 600},
            headers={"X-CSRFToken": token},
        )
    submit(client, MINI, right_answers(module))
    page = client.get(f"{MINI}/").data.decode()
    assert "Module completed" in page and "Best score: 100%" in page


def test_a_double_submitted_form_is_stored_once(mini_app: Flask) -> None:
    client = mini_app.test_client()
    module = module_of(mini_app, "mini", "kinds")
    _, hidden = page_form(client, f"{MINI}/quiz")
    data = {**hidden, **right_answers(module)}
    first = client.post(f"{MINI}/quiz", data=data)
    second = client.post(f"{MINI}/quiz", data={**data, "q.single": "a"})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert "Score: 100%" in client.get(second.headers["Location"]).data.decode()
    assert count(mini_app, QuizAttempt) == 1
    with mini_app.app_context():
        assert (
            db.session.scalar(select(func.count()).where(Statement.verb.in_(("passed", "failed"))))
            == 1
        )


def test_the_service_stores_a_token_once(mini_app: Flask) -> None:
    module = module_of(mini_app, "mini", "kinds")
    with mini_app.test_request_context():
        course = catalogue().course("mini")
        state = services.new_state(module, seed=3)
        later = state.started_at + timedelta(seconds=95)
        attempt, stored = services.submit("g:x", course, module, "en", state, {}, now=later)
        db.session.commit()
        again, stored_again = services.submit("g:x", course, module, "en", state, {"single": "b"})
        assert stored and not stored_again and again.id == attempt.id
        assert attempt.duration_seconds == 95


def test_the_service_returns_the_attempt_as_stored_and_stores_it_once(mini_app: Flask) -> None:
    module = module_of(mini_app, "mini", "kinds")
    with mini_app.test_request_context():
        course = catalogue().course("mini")
        state = services.new_state(module, seed=5)
        answers = {"single": "b", "tf": "true"}
        attempt, stored = services.submit("g:y", course, module, "it", state, answers)
        db.session.commit()
        # The returned attempt is the row: same id and values, and committing again (or
        # flushing other work) never inserts it a second time.
        db.session.commit()
        row = db.session.get(QuizAttempt, attempt.id)
        assert stored and row is not None
        assert (row.token, row.learner, row.language, row.answers, row.question_order) == (
            state.token,
            "g:y",
            "en",
            answers,
            state.order,
        )
        assert (row.score, row.scores, row.passed, row.pass_mark) == (
            attempt.score,
            attempt.scores,
            attempt.passed,
            75,
        )
        assert row.submitted_at == attempt.submitted_at and 0 < row.score < 1
        assert count(mini_app, QuizAttempt) == 1


# --- refused forms ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        {"q.single": "zz"},  # unknown option
        {"q.single": ["a", "b"]},  # two answers to a single choice
        {"q.multi": ["a", "a"]},
        {"q.multi": ["a", "x"]},
        {"q.nope": "a"},  # a question that does not exist
        {"q.gaps.g9": "x"},
        {"q.match.a": "c0000000000"},  # unknown matching choice
        {"q.match.a": "physical"},  # the text instead of the id
        {"q.capital": "x" * 2001},  # oversized
        {"q.year": ["1", "2"]},
        {"extra": "1"},
    ],
    ids=lambda t: next(iter(t)),
)
def test_tampered_answers_get_a_clear_400_and_store_nothing(mini_app: Flask, tamper: dict) -> None:
    client = mini_app.test_client()
    response, _ = submit(client, MINI, tamper)
    assert response.status_code == 400
    assert "These answers could not be read" in response.data.decode()
    assert "Nothing was saved" in response.data.decode()
    assert count(mini_app, QuizAttempt) == 0 and count(mini_app, Statement) == 0


def test_a_forged_or_foreign_attempt_state_is_refused(mini_app: Flask, quiz_app: Flask) -> None:
    client = mini_app.test_client()
    _, hidden = page_form(client, f"{MINI}/quiz")
    forged = hidden[services.STATE_FIELD][:-3] + "abc"
    assert client.post(f"{MINI}/quiz", data={**hidden, "attempt": forged}).status_code == 400
    assert client.post(f"{MINI}/quiz", data={**hidden, "attempt": ""}).status_code == 400
    state = services.new_state(module_of(quiz_app, "trial", "first-steps"))
    other = services.dump_state(state, mini_app.config["SECRET_KEY"])
    assert client.post(f"{MINI}/quiz", data={**hidden, "attempt": other}).status_code == 400
    assert count(mini_app, QuizAttempt) == 0


def test_the_400_page_speaks_italian_and_csrf_is_required(mini_app: Flask) -> None:
    client = mini_app.test_client()
    _, hidden = page_form(client, "/it/mini/kinds/quiz")
    response = client.post("/it/mini/kinds/quiz", data={**hidden, "q.single": "zz"})
    assert response.status_code == 400
    assert "Non è stato possibile leggere queste risposte" in response.data.decode()
    no_csrf = {k: v for k, v in hidden.items() if k != "csrf_token"}
    assert client.post("/it/mini/kinds/quiz", data=no_csrf).status_code == 400
    assert count(mini_app, QuizAttempt) == 0


def test_another_learners_attempt_is_not_shown(mini_app: Flask) -> None:
    ada = mini_app.test_client()
    response, _ = submit(ada, MINI, {})
    url = response.headers["Location"]
    assert ada.get(url).status_code == 200
    assert mini_app.test_client().get(url).status_code == 404
    assert ada.get(f"{MINI}/quiz/attempts/nope").status_code == 404


# --- module page, Italian ---------------------------------------------------------------------


def test_the_module_page_links_to_the_quiz_with_its_size_and_best_score(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    module = module_of(quiz_app, "trial", "first-steps")
    page = client.get(f"{BASICS}/").data.decode()
    assert f'href="{BASICS}/quiz"' in page and "Test yourself" in page
    assert f"{len(module.questions)} questions" in page
    assert "Take the self-assessment quiz" in page
    assert "data-quiz-best" not in page
    submit(client, BASICS, right_answers(module))
    page = client.get(f"{BASICS}/").data.decode()
    assert "Best score: 100%" in page
    it = client.get("/it/trial/first-steps/").data.decode()
    assert "Mettiti alla prova" in it and "Miglior punteggio: 100%" in it


def test_the_quiz_and_review_pages_speak_italian(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    url = "/it/trial/first-steps"
    module = module_of(quiz_app, "trial", "first-steps", "it")
    html, _ = page_form(client, f"{url}/quiz")
    assert "Domanda 1 di 11" in html and "Verifica le risposte" in html
    assert module.questions[0].text in html
    response, _ = submit(client, url, {})
    review = client.get(response.headers["Location"]).data.decode()
    assert "Punteggio: 0%" in review and "Riprova" in review and "Nessuna risposta" in review


# --- guests, accounts, privacy ----------------------------------------------------------------


def test_guest_attempts_move_to_the_account_and_are_exported_and_deleted(quiz_app: Flask) -> None:
    client = quiz_app.test_client()
    module = module_of(quiz_app, "trial", "first-steps")
    submit(client, BASICS, right_answers(module))
    register(client, "ada@example.org")
    with quiz_app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        assert attempt.learner == "u:1"
        assert db.session.scalar(select(ModuleProgress.best_score)) == 1.0
    page = client.get(f"{BASICS}/quiz").data.decode()
    assert "Best score: 100%" in page
    exported = client.get("/en/me/export.json").get_json()
    (row,) = exported["quiz_attempts"]
    assert row["module"] == "first-steps" and row["score"] == 1.0 and row["passed"]
    token = csrf_from(client, "/en/me/delete")
    client.post("/en/me/delete", data={"csrf_token": token, "password": PASSWORD})
    assert count(quiz_app, QuizAttempt) == 0


# --- GIFT download ----------------------------------------------------------------------------


def test_trainers_download_the_module_as_gift_others_get_403(quiz_app: Flask) -> None:
    url = f"{BASICS}/quiz.gift"
    guest = quiz_app.test_client()
    assert guest.get(url).status_code == 403
    assert "Download these questions as GIFT" not in guest.get(f"{BASICS}/quiz").data.decode()
    learner = quiz_app.test_client()
    register(learner, "lea@example.org")
    assert learner.get(url).status_code == 403
    with quiz_app.app_context():
        accounts.create_user("tom@example.org", PASSWORD, "Tom", role="trainer")
        db.session.commit()
    trainer = quiz_app.test_client()
    login(trainer, "tom@example.org")
    assert "Download these questions as GIFT" in trainer.get(f"{BASICS}/quiz").data.decode()
    response = trainer.get(url)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert "attachment" in response.headers["Content-Disposition"]
    module = module_of(quiz_app, "trial", "first-steps")
    back = parse_gift(response.data.decode())
    assert [q.id for q in back][:5] == [q.id for q in module.questions][:5]


def test_attempts_list_survives_content_edits(tmp_path: Path, content_copy: Path) -> None:
    """A question removed after the page was shown is left out, not a reason to refuse."""
    app = make_app(tmp_path, content_copy)
    client = app.test_client()
    module = module_of(app, "trial", "first-steps")
    _, hidden = page_form(client, f"{BASICS}/quiz")
    for lang in ("en", "it"):  # both languages must keep the same question ids
        path = content_copy / "trial" / "01-first-steps" / f"{lang}.md"
        text = path.read_text(encoding="utf-8")
        start = text.index("\n9. ") + 1
        end = text.index("```", start)
        path.write_text(text[:start] + text[end:], encoding="utf-8")
    response = client.post(f"{BASICS}/quiz", data={**hidden, **right_answers(module)})
    assert response.status_code == 303
    with app.app_context():
        attempt = db.session.scalar(select(QuizAttempt))
        assert "q-tf-last" not in attempt.scores and attempt.score == 1.0


def test_two_simultaneous_submissions_of_one_attempt_store_it_once(mini_app: Flask) -> None:
    module = module_of(mini_app, "mini", "kinds")
    state = services.new_state(module)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def submit_once() -> None:
        with mini_app.test_request_context():
            course = catalogue().course("mini")
            barrier.wait()
            _, stored = services.submit("g:same", course, module, "en", state, {"single": "b"})
            db.session.commit()
            results.append(stored)

    threads = [threading.Thread(target=submit_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert count(mini_app, QuizAttempt) == 1
    with mini_app.app_context():
        verbs = db.session.scalars(select(Statement.verb).order_by(Statement.id)).all()
        assert verbs == ["attempted", "failed"]
