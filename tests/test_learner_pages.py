"""Signed-in learners' pages answered again before Flask (app/pages.py LearnerPages).

Only while nothing the page shows has changed: a write by another server process (a second
app on the same database), a sign-out, a new role, another learner, a flashed message or a
content edit each reach the learner's very next request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.accounts.admin import set_role
from app.accounts.models import User
from app.content.catalog import EXTENSION_KEY as CONTENT_KEY
from app.extensions import db
from app.pages import LearnerPages
from tests.conftest import make_app, second_server
from tests.fixture_course import write_course
from tests.helpers import Counting, register

pytestmark = pytest.mark.db

PAGE = "/it/demo/m1/"
COURSE = "/it/demo/"


@dataclass
class Site:
    """One server process under test, a second one on the same database, the test's clock."""

    app: Flask
    other: Flask
    flask_side: Counting
    now: list[float]
    content: Path


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The demo course with a 10 s recheck interval, served by two apps sharing one database."""
    content = write_course(tmp_path / "content", modules=2)
    app = make_app(tmp_path, content, CONTENT_RECHECK_SECONDS=10)
    now = [1000.0]
    app.extensions[CONTENT_KEY].clock = lambda: now[0]
    learner_pages = app.wsgi_app.app  # type: ignore[attr-defined]  # inside GuestPages
    assert isinstance(learner_pages, LearnerPages)
    flask_side = Counting(learner_pages.app)
    learner_pages.app = flask_side
    other = second_server(app, content, tmp_path)
    return Site(app, other, flask_side, now, content)


def learner(site: Site, email: str) -> FlaskClient:
    """A learner signed up through the real form, whose page is already kept in memory."""
    client = site.app.test_client()
    register(client, email, lang="it")
    for _ in range(3):  # the flashed welcome, the first sight of the path, the kept answer
        assert client.get(PAGE).status_code == 200
    return client


def on(app: Flask, client: FlaskClient) -> FlaskClient:
    """The same browser (the same cookies) talking to another server process."""
    copy = app.test_client()
    for cookie in client._cookies.values():  # noqa: SLF001  (the test client keeps no API)
        copy.set_cookie(cookie.key, cookie.value)
    return copy


def token(html: str) -> str:
    """The CSRF token a page carries."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def read_first_section(client: FlaskClient, csrf: str) -> None:
    """The page's script reporting the first section read."""
    response = client.post(
        f"{PAGE}progress",
        json={"verb": "section-read", "section": "first", "seconds": 600},
        headers={"X-CSRFToken": csrf},
    )
    assert response.status_code == 200


def test_a_learners_page_comes_from_memory_while_nothing_changed(site: Site) -> None:
    """Same bytes and headers as Flask gave, without asking Flask again."""
    ada = learner(site, "ada@example.org")
    calls = site.flask_side.calls
    first, second = ada.get(PAGE), ada.get(PAGE)
    assert site.flask_side.calls == calls
    assert first.status_code == second.status_code == 200
    assert first.data == second.data and "/it/logout" in first.text
    assert "Set-Cookie" not in second.headers and "Content-Security-Policy" in second.headers


def test_progress_written_by_another_server_process_shows_at_once(site: Site) -> None:
    """A beacon and a quiz answered by the second app: the first app's next page shows them."""
    ada = learner(site, "ada@example.org")
    page = ada.get(PAGE).text
    assert "read-mark" not in page and "data-quiz-best" not in page
    elsewhere = on(site.other, ada)
    read_first_section(elsewhere, token(page))  # the kept page's token posts fine
    page = ada.get(PAGE).text
    assert page.count("read-mark") == 1
    quiz = elsewhere.get(f"{PAGE}quiz").text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', quiz))
    assert elsewhere.post(f"{PAGE}quiz", data=fields).status_code == 303
    page = ada.get(PAGE).text
    assert "data-quiz-best" in page and page.count("read-mark") == 1
    # The course page too, and then both are kept again until the next change.
    assert "1 sezioni lette su 2" in ada.get(COURSE).text
    calls = site.flask_side.calls
    assert ada.get(PAGE).text == page
    assert site.flask_side.calls == calls


def test_learners_never_get_each_others_page(site: Site) -> None:
    """Each learner's own ticks and own CSRF token, whatever was kept for the other."""
    ada = learner(site, "ada@example.org")
    bob = learner(site, "bob@example.org")
    read_first_section(ada, token(ada.get(PAGE).text))
    ada_page, bob_page = ada.get(PAGE).text, bob.get(PAGE).text
    assert ada_page.count("read-mark") == 1 and "read-mark" not in bob_page
    assert token(ada_page) != token(bob_page)
    assert ada.get(PAGE).text == ada_page and bob.get(PAGE).text == bob_page


