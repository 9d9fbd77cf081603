"""The sampler fixture course (tests/courses) served with its audio built, for browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask

from app.audio.build import build_audio
from tests.browser import serve
from tests.conftest import ROOT, make_app
from tests.helpers import PASSWORD

SAMPLER = ROOT / "tests" / "courses"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
LEARNER = "lea@example.org"
TRAINER = "tina@example.org"
ADMIN = "ada@example.org"


@contextmanager
def sampler_site(tmp: Path) -> Iterator[tuple[Flask, str]]:
    """The sampler course, audio built with espeak-ng, a learner and a trainer, on loopback."""
    app = make_app(tmp, SAMPLER, TTS_ENGINES="espeak-ng", READ_SECONDS=1, READ_SHARE=0.0)
    report = build_audio(app, echo=lambda line: None, workers=2)
    assert report.ok, report
    runner = app.test_cli_runner()
    for email, role in ((LEARNER, "learner"), (TRAINER, "trainer"), (ADMIN, "admin")):
        result = runner.invoke(
            args=["users", "create", "--role", role, email, "--password", PASSWORD]
        )
        assert result.exit_code == 0, result.output
    with serve(app) as url:
        yield app, url


def sign_in(context: Any, email: str, password: str = PASSWORD) -> None:
    """Sign a browser context in through the real form."""
    page = context.new_page()
    page.goto("/en/login")
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator("button[type=submit]").click()
    assert "/login" not in page.url, f"{email} could not sign in"
    page.close()


def axe_violations(page: Any, tags: list[str]) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (axe injected first if needed).

    Playwright's evaluate runs outside the page's CSP, which allows only 'self' scripts.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate("() => {" + AXE.read_text(encoding="utf-8") + "\n}")
    return page.evaluate(
        """async (tags) => {
          const started = performance.now();
          const result = await axe.run(document, {
            runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
          window.__axeMs = (window.__axeMs || 0) + performance.now() - started;
          return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
        }""",
        tags,
    )
