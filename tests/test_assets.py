"""Static files under content-hashed URLs: cached a year when hashed, an hour when not."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path

from flask import Flask, url_for

from app.assets import IMMUTABLE, SHORT
from tests.conftest import CONTENT, make_app

ROOT = Path(__file__).resolve().parent.parent
PAGE = "/en/trial/first-steps/"
STATIC_URL = re.compile(r'(?:href|src|content|data-media-artwork)="(/static/[^"]+)"')


def _hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def test_every_static_url_of_a_page_carries_its_files_hash_and_is_cached_a_year(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, CONTENT)
    client = app.test_client()
    page = client.get(PAGE).get_data(as_text=True)
    urls = sorted(set(STATIC_URL.findall(page)))
    assert any("css/app.css" in u for u in urls) and any("js/offline.js" in u for u in urls)
    for url in urls:
        path, _, query = url.partition("?")
        assert query == f"v={_hash(ROOT / path.removeprefix('/'))}", url
        with client.get(url) as response:
            assert response.status_code == 200
            assert response.headers["Cache-Control"] == IMMUTABLE
            assert response.data == (ROOT / path.removeprefix("/")).read_bytes()


def test_a_url_without_its_current_hash_still_works_cached_an_hour(tmp_path: Path) -> None:
    client = make_app(tmp_path, CONTENT).test_client()
    for url in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        with client.get(url) as response:
            assert response.status_code == 200 and response.headers["Cache-Control"] == SHORT
            assert response.data == (ROOT / "static/css/app.css").read_bytes()
    with client.get("/static/css/app.css") as first:
        etag = first.headers["ETag"]
    with client.get("/static/css/app.css", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.headers["Cache-Control"] == SHORT
    with client.get("/static/css/nope.css?v=000000000000") as missing:
        assert missing.status_code == 404


def _app_with_static_copy(tmp_path: Path) -> tuple[Flask, Path]:
    app = make_app(tmp_path, CONTENT)
    static = tmp_path / "static"
    shutil.copytree(ROOT / "static" / "css", static / "css")
    app.static_folder = str(static)
    return app, static


def test_the_hash_changes_when_the_file_changes_and_the_old_url_gets_the_new_file(
    tmp_path: Path,
) -> None:
    app, static = _app_with_static_copy(tmp_path)
    css = static / "css" / "app.css"
    with app.test_request_context():
        before = url_for("static", filename="css/app.css")
    assert before == f"/static/css/app.css?v={_hash(css)}"
    css.write_text(css.read_text(encoding="utf-8") + "\n.edited { color: red; }\n", "utf-8")
    with app.test_request_context():
        after = url_for("static", filename="css/app.css")
    assert after == f"/static/css/app.css?v={_hash(css)}" and after != before
    client = app.test_client()
    with client.get(after) as fresh:
        assert b".edited" in fresh.data and fresh.headers["Cache-Control"] == IMMUTABLE
    # A page cached with the old URL still gets a stylesheet, never the old bytes for a year.
    with client.get(before) as stale:
        assert b".edited" in stale.data and stale.headers["Cache-Control"] == SHORT


def test_no_hash_for_a_path_outside_the_static_folder(tmp_path: Path) -> None:
    app, _ = _app_with_static_copy(tmp_path)
    with app.test_request_context():
        assert "?v=" not in url_for("static", filename="../app/__init__.py")
        assert "?v=" not in url_for("static", filename="css/missing.css")
        assert "?v=" not in url_for("static", filename="css")
