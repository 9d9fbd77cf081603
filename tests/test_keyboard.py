"""Keyboard only: a learner completes a module (sections, audio, quiz) without a mouse, seeing
where the focus is at every step; reduced motion is honoured; 200 % zoom needs no sideways scroll.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser import chromium

pytestmark = pytest.mark.browser

MODULE = "/en/sampler/every-block/"
MAX_TABS = 120  # more Tab presses than any page here needs to reach anything

# Where the focus is, and whether a learner can see it: a ring (outline or shadow) at least
# 2 px wide, the element on screen, and not hidden under anything else (WCAG 2.4.7, 2.4.11).
FOCUS_STATE = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
    || style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  // An inline element that wraps has a box per line: look at the middle of its first line.
  const line = el.getClientRects()[0] || box;
  const x = Math.min(Math.max(line.left + line.width / 2, 0), innerWidth - 1);
  const y = Math.min(Math.max(line.top + Math.min(line.height, 20) / 2, 0), innerHeight - 1);
  const top = document.elementFromPoint(x, y);
  const onScreen = box.bottom > 0 && box.top < innerHeight
    && box.right > 0 && box.left < innerWidth;
  return {
    tag: el.tagName.toLowerCase(), text: (el.getAttribute("aria-label") || el.textContent || "")
      .trim().slice(0, 60), ring, onScreen,
    uncovered: !!top && (el === top || el.contains(top) || top.contains(el)
      || !!(el.labels && [...el.labels].some((label) => label.contains(top)))),
    focusVisible: el.matches(":focus-visible"),
  };
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium; audio plays without a sound card."""
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        yield browser


def assert_focus_visible(page: Any) -> dict[str, Any]:
    """The focused element shows a ring and is on screen, not covered."""
    # Scrolling to the focus glides (smooth scrolling, in the page or a scroll box): give it
    # time to arrive before judging.
    try:
        page.wait_for_function(
            f"() => {{ const s = ({FOCUS_STATE})(); return s && s.onScreen && s.uncovered; }}",
            timeout=3000,
        )
    except PlaywrightTimeout:
        pass  # the assertions below say what is wrong
    state = page.evaluate(FOCUS_STATE)
    assert state is not None, "the focus was lost"
    assert state["focusVisible"] and state["ring"], f"no visible focus ring: {state}"
    assert state["onScreen"] and state["uncovered"], f"focused but not in sight: {state}"
    return state


