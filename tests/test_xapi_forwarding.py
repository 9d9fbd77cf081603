"""Forwarding statements to an LRS: two real instances of the platform, one forwarding to the other.

Instance A (the sender) has ACADEMY_XAPI_ENDPOINT pointing at instance B's statements API, with
write credentials B issued. Both are `flask run` processes on free loopback ports, each with
its own SQLite database and task queue. A learner's statements on A reach B; B is stopped
mid-run (statements queue up on A, retried with back-off) and started again; in the end B holds
every statement of A exactly once, and A's backlog is empty.
"""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import migrated_sqlite
from tests.report import TERMINAL_REPORT

ROOT = Path(__file__).resolve().parent.parent
COURSES = Path(__file__).resolve().parent / "courses"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Instance:
    """One instance of the platform: its environment, database and server process."""

    def __init__(self, tmp: Path, name: str, **settings: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = tmp / f"{name}.sqlite3"
        self.log = tmp / f"{name}.log"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "FLASK_APP": "wsgi",
            "ACADEMY_SECRET_KEY": f"test-secret-{name}",
            "ACADEMY_BASE_URL": self.url + "/",
            "ACADEMY_DATABASE_URL": f"sqlite:///{self.db}",
            "ACADEMY_CONTENT_DIR": str(COURSES),
            "ACADEMY_MEDIA_DIR": str(tmp / f"{name}-media"),
            "ACADEMY_SECURE_COOKIES": "0",
            "ACADEMY_QUEUE_URL": f"sqlite:///{tmp / f'{name}-queue.sqlite3'}",
            "ACADEMY_QUEUE_WORKER": "thread",
            # Offline speech, and a second worker thread: audio rebuilds never hold up the sender.
            "ACADEMY_TTS_ENGINES": "espeak-ng",
            "ACADEMY_QUEUE_THREADS": "2",
            **{f"ACADEMY_{k}": v for k, v in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None
        # The schema as `flask db upgrade` makes it, copied from the tests' migrated template
        # (a `flask` process per instance only to migrate cost two seconds of CPU each).
        shutil.copyfile(migrated_sqlite(), self.db)

    def flask(self, *args: str, stdin: str = "") -> str:
        """Run a `flask` command against this instance; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=ROOT,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"flask {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def start(self) -> None:
        """Serve on this instance's port; return once it answers."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "flask", "run", "--host", "127.0.0.1"]
                + ["--port", str(self.port), "--no-reload", "--no-debugger"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url + "/xapi/about", timeout=2):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail(f"instance did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def statement_ids(self) -> list[str]:
        """Ids of the statements this instance recorded itself."""
        with sqlite3.connect(self.db) as connection:
            return [row[0] for row in connection.execute("SELECT uuid FROM statements")]

    def outbox(self) -> tuple[int, str]:
        """How many statements wait to be forwarded, and the last error among them."""
        with sqlite3.connect(self.db) as connection:
            query = "SELECT count(*), max(last_error) FROM xapi_outbox"
            count, error = connection.execute(query).fetchone()
            return int(count), error or ""

    def received_ids(self) -> list[str]:
        """Ids of the statements other systems stored here (one row each)."""
        with sqlite3.connect(self.db) as connection:
            rows = connection.execute("SELECT uuid FROM xapi_received_statements")
            return [row[0] for row in rows]


@contextmanager
def instance(tmp: Path, name: str, **settings: str) -> Iterator[Instance]:
    """An instance that is always stopped at the end."""
    made = Instance(tmp, name, **settings)
    try:
        yield made
    finally:
        made.stop()


def credentials(output: str) -> tuple[str, str]:
    """The key and secret `flask xapi clients create` printed."""
    key = re.search(r"^key: (\S+)$", output, re.M)
    secret = re.search(r"^secret: (\S+)$", output, re.M)
    assert key and secret, output
    return key.group(1), secret.group(1)


class Learner:
    """A guest learner in a browser-like session (cookies, CSRF header) on one instance."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        page = self.opener.open(f"{url}/en/interop/loyalty/", timeout=10).read().decode()
        token = re.search(r'name="csrf-token" content="([^"]*)"', page)
        assert token
        self.token = token.group(1)
        if not self.token:  # a first-time visitor's cached page: ask, as its script does
            reply = self.opener.open(f"{url}/csrf-token", timeout=10).read()
            self.token = json.loads(reply)["token"]

    def listen(self, position: float) -> None:
        """Post an audio beacon: one 'progressed' statement."""
        body = {
            "verb": "audio-progressed",
            "section": "points",
            "position": position,
            "listened": 1.0,
            "duration": 100.0,
        }
        request = urllib.request.Request(
            f"{self.url}/en/interop/loyalty/progress",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "X-CSRFToken": self.token},
            method="POST",
        )
        with self.opener.open(request, timeout=10) as response:
            assert response.status == 200


def fetch(url: str, auth: tuple[str, str]) -> Any:
    """GET a statements API URL with Basic credentials."""
    request = urllib.request.Request(
        url,
        headers={
            "X-Experience-API-Version": "1.0.3",
            "Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(what: str, check: Any, timeout: float = 120.0) -> None:
    """Poll `check()` until it is true, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_every_statement_reaches_the_other_instance_exactly_once_across_a_restart(
    tmp_path: Path,
) -> None:
    with instance(tmp_path, "receiver") as receiver:
        writer = credentials(receiver.flask("xapi", "clients", "create", "Sender", "--write"))
        receiver.start()
        with instance(
            tmp_path,
            "sender",
            XAPI_ENDPOINT=receiver.url + "/xapi/",
            XAPI_KEY=writer[0],
            XAPI_SECRET=writer[1],
            XAPI_RETRY_SECONDS="0.2",
            XAPI_RETRY_MAX_SECONDS="1",
        ) as sender:
            sender.start()
            learner = Learner(sender.url)

            for second in range(8):  # the receiver is up
                learner.listen(second)
            wait_for("the first statements", lambda: len(receiver.received_ids()) == 8)
            # The receiver can hold them before the sender has recorded its answer: stopping it
            # then would leave those 8 waiting too (seen once at load 10).
            wait_for("the first statements delivered", lambda: sender.outbox()[0] == 0)

            receiver.stop()  # the LRS goes down mid-run
            for second in range(8, 20):
                learner.listen(second)
            wait_for("a failed attempt", lambda: "LRS unreachable" in sender.outbox()[1])
            waiting = sender.flask("xapi", "backlog")
            assert re.match(r"12 statement\(s\) waiting", waiting), waiting

            receiver.start()  # the LRS is back
            for second in range(20, 25):
                learner.listen(second)
            wait_for("every statement", lambda: len(receiver.received_ids()) >= 25)
            wait_for("an empty backlog", lambda: sender.outbox()[0] == 0)

            sent = sender.statement_ids()
            received = receiver.received_ids()
            assert len(sent) == 25
            assert sorted(received) == sorted(sent)  # each one exactly once

            # The receiver serves them back as the sender shaped them.
            pages, url = [], receiver.url + "/xapi/statements?limit=10"
            while url:
                page = fetch(url, writer)  # a writing client may read too
                pages.append(page["statements"])
                url = receiver.url + page["more"] if page["more"] else ""
            served = [s for page in pages for s in page]
            assert sorted(s["id"] for s in served) == sorted(sent)
            assert {s["actor"]["account"]["homePage"] for s in served} == {sender.url + "/"}
            assert {s["authority"]["name"] for s in served} == {"Sender"}
            assert all(
                s["object"]["id"].startswith(sender.url + "/xapi/activities/") for s in served
            )
            TERMINAL_REPORT.append(
                f"xAPI forwarding: {len(received)} of {len(sent)} statements arrived exactly once "
                "across a receiver restart (12 queued while it was down)"
            )
