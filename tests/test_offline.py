"""Offline with sync: save a module, lose the network, read, listen and answer, come back.

In Debian's Chromium with the network really cut (`context.set_offline(True)`): the service
worker serves the saved page, audio and quiz; every progress event waits in IndexedDB with its
statement id and reaches the server once the network returns, stored exactly once (sending it
again changes nothing), and another browser signed in as the same learner sees it all.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.accounts.models import User
from app.extensions import db
from app.progress.models import ModuleProgress, Statement
from app.quizzes.models import QuizAttempt as Attempt
from tests.browser import chromium
from tests.conftest import make_app
from tests.helpers import PASSWORD
from tests.sampler import SAMPLER, sign_in

MODULE = "/en/sampler/every-block/"
EMAIL = "offline@example.org"


def learner_key(app: Flask, email: str) -> str:
    """The progress key of an account."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        assert user is not None
        return f"u:{user.id}"


def pending(page: Any) -> list[dict[str, Any]]:
    """What waits in the page's outbox (IndexedDB)."""
    return page.evaluate("() => window.AcademyOffline.pending()")


def wait_pending(page: Any, test: str, seconds: float = 60) -> None:
    """Wait until the outbox holds an entry the JS predicate `test(e)` accepts."""
    deadline = time.monotonic() + seconds
    check = f"() => window.AcademyOffline.pending().then((all) => all.some((e) => {test}))"
    while not page.evaluate(check):
        assert time.monotonic() < deadline, f"nothing in the outbox matches {test}"
        page.wait_for_timeout(250)


def wait_empty(page: Any, seconds: float = 60) -> None:
    """Wait until the outbox is empty (everything sent)."""
    deadline = time.monotonic() + seconds
    while pending(page):
        assert time.monotonic() < deadline, f"still queued: {pending(page)}"
        page.wait_for_timeout(250)


@pytest.fixture(scope="module")
def offline_learner(sampler: tuple[Flask, str]) -> str:
    """An account of its own, so its statements are this test's alone."""
    app, _url = sampler
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--role", "learner", EMAIL, "--password", PASSWORD]
    )
    assert result.exit_code == 0, result.output
    return learner_key(app, EMAIL)


@pytest.mark.browser
def test_worker_and_manifest_are_served_for_the_whole_site(sampler: tuple[Flask, str]) -> None:
    app, _url = sampler
    client = app.test_client()
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', worker.get_data(as_text=True))
    assert version, "the worker carries its version"
    # The page's CSP is the site's: nothing from another host, the worker from 'self'.
    assert "default-src 'self'" in worker.headers["Content-Security-Policy"]
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.data)
    assert data["scope"] == "/" and data["start_url"] == "/" and data["orientation"] == "landscape"
    assert client.get(data["icons"][0]["src"]).status_code == 200
    page = client.get(MODULE).get_data(as_text=True)
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert "data-offline-save" in page


def test_worker_version_follows_the_content(copy_app: Flask) -> None:
    from pathlib import Path

    client = copy_app.test_client()
    before = client.get("/sw.js").get_data(as_text=True)
    assert before == client.get("/sw.js").get_data(as_text=True)  # steady while nothing changes
    source = next(Path(copy_app.config["CONTENT_DIR"]).rglob("en.md"))
    source.write_text(source.read_text(encoding="utf-8") + "\nOne more line.\n", encoding="utf-8")
    after = client.get("/sw.js").get_data(as_text=True)
    assert re.search(r'VERSION = "(\w+)"', after)[1] != re.search(r'VERSION = "(\w+)"', before)[1]


def test_beacon_stores_a_statement_id_once(tmp_path: Path) -> None:
    # The sampler course as the browser tests serve it, without their built audio: a beacon
    # needs none (and building it would make this a speech-synthesis test).
    app = make_app(tmp_path, SAMPLER, READ_SECONDS=1, READ_SHARE=0.0)
    client = app.test_client()
    client.get(MODULE)
    token = client.get("/csrf-token").get_json()["token"]
    headers = {"X-CSRFToken": token}
    url = MODULE + "progress"
    statement_id = str(uuid.uuid4())
    event = {"verb": "section-read", "section": "channels", "seconds": 3600, "id": statement_id,
             "timestamp": "2020-01-01T00:00:00Z"}  # fmt: skip
    for _ in range(3):
        response = client.post(url, json=event, headers=headers)
        assert response.status_code == 200 and "channels" in response.get_json()["read"]
    with app.app_context():
        rows = db.session.scalars(select(Statement).where(Statement.uuid == statement_id)).all()
        assert len(rows) == 1
        # Too old a time (past 60 days) is not believed: the event is dated when it arrived.
        assert rows[0].timestamp.year >= 2026
    # The same id for another event is refused, not stored.
    other = {**event, "section": "further"}
    assert client.post(url, json=other, headers=headers).status_code == 400
    assert client.post(url, json={**event, "id": "not-a-uuid"}, headers=headers).status_code == 400


