"""The production server as `make run` starts it: gunicorn with deploy/gunicorn.conf.py."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import make_app
from tests.helpers import write_mini_course

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
ACCESS_LINE = re.compile(
    r"^127\.0\.0\.1 - - \[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "
    r'"GET /healthz HTTP/1\.[01]" 200 \d+ "-" "academy-test" \d+ms$'
)
ERROR_LINE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} \[\d+\] [A-Z]+ [\w.]+: .+$")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """Status and body of a GET, errors included."""
    request = urllib.request.Request(url, headers={"User-Agent": "academy-test"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def workers_of(master: int) -> set[int]:
    """Process ids of the master's children (its workers), from /proc: no `ps` per poll."""
    found: set[int] = set()
    for children in Path(f"/proc/{master}/task").glob("*/children"):
        try:
            found.update(int(pid) for pid in children.read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended while we looked
    return found


class Server:
    """A gunicorn master on a free loopback port, with its logs and pid file in a temp dir."""

    def __init__(self, tmp: Path) -> None:
        content = tmp / "content"
        write_mini_course(content)
        app = make_app(tmp, content)  # migrates the database the server will use
        self.tmp = tmp
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.access_log = tmp / "access.log"
        self.error_log = tmp / "error.log"
        self.pidfile = tmp / "gunicorn.pid"
        env = {
            **os.environ,
            "ACADEMY_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "ACADEMY_PIDFILE": str(self.pidfile),
            "ACADEMY_ACCESS_LOG": str(self.access_log),
            "ACADEMY_ERROR_LOG": str(self.error_log),
            "ACADEMY_CONTENT_DIR": str(content),
            "ACADEMY_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "ACADEMY_MEDIA_DIR": str(tmp / "media"),
            "ACADEMY_QUEUE_URL": f"sqlite:///{tmp / 'queue.sqlite3'}",
            "ACADEMY_SECRET_KEY": "test-" + "x" * 40,
            "ACADEMY_BASE_URL": self.base + "/",
            "ACADEMY_SECURE_COOKIES": "0",
        }
        self.process = subprocess.Popen(
            [str(GUNICORN), "--config", "deploy/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Generous: on a loaded 2-core machine importing the app in every worker is slow.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if get(self.base + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + self.error_log.read_text())

    def stop(self) -> None:
        """TERM the master (a graceful stop) and wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


def test_healthz_reports_database_and_content(server: Server) -> None:
    status, body = get(server.base + "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "ok", "content": "ok"}


def test_serves_the_course_with_the_configured_worker_count(server: Server) -> None:
    status, body = get(server.base + "/it/mini/one/")
    assert status == 200
    assert "Primo" in body.decode()
    assert int(server.pidfile.read_text()) == server.process.pid
    assert len(workers_of(server.process.pid) - queue_workers_of(server.process.pid)) == 2


def test_access_log_uses_the_documented_format(server: Server) -> None:
    get(server.base + "/healthz")
    deadline = time.monotonic() + 5
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = [ln for ln in server.access_log.read_text().splitlines() if "/healthz" in ln]
        if lines:
            break
        time.sleep(0.05)
    assert lines and all(ACCESS_LINE.match(line) for line in lines), lines


def test_error_log_uses_the_documented_format(server: Server) -> None:
    lines = server.error_log.read_text().splitlines()
    assert any("Booting worker" in line for line in lines)
    # Threaded workers by default: see deploy/gunicorn.conf.py for why not sync.
    assert any("Using worker: gthread" in line for line in lines), lines
    assert all(ERROR_LINE.match(line) for line in lines), lines


def test_hup_replaces_every_worker_without_failing_a_request(server: Server) -> None:
    before = workers_of(server.process.pid)
    queue_before = queue_workers_of(server.process.pid)
    os.kill(server.process.pid, signal.SIGHUP)
    statuses = []
    deadline = time.monotonic() + 60
    after: set[int] = set()
    while time.monotonic() < deadline:
        # While the new workers import the app, requests wait in the listen queue: slow on a
        # loaded machine, but none is refused or dropped.
        statuses.append(get(server.base + "/it/mini/one/", timeout=60)[0])
        after = workers_of(server.process.pid)
        if len(after) == 3 and not after & before:
            break
        time.sleep(0.05)  # about 20 requests a second throughout the reload, not a busy loop
    # New web workers and a new queue worker (it runs the new code too); nothing left over.
    assert len(after) == 3 and not after & before, "old workers still running after HUP"
    queue_after = queue_workers_of(server.process.pid)
    assert len(queue_after) == 1 and queue_after != queue_before
    assert set(statuses) == {200}
    assert get(server.base + "/healthz")[0] == 200


def test_healthz_fails_when_the_database_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = tmp_path / "content"
    write_mini_course(content)
    app = make_app(
        tmp_path,
        content,
        migrate=False,
        DATABASE_URL=f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}",
    )
    with caplog.at_level(logging.ERROR, logger="app.health"):
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "failing", "database": "unreachable", "content": "ok"}
    assert any("database unreachable" in r.getMessage() for r in caplog.records)


def queue_workers_of(master: int) -> set[int]:
    """The master's children that run `flask worker`."""
    found = set()
    for pid in workers_of(master):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"flask" in cmdline and b"worker" in cmdline:
            found.add(pid)
    return found


def test_one_queue_worker_process_runs_beside_the_web_workers(server: Server) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not queue_workers_of(server.process.pid):
        time.sleep(0.1)
    queue = queue_workers_of(server.process.pid)
    assert len(queue) == 1
    # Two web workers plus the one queue worker: the web workers start no queue thread.
    assert len(workers_of(server.process.pid)) == 3
