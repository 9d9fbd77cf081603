"""The studio in headless Chromium: typing, live preview, errors at their lines, publishing,
the learner's page and audio following (real queue, espeak-ng), restore, and a conflict."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import tasks
from tests.browser import chromium, serve
from tests.helpers import PASSWORD
from tests.test_audio import MODULE_EN, manifest
from tests.test_studio import EN, studio_app

pytestmark = [pytest.mark.browser, pytest.mark.db]

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><circle r="2"/></svg>'


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    tmp_path = tmp_path_factory.mktemp("studio-browser")
    app = studio_app(tmp_path)
    result = app.test_cli_runner().invoke(args=["content", "build", "--workers", "1"])
    assert result.exit_code == 0, result.output
    with serve(app) as url, tasks.running_worker(app), chromium() as browser:
        yield app, url, browser


def sign_in(browser, url: str, email: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/en/login")
    page.fill('input[name="email"]', email)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    page.wait_for_load_state()
    return page, errors


def cursor_line(page) -> int:  # type: ignore[no-untyped-def]
    return page.evaluate(
        "() => { const v = window.studioEditor;"
        " return v.state.doc.lineAt(v.state.selection.main.head).number; }"
    )


def test_trainer_edits_previews_sees_errors_publishes_and_restores(site) -> None:
    app, url, browser = site
    before = {c["id"]: c["key"] for c in manifest(app)["chapters"]}
    page, errors = sign_in(browser, url, "tina@example.org")
    page.goto(f"{url}/en/trainer/studio/edit/{EN}")
    page.wait_for_selector("form[data-editor-ready]")
    assert page.locator("textarea[data-text]").is_hidden()  # CodeMirror took its place

    # Break line 4 while typing: the error appears at line 4, from the server's checker.
    editor = page.locator(".cm-content")
    editor.click()
    page.evaluate(
        """() => { const v = window.studioEditor; const line = v.state.doc.line(4);
        v.dispatch({selection: {anchor: line.to - 1, head: line.to}}); }"""
    )
    page.keyboard.type("soon")  # "duration: 5" becomes "duration: soon" as the trainer types
    page.wait_for_selector('[data-problems] [data-line="4"]')
    assert "duration" in page.locator("[data-problems] li").first.inner_text()
    assert page.locator(".cm-lintRange-error").count() >= 1
    # Clicking the error moves the cursor to its line.
    page.evaluate("() => window.studioEditor.dispatch({selection: {anchor: 0}})")
    page.click('[data-problems] [data-line="4"]')
    assert cursor_line(page) == 4
    page.keyboard.press("End")
    page.keyboard.press("Shift+Home")
    page.keyboard.type("duration: 5")
    page.wait_for_selector("[data-no-problems]:not([hidden])")

    # Edit the quiz section's text: the preview follows.
    page.evaluate(
        """() => { const v = window.studioEditor; const text = v.state.doc.toString();
        const at = text.indexOf("One question about channels.");
        v.dispatch({changes: {from: at, to: at + 28, insert: "Typed in the browser."}}); }"""
    )
    page.wait_for_function(
        "() => document.querySelector('[data-preview]')"
        ".textContent.includes('Typed in the browser.')"
    )
    page.click('button[value="publish"]')
    page.wait_for_load_state()
    assert "Published." in page.content()

    # The learner's page has the new text at once, with the old audio until the rebuild.
    learner = browser.new_context().new_page()
    learner.goto(f"{url}/en/mini/first/")
    assert "Typed in the browser." in learner.content()
    stale = learner.locator('[data-chapter="quiz"]')
    if stale.locator("[data-audio-stale]").count():
        old_src = stale.get_attribute("data-src")
        assert learner.request.get(url + old_src).status == 200  # old audio still served
    tasks.wait_idle(app, timeout=120)
    after = {c["id"]: c["key"] for c in manifest(app)["chapters"]}
    assert [k for k in after if after[k] != before[k]] == ["quiz"]  # only that section
    learner.reload()
    assert learner.locator("[data-audio-stale]").count() == 0
    new_src = learner.locator('[data-chapter="quiz"]').get_attribute("data-src")
    assert after["quiz"][:16] in new_src
    assert learner.request.get(url + new_src).status == 200

    # Restore the previous revision from the history page: the file as it was before.
    source = Path(app.config["CONTENT_DIR"]) / EN
    original = MODULE_EN
    assert "Typed in the browser." in source.read_text()
    page.goto(f"{url}/en/trainer/studio/history/{EN}")
    revisions = page.locator("[data-revision]")
    assert revisions.count() == 2  # the first studio publish, and the file as it was before
    page.locator("[data-revision]").nth(1).get_by_role("button").click()
    page.wait_for_load_state()
    assert "Revision restored and published." in page.content()
    assert source.read_text() == original
    assert "Typed in the browser." not in page.evaluate(
        "() => window.studioEditor.state.doc.toString()"
    )
    learner.reload()
    assert "Typed in the browser." not in learner.content()
    assert "One question about channels." in learner.content()
    page.goto(f"{url}/en/trainer/studio/history/{EN}")
    assert page.locator("[data-revision]").count() == 3
    assert not errors, errors


def test_two_trainers_conflicting_saves_lose_nothing(site) -> None:
    app, url, browser = site
    tina, _ = sign_in(browser, url, "tina@example.org")
    toni, _ = sign_in(browser, url, "toni@example.org")
    for page in (tina, toni):
        page.goto(f"{url}/en/trainer/studio/edit/{EN}")
        page.wait_for_selector("form[data-editor-ready]")

    def replace(page, old: str, new: str) -> None:  # type: ignore[no-untyped-def]
        page.evaluate(
            """([o, n]) => { const v = window.studioEditor; const t = v.state.doc.toString();
            const at = t.indexOf(o);
            v.dispatch({changes: {from: at, to: at + o.length, insert: n}}); }""",
            [old, new],
        )

    replace(tina, "title: First steps", "title: Tina's title")
    tina.click('button[value="publish"]')
    tina.wait_for_load_state()
    replace(toni, "A short introduction.", "Toni's introduction.")
    toni.click('button[value="publish"]')
    toni.wait_for_load_state()
    assert toni.locator("[data-conflict]").is_visible()
    assert "Tina's title" in toni.locator("[data-theirs]").input_value()
    assert "Toni's introduction." in toni.evaluate("() => window.studioEditor.state.doc.toString()")
    source = Path(app.config["CONTENT_DIR"]) / EN
    assert "Tina's title" in source.read_text() and "Toni's" not in source.read_text()
    # Toni takes Tina's title into his text and publishes: both edits are in the file.
    replace(toni, "title: First steps", "title: Tina's title")
    toni.click('button[value="publish"]')
    toni.wait_for_load_state()
    text = source.read_text()
    assert "Tina's title" in text and "Toni's introduction." in text
    history = toni.goto(f"{url}/en/trainer/studio/history/{EN}")
    assert history.ok
    assert re.findall(r"Tina|Toni", toni.locator("table").inner_text())[:2] == ["Toni", "Tina"]


def test_a_picture_uploaded_in_the_editor_is_inserted_at_the_cursor(site) -> None:
    app, url, browser = site
    page, errors = sign_in(browser, url, "tina@example.org")
    page.goto(f"{url}/en/trainer/studio/edit/{EN}")
    page.wait_for_selector("form[data-editor-ready]")
    page.evaluate("() => window.studioEditor.dispatch({selection: {anchor: 0}})")
    page.set_input_files(
        'form[data-upload] input[type="file"]',
        files=[{"name": "Store Map.svg", "mimeType": "image/svg+xml", "buffer": SVG}],
    )
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_function(
        "() => window.studioEditor.state.doc.toString().startsWith("
        "'![store map](media/store-map.svg)')"
    )
    stored = Path(app.config["CONTENT_DIR"]) / "mini" / "01-first" / "media" / "store-map.svg"
    assert stored.read_bytes() == SVG
    # A refused picture says why, beside the button; the text is left as it was.
    page.set_input_files(
        'form[data-upload] input[type="file"]',
        files=[{"name": "x.png", "mimeType": "image/png", "buffer": b"<html>not a picture"}],
    )
    page.click("form[data-upload] button[type=submit]")
    page.wait_for_selector("[data-upload-status][data-upload-error]")
    assert "not a PNG" in page.locator("[data-upload-status]").inner_text()
    # (The browser logs the refused upload's 422 itself; nothing else may fail.)
    assert [e for e in errors if "422" not in e] == [], errors
