"""The PDF renderer reads only static files and the printed modules' media; nothing else."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from PIL import Image

from app.pdf.render import MAX_DATA_URL, RefusedResource, ResourcePolicy, SafeFetcher, render_pdf
from tests.conftest import ROOT, make_app
from tests.pdf_tools import flat, pdf_pages_text, run

pytestmark = pytest.mark.pdf

BASE = "http://academy.test/"
SECRET = "TOP-SECRET-FILE-CONTENT-42"


@pytest.fixture
def secret_files(tmp_path: Path) -> dict[str, Path]:
    """Files outside static/ and media/ that no PDF may ever contain."""
    files = {}
    for name in ("passwd", "hostname"):
        path = tmp_path / "outside" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"{SECRET} {name}\n")
        files[name] = path
    return files


@pytest.fixture
def media(tmp_path: Path) -> Path:
    """A module media folder with one image in it."""
    folder = tmp_path / "content" / "course" / "01-mod" / "media"
    folder.mkdir(parents=True)
    Image.new("RGB", (40, 20), (31, 95, 139)).save(folder / "chart.png")
    return folder


@pytest.fixture
def policy(media: Path) -> ResourcePolicy:
    return ResourcePolicy(BASE, ROOT / "static", {("course", "mod"): media})


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Record (and refuse) every attempt to open a network connection."""
    attempts: list[object] = []
    connect = socket.socket.connect

    def refuse(self: socket.socket, address: object) -> None:
        if self.family == socket.AF_UNIX:
            # Local IPC, not the network: how a render reaches multiprocessing's forkserver.
            return connect(self, address)  # type: ignore[arg-type]
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        type(self).hits.append(self.path)
        # A redirect to a local file: a fetcher following it would leak the file.
        self.send_response(302)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that counts requests and answers with a redirect."""
    _Recorder.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.hits
    server.shutdown()
    server.server_close()


# -- the fetcher on its own --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/hostname",
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "http://academy.test.evil.example/static/css/print.css",
        "https://academy.test/static/css/print.css",  # same host, other scheme
        "http://academy.test:8080/static/css/print.css",
        "ftp://academy.test/static/css/print.css",
        "http://academy.test/static/../app/__init__.py",
        "http://academy.test/static/%2e%2e/app/__init__.py",
        "http://academy.test/static/css/%2e%2e%2f%2e%2e%2fapp/__init__.py",
        "http://academy.test/static/",
        "http://academy.test/app/__init__.py",
        "http://academy.test/media/course/other-module/chart.png",
        "http://academy.test/media/course/mod/../../../../outside/passwd",
        "http://academy.test/media/course/mod/missing.png",
        "data:text/plain," + "x" * MAX_DATA_URL,
        "javascript:alert(1)",
    ],
)
def test_fetcher_refuses(policy: ResourcePolicy, no_network: list[object], url: str) -> None:
    fetcher = SafeFetcher(policy)
    with pytest.raises(RefusedResource):
        fetcher.fetch(url)
    assert fetcher.refused == [url]
    assert no_network == []


def test_fetcher_refuses_a_symlink_out_of_the_media_folder(
    policy: ResourcePolicy, media: Path, secret_files: dict[str, Path]
) -> None:
    (media / "link.png").symlink_to(secret_files["passwd"])
    with pytest.raises(RefusedResource):
        SafeFetcher(policy).fetch(BASE + "media/course/mod/link.png")


def test_fetcher_serves_static_files_media_and_small_data_urls(policy: ResourcePolicy) -> None:
    fetcher = SafeFetcher(policy)
    css = fetcher.fetch(BASE + "static/css/print.css")
    assert css.content_type == "text/css" and b"@page" in css.read()
    image = fetcher.fetch(BASE + "media/course/mod/chart.png")
    assert image.content_type == "image/png" and image.read().startswith(b"\x89PNG")
    data = fetcher.fetch("data:text/plain;base64,aGVsbG8=")
    assert data.read() == b"hello"
    assert fetcher.refused == []


# -- through WeasyPrint ------------------------------------------------------------------------


def test_hostile_html_renders_without_fetching_anything(
    tmp_path: Path,
    policy: ResourcePolicy,
    secret_files: dict[str, Path],
    local_server: tuple[str, list[str]],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Alembic's fileConfig (migrations/env.py, run in-process by other tests) disables every
    # logger that exists at that time; a real server runs migrations in another process.
    monkeypatch.setattr(logging.getLogger("app.pdf.render"), "disabled", False)
    server_url, hits = local_server
    hostile = [
        f'<img src="file://{secret_files["passwd"]}" alt="x">',
        f'<link rel="attachment" href="file://{secret_files["hostname"]}">',
        '<img src="http://169.254.169.254/latest/meta-data/" alt="x">',
        f'<link rel="stylesheet" href="file://{secret_files["passwd"]}">',
        f'<img src="{server_url}/redirect.png" alt="x">',
        '<img src="file:///etc/passwd" alt="x">',
        '<link rel="attachment" href="file:///etc/hostname">',
        '<img src="/media/course/mod/chart.png" alt="A chart">',
    ]
    html = (
        '<!doctype html><html lang="en"><head><title>Hostile</title>'
        + "".join(h for h in hostile if h.startswith("<link"))
        + "</head><body><h1>Still rendered</h1>"
        + "".join(h for h in hostile if h.startswith("<img"))
        + "</body></html>"
    )
    with caplog.at_level(logging.WARNING, logger="app.pdf.render"):
        rendered = render_pdf(html, policy)

    assert hits == []  # the local server was never contacted
    assert len(rendered.refused) == 7
    assert all(
        "refused resource" in r.message for r in caplog.records if r.name == "app.pdf.render"
    )
    assert len([r for r in caplog.records if r.name == "app.pdf.render"]) == 7

    path = tmp_path / "hostile.pdf"
    path.write_bytes(rendered.data)
    text = flat(" ".join(pdf_pages_text(path)))
    assert "Still rendered" in text
    assert SECRET not in text and "root:" not in text
    assert SECRET.encode() not in rendered.data
    assert run("pdfdetach", "-list", path).startswith("0 embedded files")
    # The one allowed image, from the module's media folder, is embedded.
    assert len(run("pdfimages", "-list", path).splitlines()[2:]) == 1


def test_hostile_module_content_is_not_fetched_end_to_end(
    tmp_path: Path, secret_files: dict[str, Path], no_network: list[object]
) -> None:
    content = tmp_path / "content" / "tiny"
    module = content / "01-hostile"
    (module / "media").mkdir(parents=True)
    Image.new("RGB", (30, 30), (200, 100, 0)).save(module / "media" / "ok.png")
    (content / "course.yml").write_text(
        "id: tiny\ndefault_language: en\nlanguages: [en]\n"
        "title: {en: Tiny}\ndescription: {en: A tiny course.}\neqf: 4\npass_mark: 70\n"
    )
    (module / "en.md").write_text(
        "---\ntitle: Hostile module\neqf: 4\nduration: 5\ndescription: Tries to read files.\n"
        "keywords: [test]\noutcomes:\n  - Stay safe\n---\n\nIntro.\n\n## Images {#images}\n\n"
        f'<img src="file://{secret_files["passwd"]}" alt="a">\n\n'
        '<img src="http://169.254.169.254/latest/meta-data/" alt="b">\n\n'
        f'<link rel="attachment" href="file://{secret_files["hostname"]}">\n\n'
        "![A fine image](media/ok.png)\n\nThe end of the section.\n"
    )
    app = make_app(tmp_path, tmp_path / "content", LANGUAGES="en")
    response = app.test_client().get("/en/tiny/hostile.pdf")
    assert response.status_code == 200
    path = tmp_path / "hostile.pdf"
    path.write_bytes(response.data)
    text = flat(" ".join(pdf_pages_text(path)))
    assert "The end of the section." in text
    assert SECRET not in text
    assert run("pdfdetach", "-list", path).startswith("0 embedded files")
    assert len(run("pdfimages", "-list", path).splitlines()[2:]) == 1  # only media/ok.png
    assert no_network == []
