"""A quiz in headless Chromium: a wrong answer, feedback and score, retry, pass, progress shown."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from app.content.loader import load_catalogue
from app.content.questions import Question, QuestionType
from app.quizzes.services import choice_id
from tests.browser import chromium, serve
from tests.conftest import CONTENT, make_app

pytestmark = pytest.mark.browser

COURSE = load_catalogue(CONTENT).courses["trial"]
MODULE = COURSE.module("first-steps", "en")[0]
PATH = "/en/trial/first-steps"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a loopback port, in a thread."""
    app = make_app(tmp_path_factory.mktemp("quiz-browser"), CONTENT)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium; Playwright never downloads a browser of its own here."""
    with chromium() as browser:
        yield browser


def answer_right(page, question: Question) -> None:
    """Answer one question right, the way a learner would."""
    name = f"q.{question.id}"
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
        best = max(question.options, key=lambda o: o.fraction)
        page.locator(f'input[name="{name}"][value="{best.id}"]').check()
    elif question.type is QuestionType.MULTIPLE_CHOICE:
        for option in question.options:
            box = page.locator(f'input[name="{name}"][value="{option.id}"]')
            box.check() if option.correct else box.uncheck()
    elif question.type is QuestionType.GAP_FILL:
        for gap in question.gaps:
            page.locator(f'input[name="{name}.{gap.id}"]').fill(gap.answers[0])
    elif question.type is QuestionType.MATCHING:
        for pair in question.pairs:
            if not pair.is_distractor:
                page.select_option(f'select[name="{name}.{pair.id}"]', choice_id(pair.answer))
    else:  # pragma: no cover - the course has no other kinds
        raise AssertionError(question.type)


def test_wrong_answer_feedback_retry_pass_and_progress(browser, server: str) -> None:
    hosts: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or ""))

    # The module page leads to the quiz; no score yet.
    page.goto(f"{server}{PATH}/")
    panel = page.locator(".panel-quiz")
    assert "Test yourself" in panel.inner_text() and "11 questions" in panel.inner_text()
    assert page.locator("[data-quiz-best]").count() == 0
    panel.get_by_role("link", name="Test yourself").click()
    page.wait_for_url(f"**{PATH}/quiz")
    assert page.get_by_role("group", name="Question 1 of 11").is_visible()

    # First attempt: a few answers, the first one wrong, chosen with the keyboard.
    first = MODULE.questions[0]
    wrong = next(o for o in first.options if not o.correct)
    radio = page.locator(f'input[name="q.{first.id}"][value="{wrong.id}"]')
    radio.focus()
    page.keyboard.press("Space")
    assert radio.is_checked()
    # Labels are clickable and tied to their input.
    assert page.get_by_label(wrong.text, exact=True).is_checked()
    for question in MODULE.questions[1:5]:
        answer_right(page, question)
    page.get_by_role("button", name="Check my answers", exact=True).click()
    # Six questions are still blank: the page says so once, then sends the attempt as it is.
    page.get_by_role("button", name="Check my answers as they are").click()
    page.wait_for_url("**/quiz/attempts/*")
    assert page.locator("[data-score]").get_attribute("data-score") == str(round(400 / 11))
    assert "Not passed yet" in page.locator(".quiz-verdict").inner_text()
    reviewed = page.locator(f"#question-{first.id}")
    assert reviewed.get_attribute("data-outcome") == "wrong"
    assert wrong.feedback[:40] in reviewed.locator("[data-feedback]").inner_text()
    assert first.general_feedback[:40] in reviewed.locator("[data-general-feedback]").inner_text()
    right = next(o for o in first.options if o.correct)
    assert right.text[:40] in reviewed.locator("[data-right]").inner_text()
    assert page.locator('[data-outcome="right"]').count() == 4

    # Retry: everything right this time.
    page.locator("[data-retry]").first.click()
    page.wait_for_url(f"**{PATH}/quiz")
    assert "Best score: 36%" in page.locator(".quiz-header").inner_text()
    for question in MODULE.questions:
        answer_right(page, question)
    page.get_by_role("button", name="Check my answers", exact=True).click()
    page.wait_for_url("**/quiz/attempts/*")
    assert page.locator("[data-score]").get_attribute("data-score") == "100"
    assert page.locator("[data-passed]").get_attribute("data-passed") == "true"
    assert page.locator('[data-outcome="right"]').count() == 11
    assert page.locator(".quiz-attempts tbody tr").count() == 2

    # The module's progress shows it: side panel, then the dashboard.
    page.goto(f"{server}{PATH}/")
    assert "Best score: 100%" in page.locator("[data-quiz-best]").inner_text()
    assert page.locator("[data-quiz-best] .badge-done").count() == 1  # passed
    page.goto(f"{server}/en/me/")
    row = page.locator('tr[data-module="first-steps"]')
    assert "100%" in row.inner_text()
    context.close()
    assert set(hosts) == {"127.0.0.1"}


def test_the_quiz_page_fits_a_phone_held_sideways(browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 844, "height": 390})
    page = context.new_page()
    page.goto(f"{server}{PATH}/quiz")
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    # Tab reaches the first answer of the first question.
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.name || ''")
        if focused.startswith("q."):
            break
    assert focused == f"q.{MODULE.questions[0].id}"
    context.close()
