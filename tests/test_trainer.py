"""Trainer pages: role checks and content errors shown where trainers look."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.helpers import PASSWORD, login, register

pytestmark = pytest.mark.db


@pytest.fixture
def broken_app(tmp_path: Path, content_copy: Path):
    path = content_copy / "trial" / "02-second-look" / "it.md"
    path.write_text(path.read_text(encoding="utf-8").replace("duration:", "duration: x #"))
    app = make_app(tmp_path, content_copy)
    app.test_cli_runner().invoke(
        args=["users", "create", "--role", "trainer", "tina@example.org", "--password", PASSWORD]
    )
    return app


def test_guests_are_sent_to_sign_in_and_learners_refused(broken_app) -> None:
    guest = broken_app.test_client()
    response = guest.get("/en/trainer/content/")
    assert response.status_code == 302 and "/en/login" in response.headers["Location"]
    learner = broken_app.test_client()
    register(learner, "lea@example.org")
    assert learner.get("/en/trainer/content/").status_code == 403
    assert "You cannot open this page" in learner.get("/en/trainer/content/").data.decode()


def test_trainers_see_every_error_and_why_a_module_is_hidden(broken_app) -> None:
    trainer = broken_app.test_client()
    login(trainer, "tina@example.org")
    page = trainer.get("/en/trainer/content/").data.decode()
    assert "02-second-look/it.md:4</code> &#39;duration&#39; is required" in page
    assert "Hidden: 1 error" in page
    hidden = trainer.get("/en/trial/second-look/")
    assert hidden.status_code == 404
    assert "This module is hidden from learners" in hidden.data.decode()
    learner = broken_app.test_client()
    register(learner, "lea@example.org")
    learner_page = learner.get("/en/trial/second-look/").data.decode()
    assert "Page not found" in learner_page and "duration" not in learner_page
