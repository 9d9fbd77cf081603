"""Real pages in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

from app.content.loader import load_catalogue
from tests.browser import chromium, serve
from tests.conftest import CONTENT, make_app

pytestmark = pytest.mark.browser

COURSE = load_catalogue(CONTENT).courses["trial"]
FIRST = COURSE.visible[0]
SECTIONS = [s.id for s in FIRST.versions["en"].sections]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app on a loopback port, in a thread."""
    app = make_app(tmp_path_factory.mktemp("browser"), CONTENT, READ_SECONDS=1, READ_SHARE=0.0)
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium; Playwright never downloads a browser of its own here."""
    with chromium() as browser:
        yield browser


def open_page(browser, width: int, height: int, hosts: list[str]):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or ""))
    return context, page


def no_horizontal_overflow(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1024, 600), (844, 390)])
def test_module_page_in_landscape(browser, server: str, width: int, height: int) -> None:
    hosts: list[str] = []
    context, page = open_page(browser, width, height, hosts)
    page.goto(f"{server}/en/trial/{FIRST.id}/")
    section = page.locator(f"details#{SECTIONS[1]}")
    assert section.get_attribute("open") is None
    section.locator("summary").click()
    assert section.get_attribute("open") is not None
    assert section.locator(".section-body").is_visible()
    # The toggle event updates the address asynchronously.
    page.wait_for_function(f"location.hash === '#{SECTIONS[1]}'", timeout=5000)
    assert no_horizontal_overflow(page)
    outline = page.locator("[data-outline]")
    side_panel = page.locator(".side-panel")
    text = page.locator("article.module")
    if width >= 1024:
        # Outline, text and side panel share the screen, side by side.
        assert outline.get_attribute("open") is not None
        o, t, s = (x.bounding_box() for x in (outline, text, side_panel))
        assert o["x"] + o["width"] <= t["x"] and t["x"] + t["width"] <= s["x"]
        assert s["x"] + s["width"] <= width
        assert t["width"] >= 480  # a comfortable line length
    else:
        # Phone held sideways: the outline folds away above the text.
        assert outline.get_attribute("open") is None
        assert text.bounding_box()["width"] <= width
    context.close()
    assert hosts and set(hosts) == {"127.0.0.1"}, set(hosts)


def test_deep_link_opens_the_linked_section_and_language_switch_keeps_it(
    browser, server: str
) -> None:
    hosts: list[str] = []
    context, page = open_page(browser, 1280, 720, hosts)
    target = SECTIONS[2]
    page.goto(f"{server}/en/trial/{FIRST.id}/#{target}")
    assert page.locator(f"details#{target}").get_attribute("open") is not None
    assert page.locator(f"details#{SECTIONS[0]}").get_attribute("open") is None
    assert page.locator(f"details#{target} > summary").is_visible()
    page.locator('.language-switch a[hreflang="it"]').click()
    page.wait_for_url(f"**/it/trial/{FIRST.id}/#{target}")
    assert page.locator(f"details#{target}").get_attribute("open") is not None
    assert "Clicca per leggere" in page.content()
    context.close()
    assert set(hosts) == {"127.0.0.1"}


def test_portrait_phone_gets_a_dismissible_hint_and_still_works(browser, server: str) -> None:
    hosts: list[str] = []
    context, page = open_page(browser, 390, 844, hosts)
    page.goto(f"{server}/it/trial/{FIRST.id}/")
    hint = page.locator("[data-rotate-hint]")
    assert hint.is_visible()
    hint.locator("button").click()
    assert not hint.is_visible()
    page.reload()
    assert not page.locator("[data-rotate-hint]").is_visible()  # remembered on this device
    page.locator(f"details#{SECTIONS[0]} > summary").click()
    assert page.locator(f"details#{SECTIONS[0]} .section-body").is_visible()
    assert no_horizontal_overflow(page)
    context.close()


def test_a_guest_reads_two_sections_registers_and_continues(browser, server: str) -> None:
    hosts: list[str] = []
    context, page = open_page(browser, 1280, 720, hosts)
    module_url = f"{server}/en/trial/{FIRST.id}/"
    page.goto(module_url)
    for section in SECTIONS[:2]:
        with page.expect_response(lambda r: r.url.endswith("/progress") and r.ok):
            page.locator(f"details#{section} > summary").click()
            page.locator(f"details#{section} .section-body").scroll_into_view_if_needed()
        page.locator(f"details#{section} > summary").click()  # close it again
    assert page.locator(f'[data-outline-section="{SECTIONS[1]}"].read').count() == 1

    page.locator(".account-nav a", has_text="Register").click()
    page.fill("#display_name", "Grace")
    page.fill("#email", "grace@example.org")
    page.fill("#password", "a long enough secret")
    page.fill("#confirm", "a long enough secret")
    page.locator("button[type=submit]", has_text="Create account").click()
    page.wait_for_url(module_url)  # back where the learner was
    page.goto(f"{server}/en/me/")
    row = page.locator(f'tr[data-module="{FIRST.id}"] [data-sections-read]')
    total = len(FIRST.versions["en"].reading_sections)
    assert row.inner_text().strip() == f"2 / {total}"
    page.locator("[data-continue]").first.click()
    page.wait_for_url(f"**/{FIRST.id}/#{SECTIONS[1]}")
    assert page.locator(f"details#{SECTIONS[1]}").get_attribute("open") is not None
    context.close()
    assert set(hosts) == {"127.0.0.1"}
