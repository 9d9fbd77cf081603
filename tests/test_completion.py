"""Course completion and certificates: every module the trainer wrote, hidden or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.content.loader import load_catalogue
from app.extensions import db
from app.progress import statements
from app.progress.models import CourseCompletion
from tests.conftest import make_app
from tests.fixture_course import write_course
from tests.helpers import register

pytestmark = pytest.mark.db

IT = "demo/01-m1/it.md"


def complete(app: Flask, root: Path, learner: str, module_id: str) -> None:
    """Read every section and pass the quiz of one module, as the channels record them."""
    with app.test_request_context():
        course = load_catalogue(root).courses["demo"]
        module, _ = course.module(module_id, "it")
        for section in module.reading_sections:
            statements.record(
                learner, course, module, "experienced", section_id=section.id, language="it"
            )
        statements.record(learner, course, module, "passed", result={"score": 1.0}, language="it")
        db.session.commit()


@pytest.mark.pdf  # the learner downloads the certificate: a PDF rendered by WeasyPrint
def test_a_hidden_module_blocks_completion_and_the_dashboard_says_why(tmp_path: Path) -> None:
    """Modules 2 and 3 done while module 1 is hidden: no completion, no certificate, a notice."""
    root = write_course(tmp_path / "content")
    good = (root / IT).read_text(encoding="utf-8")
    (root / IT).write_text(good.replace("duration: 10", "duration: soon"), encoding="utf-8")
    app = make_app(tmp_path, root)
    ada = app.test_client()
    register(ada, "ada@example.org", "Ada")
    for module_id in ("m2", "m3"):
        complete(app, root, "u:1", module_id)
    with app.app_context():
        assert db.session.scalar(select(CourseCompletion)) is None
    dashboard = ada.get("/en/me/").data.decode()
    assert "2 of 3 modules completed" in dashboard
    assert "1 module of this course is unavailable while its trainers fix it" in dashboard
    assert "Course completed" not in dashboard and "Download your certificate" not in dashboard
    assert ada.get("/en/me/certificates/demo.pdf").status_code == 404

    # The trainer fixes module 1; the learner completes it, and with it the course.
    (root / IT).write_text(good, encoding="utf-8")
    complete(app, root, "u:1", "m1")
    with app.app_context():
        assert db.session.scalar(select(CourseCompletion.learner)) == "u:1"
    dashboard = ada.get("/en/me/").data.decode()
    assert "3 of 3 modules completed" in dashboard and "unavailable" not in dashboard
    assert ada.get("/en/me/certificates/demo.pdf").status_code == 200
