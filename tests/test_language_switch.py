"""The language switch keeps the page the learner is on (and its #section), on every page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.accounts import services as accounts
from app.extensions import db
from tests.browser import chromium, serve
from tests.conftest import CONTENT, make_app
from tests.helpers import PASSWORD, csrf_from, signed_in

MODULE = "/it/trial/first-steps"


def switch(html: str) -> dict[str, tuple[str, bool]]:
    """The switch's links by language: (href, whether the browser carries the #section over)."""
    nav = re.search(r'<nav class="language-switch".*?</nav>', html, re.S)
    assert nav, "the page has no language switch"
    links = {}
    for tag in re.findall(r"<a [^>]*>", nav.group(0)):
        code = re.search(r'hreflang="([^"]+)"', tag).group(1)
        href = unescape(re.search(r'href="([^"]*)"', tag).group(1))
        links[code] = (href, "data-keep-hash" in tag)
    return links


def english(client: FlaskClient, url: str, status: int = 200) -> tuple[str, bool]:
    """Where the English entry of `url`'s switch leads."""
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return switch(response.data.decode())["en"]


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The fixture course, with a learner and a trainer."""
    app = make_app(tmp_path, CONTENT)
    with app.app_context():
        accounts.create_user("lea@example.org", PASSWORD, "Lea", "learner")
        accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        db.session.commit()
    return app


def attempt_url(client: FlaskClient) -> str:
    """Submit the module's quiz with nothing answered; the review page's address."""
    html = client.get(f"{MODULE}/quiz").data.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
    response = client.post(f"{MODULE}/quiz", data=hidden)
    assert response.status_code == 303
    return response.headers["Location"]


def test_every_learner_page_switches_to_itself_in_the_other_language(app: Flask) -> None:
    learner = signed_in(app, "lea@example.org")
    review = attempt_url(learner)
    assert review.startswith(f"{MODULE}/quiz/attempts/")
    pages = [
        "/it/",
        "/it/trial/",
        f"{MODULE}/",
        f"{MODULE}/quiz",
        review,
        "/it/me/",
        "/it/me/password",
        "/it/me/delete",
    ]
    for url in pages:
        assert english(learner, url) == ("/en/" + url[len("/it/") :], True), url
    # The catalogue at the root has no language in its address.
    assert english(learner, "/") == ("/en/", True)


def test_guest_and_trainer_pages_keep_the_page_and_its_query(app: Flask) -> None:
    guest = app.test_client()
    assert english(guest, "/it/register") == ("/en/register", True)
    # A sign-in asked for by a page in Italian continues to that page in English.
    assert english(guest, "/it/login?next=/it/me/") == ("/en/login?next=%2Fen%2Fme%2F", True)
    trainer = signed_in(app, "tina@example.org")
    for url in ("/it/trainer/content/", "/it/trainer/groups/", "/it/trainer/studio/"):
        assert english(trainer, url) == ("/en/" + url[len("/it/") :], True), url


def test_a_form_shown_again_after_a_post_switches_to_the_form(app: Flask) -> None:
    guest = app.test_client()
    token = csrf_from(guest, "/it/login")
    response = guest.post(
        "/it/login", data={"csrf_token": token, "email": "lea@example.org", "password": "wrong"}
    )
    assert response.status_code in (200, 401)
    assert switch(response.data.decode())["en"] == ("/en/login", True)


def test_a_page_the_other_language_lacks_falls_back_to_its_nearest_parent(app: Flask) -> None:
    guest = app.test_client()
    # No such module: the course in the other language; no such course: the catalogue.
    assert english(guest, "/it/trial/no-such-module/", 404) == ("/en/trial/", False)
    assert english(guest, "/it/trial/no-such-module/quiz", 404) == ("/en/trial/", False)
    assert english(guest, "/it/no-such-course/", 404) == ("/en/", False)
    # An address no route knows, and a GET of a POST-only route: the catalogue.
    assert english(guest, "/it/trial/first-steps/x/y/z", 404) == ("/en/", False)
    assert english(guest, f"{MODULE}/progress", 405) == ("/en/", False)


def test_a_page_without_a_language_in_its_address_switches_by_query(app: Flask) -> None:
    guest = app.test_client()
    response = guest.get("/verify/NOSUCHCODE", headers={"Accept-Language": "it"})
    assert response.status_code == 404
    href, keeps = switch(response.data.decode())["en"]
    assert (href, keeps) == ("/verify/NOSUCHCODE?lang=en", True)
    english_page = guest.get(href, headers={"Accept-Language": "it"}).data.decode()
    assert '<html lang="en">' in english_page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a loopback port, with a learner to sign in as."""
    app = make_app(tmp_path_factory.mktemp("switch"), CONTENT)
    with app.app_context():
        accounts.create_user("lea@example.org", PASSWORD, "Lea", "learner")
        db.session.commit()
    with serve(app) as url:
        yield url


@pytest.mark.browser
def test_in_chromium_the_switch_keeps_the_page_and_its_anchor(site: str) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(f"{site}/en/trial/first-steps/quiz#question-q-tf-last")
        page.locator('.language-switch a[hreflang="it"]').click()
        page.wait_for_url("**/it/trial/first-steps/quiz#question-q-tf-last")
        assert page.locator("html").get_attribute("lang") == "it"
        page.goto(f"{site}/it/login?next=/it/trial/")
        page.locator('.language-switch a[hreflang="en"]').click()
        page.wait_for_url("**/en/login?next=%2Fen%2Ftrial%2F")
        page.fill("input[name=email]", "lea@example.org")
        page.fill("input[name=password]", PASSWORD)
        page.locator("form button[type=submit], form input[type=submit]").first.click()
        page.wait_for_url("**/en/trial/")
        page.goto(f"{site}/en/me/#certificates")
        page.locator('.language-switch a[hreflang="it"]').click()
        page.wait_for_url("**/it/me/#certificates")
        context.close()
