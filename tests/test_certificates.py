"""Certificates of completion: only for the learner who completed, verifiable by anyone."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import CONTENT, make_app
from tests.helpers import register
from tests.test_progress import complete_module, load_entries

pytestmark = [pytest.mark.db, pytest.mark.pdf]


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, CONTENT)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_a_learner_who_completed_gets_a_certificate_anyone_can_verify(
    app: Flask, tmp_path: Path
) -> None:
    ada = app.test_client()
    register(ada, "ada@example.org", "Ada Lovelace")
    assert ada.get("/en/me/certificates/trial.pdf").status_code == 404  # not completed yet
    for module_id in load_entries():
        complete_module(app, "u:1", module_id)
    dashboard = ada.get("/en/me/").data.decode()
    assert "Download your certificate (PDF)" in dashboard
    response = ada.get("/en/me/certificates/trial.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "private" in response.headers["Cache-Control"]
    text = pdf_text(response.data, tmp_path)
    assert "Ada Lovelace" in text and "Trial course" in text and "3-5" in text
    code = re.search(r"\b([A-HJ-NP-Z2-9]{16})\b", text).group(1)

    anyone = app.test_client()
    verified = anyone.get(f"/verify/{code}", headers={"Accept-Language": "en"})
    assert verified.status_code == 200
    page = verified.data.decode()
    assert "This certificate is genuine." in page and "Ada Lovelace" in page
    forged = anyone.get("/verify/AAAAAAAAAAAAAAAA", headers={"Accept-Language": "en"})
    assert forged.status_code == 404 and "No certificate has the code" in forged.data.decode()


def test_nobody_else_can_download_a_learners_certificate(app: Flask) -> None:
    ada, bob = app.test_client(), app.test_client()
    register(ada, "ada@example.org")
    register(bob, "bob@example.org")
    for module_id in load_entries():
        complete_module(app, "u:1", module_id)
    assert ada.get("/it/me/certificates/trial.pdf").status_code == 200
    assert bob.get("/it/me/certificates/trial.pdf").status_code == 404
    guest = app.test_client().get("/it/me/certificates/trial.pdf")
    assert guest.status_code == 302 and "/it/login" in guest.headers["Location"]
