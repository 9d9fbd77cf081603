"""The accessibility gate: axe-core on every page type, both languages, three landscape screens.

axe-core comes from npm (pinned in package.json), injected by Playwright into Debian's Chromium
before the page's own scripts run (an init script is not subject to the page's CSP). Each page is
loaded once per language and checked at every viewport: WCAG 2.x A/AA (up to 2.2) and axe's best
practices, 0 violations of any impact.

Adding a page: add one `Page(...)` line to PAGES. `test_every_html_page_is_in_the_gate` fails
when a GET route that renders HTML is neither in PAGES nor in NOT_PAGES.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from tests.browser import chromium
from tests.report import TERMINAL_REPORT
from tests.sampler import ADMIN, AXE, LEARNER, TRAINER, axe_violations, sign_in

pytestmark = pytest.mark.browser

VIEWPORTS = [(1280, 720), (1024, 600), (844, 390)]
LANGUAGES = ["en", "it"]
# WCAG 2.0, 2.1 and 2.2 at levels A and AA (axe tags 2.2's new A criteria under wcag21a/wcag22aa
# as they apply), plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
MODULE = "/{lang}/sampler/every-block/"
TRAINER_CONTENT = "/{lang}/trainer/content/"
STUDIO = "/{lang}/trainer/studio/"
SOURCE = "sampler/02-short/en.md"


def open_all_sections(page: Any) -> None:
    """Every section and every deepening open, as a learner who reads it all sees it."""
    page.locator("[data-expand-all]").click()
    page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def submit_quiz(page: Any) -> Any:
    """Answer some questions right and some wrong, submit, and land on the result page."""
    page.locator('input[name="q.is-a-shop-a-channel"]').first.check()
    page.locator('input[name="q.tf-record"]').last.check()
    page.locator('input[name="q.num-channels"]').fill("2")
    # The rest is left blank: the page flags it once, then sends the attempt as it is.
    page.locator(".quiz-submit button").click()
    with page.expect_navigation(url="**/quiz/attempts/**") as navigation:
        page.locator("[data-submit-anyway]").click()
    return navigation.value


def flag_blanks(page: Any) -> None:
    """The quiz sent with nothing answered: the page lists and flags the blank questions."""
    page.locator(".quiz-submit button").click()
    page.locator("[data-unanswered-summary]:focus").wait_for()


def tamper_quiz(page: Any) -> Any:
    """A quiz form whose signed state was altered: the refusal page."""
    page.evaluate(
        "document.querySelector('.quiz-form input[type=hidden]:not([name=csrf_token])')"
        ".value = 'tampered'"
    )
    page.locator(".quiz-submit button").click()
    with page.expect_navigation() as navigation:
        page.locator("[data-submit-anyway]").click()
    return navigation.value


def register_with_errors(page: Any) -> Any:
    """The registration form sent back with its errors shown next to the fields."""
    page.fill("#email", "not an address")
    page.fill("#password", "short")
    with page.expect_navigation() as navigation:
        page.locator("button[type=submit]").click()
    return navigation.value


def create_group(page: Any) -> Any:
    """A trainer creates a group for the sampler course and lands on its report."""
    page.goto(page.url.split("/trainer/")[0] + "/trainer/groups/")
    page.fill("#name", "Axe class")
    page.select_option("#course", "sampler")
    with page.expect_navigation(url="**/trainer/groups/*/") as navigation:
        page.locator("form button.primary").click()
    return navigation.value


def open_join_link(page: Any) -> Any:
    """The join page a learner opens from the link (the trainer, signed in, sees the confirm)."""
    create_group(page)
    return page.goto(page.locator("[data-join-link]").get_attribute("href"))


def open_learner_page(page: Any) -> Any:
    """Join the new group, then open the member's page from the report."""
    report = create_group(page).url
    page.goto(page.locator("[data-join-link]").get_attribute("href"))
    with page.expect_navigation():
        page.locator("[data-join]").click()
    page.goto(report)
    with page.expect_navigation() as navigation:
        page.locator("[data-learner] th a").first.click()
    return navigation.value


def open_question_stats(page: Any) -> Any:
    """A module's question statistics, from the group report."""
    create_group(page)
    with page.expect_navigation() as navigation:
        page.locator("[data-questions]").first.click()
    return navigation.value


