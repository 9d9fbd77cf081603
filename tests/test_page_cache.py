"""Shared pages are rendered once; each learner's own parts are filled in per request."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from jinja2 import ChoiceLoader, DictLoader

from app.builds import rebuild_pdf
from app.content.catalog import EXTENSION_KEY as CONTENT_KEY
from app.pages import PageState, page_cache, render_page
from tests.conftest import make_app
from tests.helpers import beacon, csrf_from, register, write_mini_course

PAGE = "/it/mini/one/"


@pytest.fixture
def mini(tmp_path: Path) -> tuple[Flask, Path]:
    content = tmp_path / "content"
    write_mini_course(content)
    return make_app(tmp_path, content), content


def token_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]*)"', html)
    assert match
    return match.group(1)


def test_a_module_page_is_rendered_once_for_guests_and_learners(mini) -> None:
    app, _ = mini
    guest, other, learner = app.test_client(), app.test_client(), app.test_client()
    register(learner, "ada@example.org", lang="it")
    cache = page_cache(app)
    before = cache.renders
    pages = [c.get(PAGE) for c in (guest, other, learner, guest)]
    assert [p.status_code for p in pages] == [200] * 4
    assert cache.renders == before + 1
    assert all("Primo" in p.text for p in pages)
    # Guests see the sign-in links, the learner the sign-out form: one cached page for both.
    assert "/it/login?next=/it/mini/one/" in pages[0].text
    assert "/it/logout" in pages[2].text and "/it/login?" not in pages[2].text


def test_first_time_visitors_share_the_same_bytes_and_get_no_session(mini) -> None:
    app, _ = mini
    first, second = app.test_client(), app.test_client()
    one, two = first.get(PAGE), second.get(PAGE)
    assert one.data == two.data
    assert token_of(one.text) == ""
    assert "Set-Cookie" not in one.headers
    assert one.headers["Vary"] == "Cookie"  # a shared cache must not hand it to a learner


def test_each_visitor_gets_a_csrf_token_that_works_for_their_own_session(mini) -> None:
    app, _ = mini
    first, second = app.test_client(), app.test_client()
    first.get(PAGE)
    # What the page's script does before its first beacon.
    asked = first.get("/csrf-token")
    assert asked.headers["Cache-Control"] == "no-store"
    token_a = asked.get_json()["token"]
    # From now on the page carries it: the same session token, signed again (itsdangerous puts
    # the time in the signed form, so a render a second later differs after the first dot).
    on_page = token_of(first.get(PAGE).text)
    assert on_page.split(".")[0] == token_a.split(".")[0]
    token_b = second.get("/csrf-token").get_json()["token"]
    assert token_a != token_b
    url = PAGE + "progress"
    payload = {"verb": "section-read", "section": "primo", "seconds": 600}
    assert beacon(first, url, payload, token=token_a).status_code == 200
    assert beacon(first, url, payload, token=on_page).status_code == 200
    assert beacon(second, url, payload, token=token_a).status_code == 400  # not theirs


def test_progress_ticks_are_each_learners_own_and_need_no_javascript(mini) -> None:
    app, _ = mini
    reader, other = app.test_client(), app.test_client()
    register(reader, "reader@example.org", lang="it")
    register(other, "other@example.org", lang="it")
    token = csrf_from(reader, PAGE)
    response = beacon(
        reader,
        PAGE + "progress",
        {"verb": "section-read", "section": "primo", "seconds": 600},
        token,
    )
    assert response.status_code == 200
    mine, theirs = reader.get(PAGE).text, other.get(PAGE).text
    # Server-rendered: the outline tick, the section's read class, the count in the side panel.
    assert 'class="read" data-outline-section="primo"' in mine
    assert 'class="section is-read" id="primo"' in mine
    assert re.search(r"data-read-count>1 / 1<", mine)
    assert "read-mark" not in theirs and "is-read" not in theirs
    assert re.search(r"data-read-count>0 / 1<", theirs)
    course_page = reader.get("/it/mini/").text
    assert "1 sezioni lette su 1" in course_page
    assert "data-progress" not in other.get("/it/mini/").text


def test_flashed_messages_reach_only_the_visitor_they_were_for(mini) -> None:
    app, _ = mini
    learner, guest = app.test_client(), app.test_client()
    register(learner, "flash@example.org", lang="it")  # flashes a welcome
    guest.get(PAGE)
    welcome = learner.get(PAGE).text
    assert 'class="flashes"' in welcome and "Benvenuto" in welcome
    assert 'class="flashes"' not in learner.get(PAGE).text  # shown once
    assert 'class="flashes"' not in guest.get(PAGE).text


def test_an_edited_module_is_rendered_again(mini) -> None:
    app, content = mini
    client = app.test_client()
    assert "Primo" in client.get(PAGE).text
    source = content / "mini" / "01-one" / "it.md"
    source.write_text(source.read_text().replace("## Primo", "## Rivisto"), encoding="utf-8")
    page = client.get(PAGE).text
    assert "Rivisto" in page and "Primo" not in page


def test_content_checks_are_spaced_by_the_recheck_interval(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write_mini_course(content)
    app = make_app(tmp_path, content, CONTENT_RECHECK_SECONDS=30)
    # A clock the test moves, so a slow machine cannot stretch "within the interval".
    now = [1000.0]
    app.extensions[CONTENT_KEY].clock = lambda: now[0]
    client = app.test_client()
    assert "Primo" in client.get(PAGE).text
    source = content / "mini" / "01-one" / "it.md"
    source.write_text(source.read_text().replace("## Primo", "## Rivisto"), encoding="utf-8")
    now[0] += 29
    assert "Primo" in client.get(PAGE).text  # within the interval: the page as it was
    now[0] += 2
    assert "Rivisto" in client.get(PAGE).text


@pytest.mark.pdf  # renders the module's PDF with WeasyPrint
def test_a_built_pdf_shows_its_size_on_the_cached_page(mini) -> None:
    app, _ = mini
    client = app.test_client()
    assert " KB" not in client.get(PAGE).text
    assert client.get("/it/mini/one.pdf").status_code == 200  # renders and stores the artefact
    assert re.search(r"\d+ KB", client.get(PAGE).text)


def test_a_queued_pdf_rebuild_shows_on_the_cached_page_at_once(mini) -> None:
    # The PDF panel's data is part of the page's key: no content change is needed to see it.
    app, _ = mini
    client = app.test_client()
    cache = page_cache(app)
    assert "data-pdf-updating" not in client.get(PAGE).text
    renders = cache.renders
    assert "data-pdf-updating" not in client.get(PAGE).text and cache.renders == renders
    with app.app_context():
        assert rebuild_pdf.enqueue("mini", "it", "one")  # no worker runs: it stays queued
    page = client.get(PAGE).text
    assert page.count("data-pdf-updating") == 1 and cache.renders == renders + 1


def test_the_module_page_reads_no_disk_from_its_templates(mini) -> None:
    # The module view hands each channel's panel to the template; no template global does.
    app, _ = mini
    assert not {"audio_for", "pdf_downloads"} & set(app.jinja_env.globals)
    with app.test_request_context(PAGE):
        app.update_template_context(context := {})
    assert not {"audio_for", "pdf_downloads"} & set(context)


def test_a_cached_template_that_reads_the_learner_is_refused(mini) -> None:
    app, _ = mini
    app.jinja_loader = ChoiceLoader(  # type: ignore[assignment]
        [DictLoader({"leaky.html": "{{ current_user.email }}"}), app.jinja_loader]
    )
    with app.test_request_context("/it/"), pytest.raises(RuntimeError, match="slot"):
        render_page("leaky.html", ("k",), PageState())
