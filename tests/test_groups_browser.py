"""In headless Chromium: a trainer creates a group, a learner joins and progresses, the trainer
follows them, finds the hardest question and downloads the CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from app.accounts import services as accounts
from app.extensions import db
from tests.browser import chromium, serve
from tests.conftest import make_app
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

COURSES = Path(__file__).resolve().parent / "courses"


def sign_in(page, email: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/en/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.locator("button[type=submit]").click()


def test_trainer_follows_a_learner_from_group_to_csv(tmp_path: Path) -> None:
    app = make_app(tmp_path, COURSES)
    with app.app_context():
        accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        accounts.create_user("lea@example.org", PASSWORD, "Lea", "learner")
        db.session.commit()
    errors: list[str] = []
    with serve(app) as url, chromium() as browser:
        trainer = browser.new_context(base_url=url, accept_downloads=True)
        learner = browser.new_context(base_url=url)
        tpage, lpage = trainer.new_page(), learner.new_page()
        for page in (tpage, lpage):
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))

        # The trainer creates a group and reads its join link.
        sign_in(tpage, "tina@example.org")
        tpage.goto("/en/trainer/groups/")
        tpage.fill("#name", "Evening class")
        tpage.select_option("#course", "groups-demo")
        with tpage.expect_navigation(url="**/trainer/groups/*/"):
            tpage.locator("form button.primary").click()
        report_url = tpage.url
        link = tpage.locator("[data-join-link]").get_attribute("href")

        # A guest opens the link, registers from it, comes back and confirms.
        lpage.goto(link)
        with lpage.expect_navigation():
            lpage.get_by_role("link", name="Create an account").click()
        lpage.fill("#display_name", "Lea Two")
        lpage.fill("#email", "lea2@example.org")
        lpage.fill("#password", PASSWORD)
        lpage.fill("#confirm", PASSWORD)
        with lpage.expect_navigation(url="**/join/**"):
            lpage.locator("button[type=submit]").click()
        with lpage.expect_navigation(url="**/groups-demo/"):
            lpage.locator("[data-join]").click()

        # The learner takes the first quiz: q1 right, q2 wrong, q3 half right, q4 wrong.
        lpage.goto("/en/groups-demo/first/quiz")
        lpage.check('input[name="q.q1"][value="a"]')
        lpage.check('input[name="q.q2"][value="b"]')
        lpage.check('input[name="q.q3"][value="a"]')
        lpage.check('input[name="q.q4"][value="b"]')
        with lpage.expect_navigation(url="**/quiz/attempts/**"):
            lpage.locator(".quiz-submit button").click()
        standing = lpage.locator("[data-outcomes]").inner_text()
        assert "Outcome A: 50%" in standing and "Outcome B: 25%" in standing

        # The trainer sees it in the matrix, with the chart drawn from the bundled library.
        tpage.goto(report_url)
        cell = tpage.locator('[data-learner] [data-cell="first"]')
        assert cell.get_attribute("data-status") == "in_progress"
        assert "best 38%" in cell.inner_text()
        assert tpage.locator("figure[data-chart] canvas[data-drawn]").count() == 2
        assert "Lea Two" in tpage.locator("[data-matrix]").inner_text()

        # The hardest question, from the group's question statistics.
        with tpage.expect_navigation():
            tpage.locator('[data-questions="first"]').click()
        assert tpage.locator("[data-hardest]").get_attribute("data-hardest") == "q2"

        # The CSV download, as Excel would receive it.
        tpage.goto(report_url)
        with tpage.expect_download() as info:
            tpage.locator("[data-progress-csv]").click()
        data = Path(info.value.path()).read_bytes()
        assert data.startswith("\ufeff".encode())
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        first = next(r for r in rows if r["module_id"] == "first")
        assert (first["learner"], first["status"], first["best_score"]) == (
            "Lea Two",
            "in_progress",
            "37.5",
        )
        trainer.close()
        learner.close()
    assert errors == []