def issue_reset_link(page: Any) -> Any:
    """An admin issues a one-time reset link for the learner: the page that shows it once."""
    row = page.locator("tr[data-account]", has_text=LEARNER)
    with page.expect_navigation() as navigation:
        row.locator("form[action$='/reset'] button").click()
    return navigation.value


def open_reset_link(page: Any) -> Any:
    """The form a reset link opens (the path only: the link names the site's public address)."""
    issue_reset_link(page)
    link = page.locator("[data-reset-link]").inner_text()
    return page.goto("/" + link.split("/", 3)[3])


@dataclass(frozen=True)
class Page:
    """One page type: where it is, who looks at it, what they do first."""

    name: str
    path: str  # {lang} is replaced by the page's language
    endpoint: str  # the Flask endpoint it shows, for the coverage check
    who: str = "guest"  # guest, learner, trainer or admin
    status: int = 200
    then: Callable[[Any], Any] | None = field(default=None, compare=False)


PAGES = [
    Page("catalogue", "/{lang}/", "content.home"),
    Page("course", "/{lang}/sampler/", "content.course"),
    Page("module, sections closed", MODULE, "content.module"),
    Page("module, sections open", MODULE, "content.module", then=open_all_sections),
    Page("module, learner, all open", MODULE, "content.module", "learner", then=open_all_sections),
    Page("module hidden, trainer", "/{lang}/sampler/broken/", "content.module", "trainer", 404),
    Page("transcript", MODULE + "transcript", "audio.transcript_page"),
    Page("quiz", MODULE + "quiz", "quizzes.quiz"),
    Page("quiz, blanks flagged", MODULE + "quiz", "quizzes.quiz", then=flag_blanks),
    Page("quiz result", MODULE + "quiz", "quizzes.attempt", "learner", then=submit_quiz),
    Page("quiz refused", MODULE + "quiz", "quizzes.submit", status=400, then=tamper_quiz),
    Page("dashboard, guest", "/{lang}/me/", "progress.dashboard"),
    Page("dashboard, learner", "/{lang}/me/", "progress.dashboard", "learner"),
    Page("certificate check", "/verify/NO-SUCH-CODE", "progress.verify", status=404),
    Page("sign in", "/{lang}/login", "accounts.login"),
    Page("register", "/{lang}/register", "accounts.register"),
    Page("register, errors", "/{lang}/register", "accounts.register", then=register_with_errors),
    Page("change password", "/{lang}/me/password", "accounts.password", "learner"),
    Page("delete account", "/{lang}/me/delete", "accounts.delete", "learner"),
    Page(
        "trainer: content status", "/{lang}/trainer/content/", "trainer.content_status", "trainer"
    ),
    Page(
        "trainer page, learner",
        "/{lang}/trainer/content/",
        "trainer.content_status",
        "learner",
        403,
    ),
    Page("trainer: xAPI forwarding", "/{lang}/trainer/xapi/", "xapi_admin.forwarding", "trainer"),
    Page("admin: accounts", "/{lang}/admin/accounts/", "admin.accounts", "admin"),
    Page(
        "admin: reset link",
        "/{lang}/admin/accounts/",
        "admin.issue_reset",
        "admin",
        then=issue_reset_link,
    ),
    Page("forgot password", "/{lang}/forgot", "admin.forgot"),
    Page("reset password", "/{lang}/admin/accounts/", "admin.reset", "admin", then=open_reset_link),
    Page("reset password, used link", "/{lang}/reset/no-such-token", "admin.reset", status=410),
    Page("admin: xAPI clients", "/{lang}/admin/xapi/", "xapi_admin.clients", "admin"),
    Page("trainer: studio", "/{lang}/trainer/studio/", "studio.index", "trainer"),
    Page("trainer: studio editor", STUDIO + "edit/" + SOURCE, "studio.edit", "trainer"),
    Page("trainer: studio history", STUDIO + "history/" + SOURCE, "studio.history", "trainer"),
    Page("not found", "/{lang}/no-such-course/", "content.course", status=404),
    Page("trainer: groups", "/{lang}/trainer/groups/", "groups.index", "trainer"),
    Page("trainer: group", TRAINER_CONTENT, "groups.report", "trainer", then=create_group),
    Page("join a group", TRAINER_CONTENT, "groups.join", "trainer", then=open_join_link),
    Page("join a group, guest", "/{lang}/join/NOSUCHCODE", "groups.join", status=404),
    Page("trainer: learner", TRAINER_CONTENT, "groups.learner", "trainer", then=open_learner_page),
    Page(
        "trainer: questions",
        TRAINER_CONTENT,
        "groups.questions",
        "trainer",
        then=open_question_stats,
    ),
]

