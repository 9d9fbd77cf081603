"""A section counts as read by time on screen in proportion to its length, or by its audio."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask

from app.content.loader import load_catalogue
from app.progress.rules import reading_seconds, words_in
from tests.browser import chromium, serve
from tests.conftest import CONTENT, make_app
from tests.helpers import beacon

if TYPE_CHECKING:
    from playwright.sync_api import Request

URL = "/en/trial/first-steps/progress"
# 600 words more in the section `words`: 600 / 250 wpm = 144 s, half of it = 72 s.
FILLER = " ".join(["Every channel keeps the same customer record in view."] * 67)[:-1] + "."


def with_a_long_section(root: Path) -> Path:
    """A copy of the fixture course whose section `words` is about 600 words longer."""
    target = root / "content"
    shutil.copytree(CONTENT, target)
    for lang in ("en", "it"):
        path = target / "trial" / "01-first-steps" / f"{lang}.md"
        text = path.read_text(encoding="utf-8")
        text = text.replace("## Three models", FILLER + "\n\n## Three models", 1)
        path.write_text(text, encoding="utf-8")
    return target


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, with_a_long_section(tmp_path))


def test_words_are_counted_in_the_text_a_learner_reads() -> None:
    html = '<p>A <strong>contact channel</strong> is l\'offerta, e-mail <a href="x">here</a>.</p>'
    assert words_in(html) == 7  # tags and their attributes are not words
    assert words_in("<p></p>") == 0


def test_reading_time_is_proportional_to_length_with_a_floor() -> None:
    assert reading_seconds(1000, 250, 0.5, 5) == 120  # 4 minutes of reading, half of it
    assert reading_seconds(1000, 500, 0.5, 5) == 60  # a faster reader
    assert reading_seconds(1000, 250, 1.0, 5) == 240  # all of it
    assert reading_seconds(10, 250, 0.5, 5) == 5  # a short section: never at a glance
    assert reading_seconds(101, 250, 0.5, 0) == 13  # whole seconds, rounded up (12.12)


def page_seconds(app: Flask) -> dict[str, int]:
    """Each section's `data-read-seconds` on the English module page."""
    html = app.test_client().get("/en/trial/first-steps/").data.decode()
    found = re.findall(r'id="([^"]+)" data-section data-read-seconds="(\d+)"', html)
    return {sid: int(value) for sid, value in found}


def test_the_page_gives_each_section_its_reading_time(app: Flask, tmp_path: Path) -> None:
    module = load_catalogue(with_a_long_section(tmp_path / "c")).courses["trial"]
    words = words_in(module.module("first-steps", "en")[0].section("words").html)
    assert words >= 600
    seconds = page_seconds(app)
    assert seconds["words"] == reading_seconds(words, 250, 0.5, 5) >= 72
    assert 5 <= seconds["models"] < seconds["words"]
    # The reading speed and the share are settings.
    quick = make_app(
        tmp_path / "q", with_a_long_section(tmp_path / "q"), READ_WORDS_PER_MINUTE=500,
        READ_SHARE=0.25,
    )  # fmt: skip
    assert page_seconds(quick)["words"] == reading_seconds(words, 500, 0.25, 5)


def test_a_section_read_too_briefly_does_not_count(app: Flask) -> None:
    client = app.test_client()
    too_soon = beacon(client, URL, {"verb": "section-read", "section": "words", "seconds": 20})
    assert too_soon.status_code == 400
    assert "long enough" in too_soon.get_json()["error"]
    untimed = beacon(client, URL, {"verb": "section-read", "section": "words"})
    assert untimed.status_code == 400
    read = beacon(client, URL, {"verb": "section-read", "section": "words", "seconds": 200})
    assert read.status_code == 200 and read.get_json()["read"] == ["words"]
    # A short section needs only its floor.
    short = beacon(client, URL, {"verb": "section-read", "section": "models", "seconds": 30})
    assert short.status_code == 200 and "models" in short.get_json()["read"]


def test_listening_to_90_percent_of_the_audio_still_counts(app: Flask) -> None:
    client = app.test_client()
    payload = {"verb": "audio-progressed", "section": "words", "position": 90.0, "duration": 100.0}
    first = beacon(client, URL, {**payload, "listened": 60.0})
    assert first.get_json()["read"] == []
    second = beacon(client, URL, {**payload, "listened": 30.0})
    assert second.get_json()["read"] == ["words"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("reading")
    with serve(make_app(tmp, with_a_long_section(tmp))) as url:
        yield url


@pytest.mark.browser
def test_in_chromium_a_long_section_needs_its_reading_time_on_screen(site: str) -> None:
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        sent: list[dict] = []
        page.on(
            "request",
            lambda r: (
                sent.append(json.loads(r.post_data or "{}"))
                if r.url.endswith("/progress")
                else None
            ),
        )
        # The page's clock is Playwright's: minutes pass without waiting for them.
        page.clock.install()
        page.goto(f"{site}/en/trial/first-steps/#words")
        section = page.locator("details#words")
        assert section.get_attribute("open") is not None
        needed = int(section.get_attribute("data-read-seconds"))
        assert needed >= 72

        # Well past the old 5 s, well short of its reading time: not read.
        page.clock.run_for(30_000)
        page.wait_for_timeout(1000)
        assert [b for b in sent if b.get("section") == "words"] == []

        # Past its reading time on screen: read, and the beacon says how long it was read.
        page.clock.run_for((needed - 30 - 15) * 1000)
        page.wait_for_timeout(500)
        assert [b for b in sent if b.get("section") == "words"] == []
        # The rest a second at a time: the in-view report comes outside the fake clock.
        for _ in range(60):
            if [b for b in sent if b.get("section") == "words"]:
                break
            page.clock.run_for(1000)
            page.wait_for_timeout(20)
        [read] = [b for b in sent if b.get("section") == "words"]
        assert read["verb"] == "section-read" and read["seconds"] >= needed
        # With a statement id: stored once, however often nginx or the outbox send it.
        assert str(uuid.UUID(read["id"])) == read["id"]
        # The server's answer marks the section read (a selector: the page's CSP allows no eval).
        page.wait_for_selector("details#words.is-read", state="attached")
        context.close()


@pytest.mark.browser
def test_without_the_offline_outbox_a_beacon_still_carries_a_statement_id(site: str) -> None:
    """offline.js failed to load: app.js sends the beacon itself, with an id of its own."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        context.route("**/offline.js*", lambda route: route.abort())
        page = context.new_page()
        page.clock.install()
        page.goto(f"{site}/en/trial/first-steps/#words")
        needed = int(page.locator("details#words").get_attribute("data-read-seconds"))
        sent: list[Request] = []
        page.on("request", lambda r: sent.append(r) if r.url.endswith("/progress") else None)
        # The section's time starts when the browser reports it in view, which happens outside
        # the fake clock: move the clock a second at a time so that report is never skipped over.
        for _ in range(needed + 60):
            if sent:
                break
            page.clock.run_for(1000)
            page.wait_for_timeout(20)
        assert sent, f"no beacon after {needed + 60} s on screen"
        body = json.loads(sent[0].post_data or "{}")
        assert body["section"] == "words" and str(uuid.UUID(body["id"])) == body["id"]
        response = sent[0].response()
        assert response is not None and response.ok
        assert page.evaluate("window.AcademyOffline") is None
        context.close()
