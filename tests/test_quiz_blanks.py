"""Questions left blank: flagged before the attempt is sent, counted on the result page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.content.loader import load_catalogue
from tests.browser import chromium, serve
from tests.conftest import CONTENT, make_app

COURSE = load_catalogue(CONTENT).courses["trial"]
MODULE = COURSE.module("first-steps", "en")[0]
TOTAL = len([q for q in MODULE.questions if q.is_graded])
FIRST, SECOND = MODULE.questions[0], MODULE.questions[1]


def best_option(question) -> str:
    return max(question.options, key=lambda o: o.fraction).id


def send(client: FlaskClient, lang: str, answers: dict[str, str]) -> str:
    """Take the quiz without JavaScript, as a form post; the result page's HTML."""
    url = f"/{lang}/trial/first-steps/quiz"
    html = client.get(url).data.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    response = client.post(url, data={**hidden, **answers})
    assert response.status_code == 303
    return client.get(response.headers["Location"]).data.decode()


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    return make_app(tmp_path, CONTENT).test_client()


def test_without_javascript_the_result_page_counts_and_lists_the_blanks(
    client: FlaskClient,
) -> None:
    html = send(client, "en", {f"q.{FIRST.id}": best_option(FIRST)})
    blanks = TOTAL - 1
    assert f'data-blanks="{blanks}"' in html
    assert f"{blanks} questions were left blank:" in html
    assert f'href="#question-{SECOND.id}"' in html and f'href="#question-{FIRST.id}"' not in html
    assert html.count("data-blank>") == blanks
    reviewed_second = re.search(rf'id="question-{SECOND.id}".*?</h2>', html, re.S).group(0)
    assert "not answered" in reviewed_second


def test_in_italian_with_nothing_answered(client: FlaskClient) -> None:
    html = send(client, "it", {})
    assert f"{TOTAL} domande sono state lasciate in bianco:" in html
    assert "senza risposta" in html


def test_an_attempt_with_every_question_answered_says_nothing_of_blanks(
    client: FlaskClient,
) -> None:
    from tests.test_quizzes import right_answers

    html = send(client, "en", right_answers(MODULE))
    assert "data-blanks" not in html and "left blank" not in html


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app: Flask = make_app(tmp_path_factory.mktemp("blanks"), CONTENT)
    with serve(app) as url:
        yield url


@pytest.mark.browser
def test_in_chromium_blanks_are_flagged_announced_and_the_learner_may_still_send(
    site: str,
) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(f"{site}/en/trial/first-steps/quiz")
        page.locator(f'input[name="q.{FIRST.id}"][value="{best_option(FIRST)}"]').check()
        page.get_by_role("button", name="Check my answers", exact=True).click()

        # Not sent: the list of blanks has the focus and its message is an alert.
        summary = page.locator("[data-unanswered-summary]")
        summary.wait_for(state="visible")
        assert page.evaluate("document.activeElement.hasAttribute('data-unanswered-summary')")
        assert "/quiz/attempts/" not in page.url
        alert = page.get_by_role("alert")
        assert "Some questions have no answer yet" in alert.inner_text()
        assert summary.locator("li a").count() == TOTAL - 1
        assert summary.locator(f'a[href="#question-{FIRST.id}"]').count() == 0
        second = page.locator(f"#question-{SECOND.id}")
        assert "is-unanswered" in (second.get_attribute("class") or "")
        # The flag is part of the question's description for a screen reader.
        described = second.locator("fieldset").get_attribute("aria-describedby") or ""
        note = page.locator(f"#question-{SECOND.id}-unanswered")
        assert note.get_attribute("id") in described.split()
        assert note.inner_text() == "Not answered yet"

        # Answering a flagged question takes its flag away.
        page.locator(f'input[name="q.{SECOND.id}"][value="{best_option(SECOND)}"]').check()
        page.wait_for_function(
            f"!document.querySelector('#question-{SECOND.id}').classList.contains('is-unanswered')"
        )
        assert summary.locator("li a").count() == TOTAL - 2
        assert note.count() == 0

        # The learner sends the attempt as it is; the result page counts what was blank.
        page.get_by_role("button", name="Check my answers as they are").click()
        page.wait_for_url("**/quiz/attempts/*")
        assert page.locator("[data-blanks]").get_attribute("data-blanks") == str(TOTAL - 2)
        context.close()