def tab_to(page: Any, selector: str, backwards: bool = False) -> None:
    """Press Tab until the element matching selector has the focus, checking focus each time."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        assert_focus_visible(page)
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached in {MAX_TABS} Tab presses")


def label_of(page: Any, selector: str) -> str:
    """The text of the label of the input selector finds."""
    return page.evaluate("(s) => document.querySelector(s).labels[0].textContent.trim()", selector)


def choose(page: Any, name: str, labels: list[str]) -> None:
    """Tick the options with these labels, the keyboard way (options may be shuffled).

    Radio buttons: Tab reaches the group, Space picks, arrows move the choice. Checkboxes: Tab
    goes from box to box, Space ticks.
    """
    inputs = f'input[name="{name}"]'
    kind = page.evaluate("(s) => document.querySelector(s).type", inputs)
    tab_to(page, inputs)
    if kind == "radio":
        page.keyboard.press("Space")
        for _ in range(page.locator(inputs).count()):
            if label_of(page, inputs + ":checked") in labels:
                break
            page.keyboard.press("ArrowDown")
            assert_focus_visible(page)
        assert label_of(page, inputs + ":checked") in labels
        return
    count = page.locator(inputs).count()
    for index in range(count):
        if index:
            page.keyboard.press("Tab")
            assert_focus_visible(page)
        if label_of(page, f"{inputs}:nth-of-type(1):focus, {inputs}:focus") in labels:
            page.keyboard.press("Space")
    ticked = page.evaluate(
        "(s) => [...document.querySelectorAll(s + ':checked')].map((i) => i.labels[0]"
        ".textContent.trim())",
        inputs,
    )
    assert sorted(ticked) == sorted(labels)


def test_a_module_from_start_to_quiz_result_with_the_keyboard_only(
    browser: Any, sampler: tuple[Flask, str]
) -> None:
    _app, url = sampler
    context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=url)
    page = context.new_page()
    page.goto(MODULE)
    page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")

    # The skip link comes first and takes the learner past the header.
    tab_to(page, ".skip-link")
    page.keyboard.press("Enter")
    page.wait_for_function("() => location.hash === '#main'")

    # Open the first section with Enter, read on, open the second with Space.
    tab_to(page, "details#channels > summary")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('channels').open")
    tab_to(page, "details#further > summary")
    page.keyboard.press("Space")
    page.wait_for_function("() => document.getElementById('further').open")
    # A deepening block inside it opens from the keyboard too.
    tab_to(page, "details#further details.eqf-block > summary")
    page.keyboard.press("Enter")
    assert page.evaluate("document.querySelector('#further details.eqf-block').open")

    # Play the audio from the player's own button; its label says what the button does next.
    tab_to(page, "[data-audio-play]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('audio[data-audio]').paused")
    page.wait_for_function("() => document.querySelector('audio[data-audio]').currentTime > 0.3")
    assert page.get_attribute("[data-audio-play]", "aria-label") == "Pause"
    assert_focus_visible(page)
    # The read-along is one tab stop; arrows move from sentence to sentence.
    tab_to(page, '.audio-sentence[tabindex="0"]')
    page.keyboard.press("ArrowDown")
    assert page.evaluate("() => document.activeElement.dataset.index") == "1"
    assert page.locator('.audio-sentence[tabindex="0"]').count() == 1
    assert_focus_visible(page)
    tab_to(page, "[data-audio-play]", backwards=True)
    # Next chapter, then pause, still from the keyboard.
    tab_to(page, "[data-audio-next]")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('li[aria-current]').dataset.chapter === 'channels'"
        " && !document.querySelector('audio[data-audio]').paused"
        " && document.querySelector('audio[data-audio]').currentTime > 0.3"
    )
    tab_to(page, "[data-audio-play]", backwards=True)
    page.keyboard.press("Space")
    # The pause event (which relabels the button) follows the paused state by a task.
    page.wait_for_function(
        "() => document.querySelector('audio[data-audio]').paused"
        " && document.querySelector('[data-audio-play]').getAttribute('aria-label') === 'Play'"
    )

    # The quiz: reached by its link, answered and sent with keys alone.
    tab_to(page, "[data-quiz-link]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.endswith("/quiz")
    choose(page, "q.is-a-shop-a-channel", ["Yes"])
    choose(page, "q.which-are-digital-channels-more-than-one", ["Website", "App"])
    tab_to(page, 'input[name^="q.ordering-online-and-collecting-in-the"]')
    page.keyboard.type("click and collect")
    choose(page, "q.tf-record", ["True"])
    for prompt, answer in (("Shop", "physical"), ("Newsletter", "digital"), ("Kiosk", "physical")):
        select_id = page.evaluate(
            "(p) => [...document.querySelectorAll('.quiz-matching label')]"
            ".find((l) => l.textContent.trim() === p).htmlFor",
            prompt,
        )
        select = f'[id="{select_id}"]'
        tab_to(page, select)
        wanted = page.evaluate(
            "([sel, want]) => [...document.querySelector(sel).options]"
            ".findIndex((o) => o.text === want)",
            [select, answer],
        )
        for _ in range(wanted):
            page.keyboard.press("ArrowDown")
    tab_to(page, 'input[name="q.num-channels"]')
    page.keyboard.type("2")
    tab_to(page, 'input[name^="q.short-term"]')
    page.keyboard.type("CRM")
    choose(page, "q.pick-one", ["Web"])
    tab_to(page, ".quiz-submit button")
    with page.expect_navigation(url="**/quiz/attempts/**"):
        page.keyboard.press("Enter")
    assert page.locator(".quiz-score").get_attribute("data-score") == "100"
    assert page.locator(".quiz-verdict").get_attribute("data-passed") == "true"
    # And back to the module, which now shows the quiz as passed.
    tab_to(page, ".quiz-actions a:not([data-retry])")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("[data-quiz-best]").inner_text().startswith("Best score: 100%")
    context.close()


@pytest.mark.parametrize("reduce", [True, False], ids=["reduced motion", "motion"])
def test_reduced_motion_is_honoured(browser: Any, sampler: tuple[Flask, str], reduce: bool) -> None:
    _app, url = sampler
    context = browser.new_context(
        viewport={"width": 1280, "height": 720},
        base_url=url,
        reduced_motion="reduce" if reduce else "no-preference",
    )
    page = context.new_page()
    page.goto(MODULE)
    # Jumping from the outline to the last part: at once with less motion, gliding otherwise.
    moved_at_once = page.evaluate(
        "() => { const before = scrollY; document.querySelector('.outline a[href=\"#about\"]')"
        ".click(); return scrollY !== before; }"
    )
    assert moved_at_once is reduce
    behaviour = page.evaluate("getComputedStyle(document.documentElement).scrollBehavior")
    assert behaviour == ("auto" if reduce else "smooth")
    page.locator("[data-expand-all]").click()
    if reduce:
        assert page.evaluate("document.getAnimations().length") == 0
    context.close()


@pytest.mark.parametrize(
    "path",
    [
        "/en/",
        "/en/sampler/",
        MODULE,
        MODULE + "quiz",
        "/en/me/",
        "/it/register",
        "/it/sampler/every-block/",
    ],
)
def test_200_percent_zoom_needs_no_sideways_scroll(
    browser: Any, sampler: tuple[Flask, str], path: str
) -> None:
    # A 1280x720 screen at 200 % zoom lays pages out in 640x360 CSS pixels.
    _app, url = sampler
    context = browser.new_context(
        viewport={"width": 640, "height": 360}, device_scale_factor=2, base_url=url
    )
    page = context.new_page()
    page.goto(path)
    if page.locator("[data-expand-all]").count():
        page.locator("[data-expand-all]").click()
    overflow = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
        " [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right"
        " > document.documentElement.clientWidth + 1).map((e) => e.tagName + '.' + e.className)"
        ".slice(0, 5)]"
    )
    scroll_width, client_width, wide = overflow
    assert scroll_width <= client_width, f"{path}: {scroll_width} > {client_width} px: {wide}"
    context.close()