def test_signing_out_on_another_server_ends_the_kept_page_of_every_copy(site: Site) -> None:
    """A copy of the session cookie taken before sign-out gets the signed-out page next."""
    ada = learner(site, "ada@example.org")
    stolen = on(site.app, ada)
    assert "/it/logout" in stolen.get(PAGE).text
    elsewhere = on(site.other, ada)
    csrf = token(ada.get(PAGE).text)
    assert elsewhere.post("/it/logout", data={"csrf_token": csrf}).status_code == 302
    page = stolen.get(PAGE).text
    assert "/it/logout" not in page and "/it/login" in page


def test_a_new_role_shows_on_the_next_page(site: Site) -> None:
    """Made a trainer by an admin on another server: the trainer links appear at once."""
    ada = learner(site, "ada@example.org")
    assert "/it/trainer/" not in ada.get(PAGE).text
    with site.other.app_context():
        user = db.session.scalars(db.select(User).filter_by(email="ada@example.org")).one()
        set_role(user, "trainer")
        db.session.commit()
    assert "/it/trainer/" in ada.get(PAGE).text


def test_a_flashed_message_is_shown_once(site: Site) -> None:
    """A session holding a message always goes to Flask, which shows it and takes it out."""
    learner(site, "bob@example.org")  # the page is known and kept for someone
    ada = site.app.test_client()
    register(ada, "ada@example.org", lang="it")
    first, second = ada.get(PAGE).text, ada.get(PAGE).text
    assert "Ada" in first and 'class="flashes"' in first
    assert 'class="flashes"' not in second


def test_a_content_edit_shows_after_the_recheck_interval(site: Site) -> None:
    """Within the interval the page as it was (as for first-time visitors); after it, the edit."""
    ada = learner(site, "ada@example.org")
    source = site.content / "demo" / "01-m1" / "it.md"
    source.write_text(source.read_text().replace("Testo uno.", "Testo rivisto."), "utf-8")
    site.now[0] += 9
    assert "Testo uno." in ada.get(PAGE).text
    site.now[0] += 2
    assert "Testo rivisto." in ada.get(PAGE).text


def test_an_unreadable_stamp_leaves_the_page_to_flask(site: Site) -> None:
    """If the learner's rows cannot be read up front, Flask answers as it would anyway."""
    ada = learner(site, "ada@example.org")
    learner_pages = site.app.wsgi_app.app  # type: ignore[attr-defined]

    def unreadable(*_args: object) -> object:
        raise OSError("disk I/O error")

    learner_pages.read_stamp = unreadable
    calls = site.flask_side.calls
    page = ada.get(PAGE)
    assert page.status_code == 200 and "/it/logout" in page.text
    assert site.flask_side.calls == calls + 1


def test_a_page_built_from_the_stamps_rows_is_the_page_built_from_its_own_query(
    site: Site,
) -> None:
    """After a write the view reuses the rows LearnerPages read up front: the same bytes."""
    ada = learner(site, "ada@example.org")
    assert ada.get(COURSE).status_code == 200  # known as a learner's page from now on
    csrf = token(ada.get(PAGE).text)
    read_first_section(ada, csrf)
    audio = {"verb": "audio-progressed", "section": "first", "position": 12.5}
    audio |= {"listened": 10, "duration": 600}
    assert ada.post(f"{PAGE}progress", json=audio, headers={"X-CSRFToken": csrf}).status_code
    quiz = ada.get(f"{PAGE}quiz").text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', quiz))
    assert ada.post(f"{PAGE}quiz", data=fields).status_code == 303
    learner_pages = site.app.wsgi_app.app  # type: ignore[attr-defined]
    seen: list[object] = []
    reader = learner_pages.read_stamp

    def spy(*args: object) -> object:
        seen.append(stamp := reader(*args))
        return stamp

    learner_pages.read_stamp = spy
    from_stamp = {url: ada.get(url).data for url in (PAGE, COURSE)}
    assert len(seen) == 2  # both views came with their rows read up front
    # A stamp the views cannot read rows from: each reads the rows itself.
    learner_pages.read_stamp = lambda *args: ("opaque", reader(*args))
    from_query = {url: ada.get(url).data for url in (PAGE, COURSE)}
    assert from_stamp == from_query
    page, course = from_stamp[PAGE].decode(), from_stamp[COURSE].decode()
    assert page.count("read-mark") == 1 and "data-quiz-best" in page
    assert 'data-resume-position="12.5"' in page
    assert "data-continue" in course and "1 sezioni lette su 2" in course
