"""First-time visitors' pages answered before Flask (app/pages.py GuestPages), and when not."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app.content.catalog import EXTENSION_KEY as CONTENT_KEY
from app.pages import GuestPages
from tests.conftest import make_app
from tests.helpers import Counting, register, write_mini_course

PAGE = "/it/mini/one/"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Flask, Path, Counting, list[float]]:
    """The mini course with a 10 s recheck interval and a clock the test moves."""
    content = tmp_path / "content"
    write_mini_course(content)
    app = make_app(tmp_path, content, CONTENT_RECHECK_SECONDS=10)
    now = [1000.0]
    app.extensions[CONTENT_KEY].clock = lambda: now[0]
    guest_pages = app.wsgi_app
    assert isinstance(guest_pages, GuestPages)
    flask_side = guest_pages.app = Counting(guest_pages.app)
    return app, content, flask_side, now


def test_a_first_time_visitor_is_answered_from_memory_with_the_same_bytes(site) -> None:
    """The second visitor's request never reaches Flask: same status, headers and bytes."""
    app, _, flask_side, _ = site
    first = app.test_client().get(PAGE)
    second = app.test_client().get(PAGE)
    assert first.status_code == second.status_code == 200
    assert flask_side.calls == 1
    assert second.data == first.data and "Primo" in second.text
    assert dict(second.headers) == dict(first.headers)
    assert "Set-Cookie" not in second.headers and second.headers["Vary"] == "Cookie"
    assert "Content-Security-Policy" in second.headers


def test_anyone_with_a_cookie_a_query_or_a_post_goes_to_flask(site) -> None:
    """A session, a sign-in, a query string or another method is never answered from memory."""
    app, _, flask_side, _ = site
    app.test_client().get(PAGE)
    learner = app.test_client()
    register(learner, "ada@example.org", lang="it")
    calls = flask_side.calls
    page = learner.get(PAGE)
    assert "/it/logout" in page.text  # the learner's own page, not the guest's bytes
    assert app.test_client().get(PAGE + "?x=1").status_code == 200
    assert app.test_client().head(PAGE).status_code == 200
    assert flask_side.calls == calls + 3


def test_an_edit_reaches_first_time_visitors_after_the_recheck_interval(site) -> None:
    """Within the interval the page as it was (like every learner's); after it, the edit."""
    app, content, flask_side, now = site
    assert "Primo" in app.test_client().get(PAGE).text
    source = content / "mini" / "01-one" / "it.md"
    source.write_text(source.read_text().replace("## Primo", "## Rivisto"), encoding="utf-8")
    now[0] += 9
    assert "Primo" in app.test_client().get(PAGE).text
    now[0] += 2
    assert "Rivisto" in app.test_client().get(PAGE).text
    assert "Rivisto" in app.test_client().get(PAGE).text
    assert flask_side.calls == 2


def test_error_pages_and_pages_setting_a_cookie_are_never_kept(site) -> None:
    """A 404 or a page that starts a session is asked of Flask every time."""
    app, _, flask_side, _ = site
    for _ in range(2):
        assert app.test_client().get("/it/mini/nowhere/").status_code == 404
        assert app.test_client().get("/it/login").status_code == 200  # starts a session (CSRF)
    assert flask_side.calls == 4


def test_zero_interval_turns_it_off(tmp_path: Path) -> None:
    """Tests and sites that re-check content on every request get Flask on every request."""
    content = tmp_path / "content"
    write_mini_course(content)
    app = make_app(tmp_path, content)  # tests: CONTENT_RECHECK_SECONDS = 0
    guest_pages = app.wsgi_app
    assert isinstance(guest_pages, GuestPages)
    flask_side = guest_pages.app = Counting(guest_pages.app)
    for _ in range(3):
        app.test_client().get(PAGE)
    assert flask_side.calls == 3
