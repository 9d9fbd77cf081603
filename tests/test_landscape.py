"""Landscape first: the module page at 1280x720, 1024x600 and a phone held sideways (844x390).

Checked from the boxes the browser lays out: the text and the side column never overlap, every
player control is whole (not clipped, not wrapped) and inside the screen, and the controls stay
in view while the audio plays and the learner reads on. A screenshot of each state is written
for a person to look at (ACADEMY_SCREENSHOTS=folder keeps them; otherwise pytest's tmp folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.browser import chromium

pytestmark = pytest.mark.browser

MODULE = "/en/sampler/every-block/"
CONTROLS = [
    "[data-audio-prev]",
    "[data-audio-back]",
    "[data-audio-play]",
    "[data-audio-forward]",
    "[data-audio-next]",
]

# A control's box, whether its text fits it on one line, and what is drawn at its centre.
BOX = """(el) => {
  const r = el.getBoundingClientRect();
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  const style = getComputedStyle(el);
  const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.3;
  return { x: r.left, y: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height,
    clipped: el.scrollWidth > el.clientWidth + 1, lines: Math.round((el.clientHeight - 4) / line),
    uncovered: !!top && (top === el || el.contains(top)) };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium; audio plays without a sound card."""
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go."""
    folder = os.environ.get("ACADEMY_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


def box(page: Any, selector: str) -> dict[str, Any]:
    """The layout box of the first element selector finds."""
    return page.locator(selector).first.evaluate(BOX)


def assert_whole_and_in_view(page: Any, selector: str, width: int, height: int) -> dict:
    """The control is inside the screen, drawn on top, its label whole and on one line."""
    b = box(page, selector)
    assert b["x"] >= 0 and b["right"] <= width and b["y"] >= 0 and b["bottom"] <= height, (
        selector,
        b,
    )
    assert b["uncovered"], f"{selector} is covered: {b}"
    assert not b["clipped"] and b["lines"] <= 1, f"{selector} label clipped or wrapped: {b}"
    return b


def start_playing(page: Any) -> None:
    """Play the "channels" chapter from its button in the chapter list."""
    page.locator('li[data-chapter="channels"] [data-audio-chapter]').click()
    page.wait_for_function(
        "() => !document.querySelector('audio[data-audio]').paused"
        " && document.querySelector('audio[data-audio]').currentTime > 0.2"
    )


# Whether the side panel's heading is whole on screen, the panel inside the screen and above
# the footer.
PANEL_AT_END = """() => {
  const panel = document.querySelector('.side-panel');
  const heading = panel.querySelector(':scope > h2').getBoundingClientRect();
  const box = panel.getBoundingClientRect();
  const layout = panel.parentElement.getBoundingClientRect();
  return heading.top >= 0 && heading.bottom <= innerHeight && box.top >= 0
    && box.bottom <= Math.min(innerHeight, layout.bottom) + 0.5;
}"""


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 600), (844, 390)])
def test_the_side_panel_heading_stays_whole_at_the_page_end(
    browser: Any, sampler: tuple[Flask, str], shots: Path, width: int, height: int
) -> None:
    _app, url = sampler
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=url)
    page = context.new_page()
    page.goto(MODULE)
    page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")
    # Every section open (as the panel's button does, without scrolling the panel to reach it).
    page.evaluate(
        "document.querySelectorAll('details[data-section]').forEach((d) => d.open = true)"
    )
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    at_end = "() => scrollY + innerHeight >= document.documentElement.scrollHeight - 1"
    assert page.evaluate(at_end)
    page.wait_for_function(PANEL_AT_END, timeout=10_000)
    page.screenshot(path=str(shots / f"module-{width}x{height}-end.png"))
    heading = box(page, ".side-panel > h2")
    assert heading["y"] >= 0 and heading["bottom"] <= height and heading["uncovered"], heading
    # What the shorter panel no longer shows is reached by its own scroll bar.
    page.locator(".side-panel").evaluate("(panel) => { panel.scrollTop = panel.scrollHeight; }")
    page.wait_for_function(
        "() => { const r = document.querySelector('.panel-actions').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= innerHeight; }",
        timeout=10_000,
    )
    # Back up the page, the panel is as tall as the screen again.
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_function(
        "() => document.querySelector('.side-panel').style.maxHeight === ''", timeout=10_000
    )
    context.close()


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 600), (844, 390)])
def test_the_module_page_and_its_player_fit_each_landscape_screen(
    browser: Any, sampler: tuple[Flask, str], shots: Path, width: int, height: int
) -> None:
    _app, url = sampler
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=url)
    page = context.new_page()
    page.goto(MODULE)
    page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")
    page.screenshot(path=str(shots / f"module-{width}x{height}.png"))

    text, panel = box(page, "article.module"), box(page, ".side-panel")
    assert text["right"] <= panel["x"], f"text and side column overlap: {text} {panel}"
    assert panel["right"] <= width and text["x"] >= 0
    assert text["width"] >= 480, "the text column is too narrow to read"
    if width < 900:
        # Two panes on the phone: the outline folds away above the text, not a third column.
        outline = box(page, ".outline")
        assert outline["right"] <= panel["x"] and outline["bottom"] <= text["y"] + 1
        assert page.locator("[data-outline]").get_attribute("open") is None
    boxes = [assert_whole_and_in_view(page, s, width, height) for s in CONTROLS]
    assert len({round(b["y"]) for b in boxes}) == 1, f"the controls wrap: {boxes}"
    chapters = box(page, ".audio-chapters")
    assert chapters["height"] >= 60, f"the chapter list is a tiny scroll box: {chapters}"

    # Playing, the learner reads on to the end of the module: the controls stay in view.
    start_playing(page)
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    page.wait_for_timeout(300)  # the scroll and the observers settle
    for selector in CONTROLS:
        assert_whole_and_in_view(page, selector, width, height)
    assert page.locator("[data-audio-mini]").is_hidden()  # not needed: the controls are there
    page.screenshot(path=str(shots / f"module-{width}x{height}-playing-scrolled.png"))
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    context.close()


