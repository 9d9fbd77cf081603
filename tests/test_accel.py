"""Artefacts handed to nginx (X-Accel-Redirect) after the app's checks, and when they count."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, request

from app.web import send_artefact, sends_whole_file
from tests.conftest import CONTENT, make_app


def _app(tmp_path: Path, prefix: str) -> tuple[Flask, Path]:
    app = make_app(tmp_path, CONTENT, migrate=False, ACCEL_REDIRECT=prefix)
    artefact = Path(app.config["MEDIA_DIR"]) / "pdf" / "trial" / "first-steps.it.0123abcd.pdf"
    artefact.parent.mkdir(parents=True)
    artefact.write_bytes(b"%PDF-1.7 fixture")
    os.utime(artefact, (1_700_000_000, 1_700_000_000))
    return app, artefact


def test_with_a_prefix_nginx_sends_the_file_and_the_app_only_names_it(tmp_path: Path) -> None:
    """The answer is empty, names the file under the internal prefix and keeps the headers."""
    app, artefact = _app(tmp_path, "/_accel/media/")
    with app.test_request_context("/it/trial/first-steps.pdf"):
        response = send_artefact(artefact, "application/pdf", "first-steps-it.pdf", True)
        assert response.headers["X-Accel-Redirect"] == (
            "/_accel/media/pdf/trial/first-steps.it.0123abcd.pdf"
        )
        assert response.get_data() == b""
        assert response.mimetype == "application/pdf"
        assert response.headers["Content-Disposition"] == "attachment; filename=first-steps-it.pdf"
        assert response.cache_control.no_cache
        assert sends_whole_file(response, artefact)


def test_a_file_outside_the_media_folder_is_never_handed_to_nginx(tmp_path: Path) -> None:
    """Only MEDIA_DIR is behind nginx's internal location: anything else the app sends itself."""
    app, _ = _app(tmp_path, "/_accel/media/")
    outside = tmp_path / "elsewhere.pdf"
    outside.write_bytes(b"%PDF-1.7 other")
    with app.test_request_context("/x"):
        response = send_artefact(outside, "application/pdf", "x.pdf")
        response.direct_passthrough = False
        assert "X-Accel-Redirect" not in response.headers
        assert response.get_data() == b"%PDF-1.7 other"
        response.close()


def test_without_a_prefix_the_app_sends_the_bytes_with_ranges(tmp_path: Path) -> None:
    """The default (no front server): the app sends the file, a range gets 206."""
    app, artefact = _app(tmp_path, "")
    with app.test_request_context("/x", headers={"Range": "bytes=0-3"}):
        response = send_artefact(artefact, "application/pdf", "x.pdf", etag="k")
        response.make_conditional(request)
        response.direct_passthrough = False
        assert "X-Accel-Redirect" not in response.headers
        assert response.status_code == 206 and response.get_data() == b"%PDF"
        assert not sends_whole_file(response, artefact)
        response.close()


def test_a_range_or_a_revalidation_nginx_will_answer_is_not_a_download(tmp_path: Path) -> None:
    """nginx answers 206/304 from its own validators: the app decides alike, counts only 200s."""
    app, artefact = _app(tmp_path, "/_accel/media/")
    nginx_etag = f'"{1_700_000_000:x}-{artefact.stat().st_size:x}"'
    cases = {
        (("Range", "bytes=0-99"),): False,
        (("If-None-Match", nginx_etag),): False,
        (("If-None-Match", '"5f5e1000-1"'),): True,  # an older file's: nginx sends it whole
        (("If-Modified-Since", "Tue, 14 Nov 2023 22:13:20 GMT"),): False,  # the file's time
        (("If-Modified-Since", "Mon, 13 Nov 2023 00:00:00 GMT"),): True,
        (): True,
    }
    for headers, whole in cases.items():
        with app.test_request_context("/x", headers=list(headers)):
            response = send_artefact(artefact, "application/pdf", "x.pdf")
            assert sends_whole_file(response, artefact) is whole, headers