@pytest.mark.browser
def test_saved_module_works_offline_and_its_progress_arrives_once(
    sampler: tuple[Flask, str], offline_learner: str
) -> None:
    app, url = sampler
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=url)
        sign_in(context, EMAIL)
        page = context.new_page()
        page.goto(MODULE)
        page.locator("[data-offline-save]").click()
        page.wait_for_selector("[data-offline-panel][data-offline-saved]", timeout=60_000)
        assert "Saved on this device" in page.locator("[data-offline-status]").inner_text()

        # No network: the page comes from the saved copy, scripts and all.
        context.set_offline(True)
        page.reload()
        assert page.locator("h1").inner_text() == "Every block"
        page.wait_for_function("() => document.querySelector('[data-audio-player].is-ready')")
        assert page.evaluate("navigator.onLine") is False

        # Read: a section open on screen for READ_SECONDS is queued as read.
        page.locator("#further > summary").click()
        page.locator("#further .section-body").scroll_into_view_if_needed()
        wait_pending(
            page, "e.body && e.body.verb === 'section-read' && e.body.section === 'further'"
        )
        # The page marks it read at once, without waiting for the server.
        page.wait_for_selector('[data-outline-section="further"].read')
        assert page.locator("[data-offline-queue]").is_visible()

        # Listen: the saved section audio plays (ranges answered by the worker), then pause.
        page.locator('li[data-chapter="channels"] [data-audio-chapter]').click()
        page.wait_for_function(
            "() => document.querySelector('audio[data-audio]').currentTime > 2", timeout=60_000
        )
        page.locator("[data-audio-play]").click()
        wait_pending(page, "e.body && e.body.verb === 'audio-progressed'")

        # Answer: the saved quiz page, its answers kept until the network is back.
        page.goto(MODULE + "quiz")
        page.locator('input[name="q.is-a-shop-a-channel"]').first.check()
        page.locator('input[name="q.tf-record"]').last.check()
        page.locator('input[name="q.num-channels"]').fill("2")
        # The rest is left blank: the page flags it once, then the attempt goes as it is.
        page.locator(".quiz-submit button").click()
        page.locator("[data-submit-anyway]").click()
        page.wait_for_selector("[data-offline-quiz]:visible")
        wait_pending(page, "e.kind === 'form'")
        queued = pending(page)
        ids = [e["body"]["id"] for e in queued if e["kind"] == "json"]
        assert len(ids) >= 2 and len(queued) == len(ids) + 1
        with app.app_context():
            assert not db.session.scalars(select(Statement).where(Statement.uuid.in_(ids))).all()

        # Back online: the outbox empties by itself, the quiz result is linked.
        context.set_offline(False)
        page.wait_for_selector("[data-offline-result]", timeout=60_000)
        wait_empty(page)
        with app.app_context():
            for statement_id in ids:
                count = db.session.scalar(
                    select(func.count()).where(Statement.uuid == statement_id)
                )
                assert count == 1, statement_id
            stored = db.session.scalars(select(Statement).where(Statement.uuid.in_(ids))).all()
            assert {s.learner for s in stored} == {offline_learner}
            attempts = db.session.scalars(
                select(Attempt).where(Attempt.learner == offline_learner)
            ).all()
            assert len(attempts) == 1
            summary = db.session.scalar(
                select(ModuleProgress).where(
                    ModuleProgress.learner == offline_learner,
                    ModuleProgress.module_id == "every-block",
                )
            )
            assert "further" in summary.sections_read
            assert summary.audio_listened.get("channels", 0) > 1.5

        # Sent again (a flush cut off before its answer arrived): nothing new is stored.
        again = page.evaluate(
            """async (entries) => { for (const e of entries) {
                 await fetch(e.url, { method: "POST", credentials: "same-origin",
                   headers: { "Content-Type": "application/json",
                              "X-CSRFToken": await window.AcademyCsrf() },
                   body: JSON.stringify(e.body) }).then((r) => r.status); }
               return entries.length; }""",
            [e for e in queued if e["kind"] == "json"],
        )
        assert again == len(ids)
        quiz = next(e for e in queued if e["kind"] == "form")
        page.evaluate(
            """async (e) => { const body = new URLSearchParams(e.body);
                 body.set("csrf_token", await window.AcademyCsrf());
                 await fetch(e.url, { method: "POST", credentials: "same-origin", body }); }""",
            quiz,
        )
        with app.app_context():
            assert db.session.scalar(select(func.count()).where(Statement.uuid.in_(ids))) == len(
                ids
            )
            assert (
                len(
                    db.session.scalars(
                        select(Attempt).where(Attempt.learner == offline_learner)
                    ).all()
                )
                == 1
            )

        # Another browser, same learner: the dashboard shows the module read and the quiz.
        laptop = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=url)
        sign_in(laptop, EMAIL)
        other = laptop.new_page()
        other.goto(MODULE)
        assert "read" in other.locator('[data-outline-section="further"]').get_attribute("class")
        other.goto("/en/me/")
        assert "Every block" in other.locator("main").inner_text()
        laptop.close()
        context.close()