def test_portrait_gets_a_mini_player_that_stays_in_view(
    browser: Any, sampler: tuple[Flask, str], shots: Path
) -> None:
    _app, url = sampler
    context = browser.new_context(viewport={"width": 390, "height": 844}, base_url=url)
    page = context.new_page()
    page.goto(MODULE)
    page.locator("[data-dismiss-rotate]").click()  # the portrait hint is still offered
    page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")
    mini = page.locator("[data-audio-mini]")
    assert mini.is_hidden()
    page.locator('li[data-chapter="channels"] [data-audio-chapter]').scroll_into_view_if_needed()
    start_playing(page)
    # Back up to the text: the full controls scroll away, the mini-player appears.
    page.evaluate("() => window.scrollTo(0, 0)")
    mini.wait_for(state="visible")
    assert "Channels" in mini.inner_text()
    for selector in ("[data-audio-mini-play]", "[data-audio-mini-next]", "[data-audio-mini-show]"):
        assert_whole_and_in_view(page, selector, 390, 844)
    page.screenshot(path=str(shots / "module-390x844-mini-player.png"))
    page.locator("[data-audio-mini-play]").click()
    page.wait_for_function("() => document.querySelector('audio[data-audio]').paused")
    page.wait_for_function(
        "() => document.querySelector('[data-audio-mini-play]').getAttribute('aria-label')"
        " === 'Play'"
    )
    page.locator("[data-audio-mini-show]").click()
    page.wait_for_function(
        "() => document.activeElement === document.querySelector('[data-audio-play]')"
    )
    mini.wait_for(state="hidden")
    assert_whole_and_in_view(page, "[data-audio-play]", 390, 844)
    context.close()


def test_lock_screen_controls_through_the_media_session(
    browser: Any, sampler: tuple[Flask, str]
) -> None:
    _app, url = sampler
    context = browser.new_context(viewport={"width": 844, "height": 390}, base_url=url)
    # Keep the handlers the page gives the Media Session, to press them as a lock screen would.
    context.add_init_script(
        "window.__media = {}; const set = navigator.mediaSession.setActionHandler"
        ".bind(navigator.mediaSession); navigator.mediaSession.setActionHandler = "
        "(action, handler) => { window.__media[action] = handler; set(action, handler); };"
    )
    page = context.new_page()
    page.goto(MODULE)
    page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")
    handlers = page.evaluate("() => Object.keys(window.__media).sort()")
    assert {"play", "pause", "previoustrack", "nexttrack", "seekbackward", "seekforward"} <= set(
        handlers
    )
    start_playing(page)
    meta = page.evaluate(
        "() => { const m = navigator.mediaSession.metadata; return [m.title, m.artist, m.album,"
        " m.artwork[0].src, navigator.mediaSession.playbackState]; }"
    )
    assert meta[:3] == ["Channels and touchpoints", "Block sampler", "Every block"]
    assert (
        re.search(r"/static/img/artwork-512\.png\?v=[0-9a-f]{12}$", meta[3])
        and meta[4] == "playing"
    )
    assert page.request.get(meta[3]).headers["content-type"] == "image/png"

    page.evaluate("() => window.__media.nexttrack()")
    page.wait_for_function(
        "() => navigator.mediaSession.metadata.title === 'Going further'"
        " && document.querySelector('li[aria-current]').dataset.chapter === 'further'"
    )
    page.wait_for_function("() => !document.querySelector('audio[data-audio]').paused")
    page.evaluate("() => window.__media.pause()")
    page.wait_for_function("() => navigator.mediaSession.playbackState === 'paused'")
    position = page.evaluate("() => document.querySelector('audio[data-audio]').currentTime")
    page.evaluate("() => window.__media.seekforward({ seekOffset: 5 })")
    after = page.evaluate("() => document.querySelector('audio[data-audio]').currentTime")
    assert after == pytest.approx(position + 5, abs=0.5)
    page.evaluate("() => window.__media.play()")
    page.wait_for_function("() => navigator.mediaSession.playbackState === 'playing'")
    context.close()


@pytest.mark.parametrize("touch", [False, True], ids=["mouse and keyboard", "touch screen"])
def test_shortcut_help_only_where_there_is_a_keyboard(
    browser: Any, sampler: tuple[Flask, str], touch: bool
) -> None:
    _app, url = sampler
    context = browser.new_context(
        viewport={"width": 844, "height": 390}, base_url=url, has_touch=touch, is_mobile=touch
    )
    page = context.new_page()
    page.goto(MODULE)
    assert page.locator(".audio-keys").is_visible() is not touch
    context.close()
