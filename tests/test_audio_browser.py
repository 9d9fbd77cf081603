"""The audio player in headless Chromium: play, read-along moves, click a sentence, speed, keys."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from app.audio.build import build_audio
from tests.browser import chromium, serve
from tests.test_audio import audio_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small course with its audio built, served on a loopback port."""
    app = audio_app(tmp_path_factory.mktemp("audio-browser"), TTS_ENGINES="espeak-ng")
    report = build_audio(app, echo=lambda line: None, workers=1)
    assert report.ok
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium; audio plays without a sound card (a fake output)."""
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser


def current_sentence(page) -> int:
    return page.evaluate(
        "(() => { const s = document.querySelector('.audio-sentence.is-current');"
        " return s ? Number(s.dataset.index) : -1; })()"
    )


def test_play_highlights_the_spoken_sentence_and_moves_on(browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or ""))
    page.goto(f"{server}/en/mini/first/")
    player = page.locator("[data-audio-player]")
    assert player.locator("audio").count() == 1
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player]').classList.contains('is-ready')"
    )

    # Start the "Channels" section: its read-along appears and the first sentence lights up.
    player.locator('li[data-chapter="channels"] button').click()
    page.wait_for_function("() => document.querySelectorAll('.audio-sentence').length > 5")
    assert player.locator(".audio-sentence").first.inner_text() == "Channels"
    page.wait_for_function("() => document.querySelector('.audio-sentence.is-current') !== null")
    first = current_sentence(page)
    # The highlight follows the voice to a later sentence.
    page.wait_for_function(
        "() => Number(document.querySelector('.audio-sentence.is-current')?.dataset.index)"
        f" > {first}",
        timeout=15000,
    )
    assert player.locator("[data-audio-play]").get_attribute("aria-label") == "Pause"
    # The same sentence is highlighted in the module's text, and its section opened.
    assert page.locator("details#channels").get_attribute("open") is not None
    page.wait_for_function("() => CSS.highlights.has('audio-reading')")
    spoken = page.evaluate(
        "() => { const h = CSS.highlights.get('audio-reading');"
        " const r = h && [...h][0]; return r ? [r.toString(),"
        " r.startContainer.parentElement.closest('details')?.id] : null; }"
    )
    current = player.locator(".audio-sentence.is-current").inner_text()
    assert spoken is not None and spoken[1] == "channels"
    assert " ".join(spoken[0].split()) in (
        current,
        player.locator(".audio-sentence").nth(current_sentence(page) - 1).inner_text(),
    )

    # Clicking a sentence plays from its start.
    target = player.locator('.audio-sentence[data-index="5"]')
    target.click()
    page.wait_for_function(
        "() => Number(document.querySelector('.audio-sentence.is-current')?.dataset.index) >= 5"
    )
    assert current_sentence(page) in (5, 6)

    # Keyboard: K pauses; speed changes with > and is shown in the selector.
    page.locator("body").press("k")
    page.wait_for_function("() => document.querySelector('[data-audio-player] audio').paused")
    page.locator("body").press(">")
    assert page.evaluate("document.querySelector('[data-audio-player] audio').playbackRate") == 1.25
    assert player.locator("[data-audio-speed]").input_value() == "1.25"
    before = page.evaluate("document.querySelector('[data-audio-player] audio').currentTime")
    page.locator("body").press("l")
    after = page.evaluate("document.querySelector('[data-audio-player] audio').currentTime")
    assert after > before + 5
    context.close()
    assert set(hosts) == {"127.0.0.1"}


def test_continuous_play_goes_on_to_the_next_section(browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server}/en/mini/first/")
    player = page.locator("[data-audio-player]")
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player]').classList.contains('is-ready')"
    )
    # The shortest section: the quiz introduction. Near its end, the next section must follow.
    player.locator('li[data-chapter="further"] button').click()
    page.wait_for_function("() => document.querySelector('[data-audio-player] audio').duration > 0")
    page.evaluate(
        "(() => { const a = document.querySelector('[data-audio-player] audio');"
        " a.currentTime = Math.max(0, a.duration - 0.5); })()"
    )
    page.wait_for_function(
        "() => document.querySelector('li[data-chapter=\"quiz\"]').hasAttribute('aria-current')",
        timeout=10000,
    )
    page.wait_for_function("() => !document.querySelector('[data-audio-player] audio').paused")
    context.close()


def test_reload_resumes_at_the_saved_position(browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server}/en/mini/first/")
    player = page.locator("[data-audio-player]")
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player]').classList.contains('is-ready')"
    )
    player.locator('li[data-chapter="channels"] button').click()
    page.wait_for_function("() => document.querySelector('[data-audio-player] audio').duration > 6")
    page.evaluate("document.querySelector('[data-audio-player] audio').currentTime = 6")
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player] audio').currentTime > 6.5"
    )
    # Pausing reports the position through the progress beacon.
    with page.expect_response(lambda r: r.url.endswith("/progress") and r.ok):
        page.locator("body").press("k")
    saved = page.evaluate("document.querySelector('[data-audio-player] audio').currentTime")

    page.reload()
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player]').classList.contains('is-ready')"
    )
    page.wait_for_function(
        "() => document.querySelector('li[data-chapter=\"channels\"]').hasAttribute('aria-current')"
    )
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player] audio').currentTime > 6"
    )
    resumed = page.evaluate("document.querySelector('[data-audio-player] audio').currentTime")
    assert abs(resumed - saved) < 1.0
    assert page.evaluate("document.querySelector('[data-audio-player] audio').paused")
    # The page's own "continue" link points at the same section.
    assert page.locator("[data-continue]").get_attribute("href") == "#channels"
    context.close()


def test_nothing_is_highlighted_before_the_audio_plays_nor_while_paused(
    browser, server: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server}/en/mini/first/")
    player = page.locator("[data-audio-player]")
    page.wait_for_function(
        "() => document.querySelector('[data-audio-player]').classList.contains('is-ready')"
    )
    # The first chapter (title and introduction) is loaded and its sentences shown, unplayed.
    page.wait_for_function("() => document.querySelectorAll('.audio-sentence').length > 0")
    assert player.locator(".audio-sentence.is-current").count() == 0
    assert page.evaluate("() => CSS.highlights.has('audio-reading')") is False

    # Playing lights the spoken sentence up, in the panel and in the module's text.
    player.locator("[data-audio-play]").click()
    page.wait_for_function("() => document.querySelector('.audio-sentence.is-current') !== null")
    page.wait_for_function("() => CSS.highlights.has('audio-reading')")

    # Paused: the highlight goes until the voice goes on.
    page.locator("body").press("k")
    page.wait_for_function("() => document.querySelector('[data-audio-player] audio').paused")
    page.wait_for_function(
        "() => !CSS.highlights.has('audio-reading')"
        " && document.querySelector('.audio-sentence.is-current') === null"
    )
    context.close()


def test_the_course_page_plays_the_whole_course_with_its_captions(browser, server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    page.goto(f"{server}/en/mini/")
    player = page.locator("[data-course-audio-player]")
    assert player.count() == 1
    assert (
        page.locator("[data-course-audio-download]")
        .get_attribute("href")
        .startswith("/en/mini.mp3?v=")
    )
    # Chromium loads the course MP3 from its route (ranges) and reads its length from it.
    page.evaluate("document.querySelector('[data-course-audio-player]').load()")
    page.wait_for_function(
        "() => document.querySelector('[data-course-audio-player]').duration > 1"
    )
    seconds = page.evaluate("document.querySelector('[data-course-audio-player]').duration")
    module = float(
        page.evaluate(
            "fetch('/en/mini/first/').then(r => r.text()).then(t => "
            '[...t.matchAll(/data-duration="([0-9.]+)"/g)].reduce((a, m) => a + Number(m[1]), 0))'
        )
    )
    assert abs(seconds - module) < 0.2  # one module in this course: the same length
    # It plays, and its captions track carries the sentences.
    page.evaluate(
        "(() => { const a = document.querySelector('[data-course-audio-player]');"
        " a.textTracks[0].mode = 'showing'; a.muted = true; return a.play(); })()"
    )
    page.wait_for_function(
        "() => document.querySelector('[data-course-audio-player]').currentTime > 0.5"
    )
    page.wait_for_function(
        "() => { const t = document.querySelector('[data-course-audio-player]').textTracks[0];"
        " return t.cues && t.cues.length > 3; }"
    )
    first_cue = page.evaluate(
        "document.querySelector('[data-course-audio-player]').textTracks[0].cues[0].text"
    )
    assert first_cue == "First steps"
    # Listening counts for the module: pausing reports what was heard of the section playing.
    page.evaluate(
        "(() => { const a = document.querySelector('[data-course-audio-player]');"
        " const s = JSON.parse(document.querySelector('[data-course-module=\"first\"]')"
        ".dataset.sections)[0]; a.currentTime = s[1] + 0.2; })()"
    )
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-course-audio-player]');"
        " const s = JSON.parse(document.querySelector('[data-course-module=\"first\"]')"
        ".dataset.sections)[0]; return a.currentTime > s[1] + 1; }"
    )
    with page.expect_response(
        lambda r: r.url.endswith("/en/mini/first/progress") and r.request.method == "POST"
    ) as sent:
        page.evaluate("document.querySelector('[data-course-audio-player]').pause()")
    response = sent.value
    assert response.ok, response.text()
    body = response.request.post_data_json
    assert body["verb"] == "audio-progressed" and body["section"] == "channels"
    assert 0 < body["listened"] <= body["duration"] and body["position"] <= body["duration"]
    context.close()