# GET routes that answer with something other than an HTML page (or only redirect).
NOT_PAGES = {
    "static",
    "content.index",  # redirects to a language
    "content.media",
    "accounts.export",
    "progress.certificate",
    "audio.section_mp3",
    "audio.section_vtt",
    "audio.module_mp3",
    "audio.module_vtt",
    "audio.course_mp3",
    "audio.course_vtt",
    "offline.service_worker",  # JavaScript
    "offline.manifest",  # JSON
    "audio.transcript_txt",
    "pdf.module_pdf",
    "pdf.course_pdf",
    "quizzes.gift",
    "health.healthz",  # JSON for load balancers
    "pages.csrf_token",  # JSON for a cached page's script
    "groups.report_csv",
    "groups.questions_csv",
    "xapi.about",  # JSON for xAPI clients
    "xapi.get_statements",
    "scorm.module_package",  # SCORM zips for trainers
    "scorm.course_package",
    "lti.login",  # redirects to the LMS (a launch refused gets the error page's layout)
    "lti.jwks",  # JSON for LMSs
}

# Violations per page, language and viewport, printed in the run's summary.
COUNTS: dict[str, int] = {}
AXE_MS: list[float] = []


@pytest.fixture(scope="module")
def contexts(sampler: tuple[Flask, str]) -> Iterator[dict[str, Any]]:
    """One browser; a context per kind of visitor, each signed in through the real form."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs it (npm ci)")
    _app, url = sampler
    with chromium() as browser:
        made: dict[str, Any] = {}
        visitors = (("guest", None), ("learner", LEARNER), ("trainer", TRAINER), ("admin", ADMIN))
        for who, email in visitors:
            context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=url)
            if email:
                sign_in(context, email)
            made[who] = context
        yield made
        for context in made.values():
            context.close()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("spec", PAGES, ids=[p.name for p in PAGES])
def test_no_axe_violations(contexts: dict[str, Any], spec: Page, lang: str) -> None:
    page = contexts[spec.who].new_page()
    try:
        response = page.goto(spec.path.format(lang=lang))
        assert response is not None
        # A step that navigates (a form sent) returns the response it landed on.
        response = (spec.then(page) if spec.then else None) or response
        status = response.status
        assert status == spec.status, f"{spec.path}: HTTP {status}"
        found: dict[str, list[dict[str, Any]]] = {}
        for width, height in VIEWPORTS:
            page.set_viewport_size({"width": width, "height": height})
            violations = axe_violations(page, AXE_TAGS)
            COUNTS[f"{spec.name} [{lang}] {width}x{height}"] = len(violations)
            if violations:
                found[f"{width}x{height}"] = violations
        AXE_MS.append(page.evaluate("window.__axeMs || 0"))
        assert not found, f"{spec.name} [{lang}] {page.url}:\n" + json.dumps(found, indent=1)
    finally:
        page.close()


def test_every_html_page_is_in_the_gate(sampler: tuple[Flask, str]) -> None:
    app, _url = sampler
    covered = {p.endpoint for p in PAGES} | NOT_PAGES
    pages = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if "GET" in (rule.methods or set()) and rule.endpoint not in covered
    }
    assert not pages, (
        f"GET routes not in the accessibility gate: {sorted(pages)}. Add a Page(...) line to "
        "PAGES in tests/test_accessibility.py (or the endpoint to NOT_PAGES if it is no HTML page)."
    )


@pytest.fixture(scope="module", autouse=True)
def _print_counts() -> Iterator[None]:
    yield
    if COUNTS:
        total = sum(COUNTS.values())
        TERMINAL_REPORT.append(
            f"axe-core: {total} violations on {len(COUNTS)} page states"
            f" ({len(PAGES)} page types x {len(LANGUAGES)} languages x {len(VIEWPORTS)} viewports)"
        )
        TERMINAL_REPORT.extend(f"  {key}: {n}" for key, n in COUNTS.items() if n)
        TERMINAL_REPORT.append(f"  time inside axe.run: {sum(AXE_MS) / 1000:.1f} s")
