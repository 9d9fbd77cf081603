"""Scale-out as scripts/cluster.py runs it: PostgreSQL, Redis, two app servers, nginx in front.

One cluster for the module (real Debian servers on loopback, in a temp dir): nginx sends static
files and built PDFs itself, the app only checks access (X-Accel-Redirect); learners keep
posting progress through nginx while one app server is killed, and nothing is lost.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
CONTENT = Path(__file__).resolve().parent / "content"
MODULE = "/it/trial/first-steps/"

pytestmark = pytest.mark.cluster


def _cluster_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("academy_cluster", ROOT / "scripts/cluster.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """The cluster the script starts, on the fixture course; stopped after the module."""
    with _cluster_module().Cluster(content=CONTENT, apps=2, workers=2) as running:
        yield running


class Learner:
    """A browser: its own cookies, no redirects followed, every answer read whole."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = ""

    def request(
        self, path: str, body: object = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """Status, headers and body; an error status is returned, not raised."""
        data = json.dumps(body).encode() if body is not None else None
        all_headers = {**(headers or {})}
        if data is not None:
            all_headers |= {"Content-Type": "application/json", "X-CSRFToken": self.token}
        request = urllib.request.Request(self.base + path, data=data, headers=all_headers)
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def start(self) -> None:
        """Open the module page and get a CSRF token as the page's script does."""
        status, _, _ = self.request(MODULE)
        assert status == 200
        status, _, body = self.request("/csrf-token")
        assert status == 200
        self.token = json.loads(body)["token"]


def _sections() -> list[str]:
    from app.content.loader import load_catalogue

    course = load_catalogue(CONTENT).course("trial")
    assert course is not None
    found = course.module("first-steps", "it")
    assert found is not None
    return [s.id for s in found[0].reading_sections]


def _count(database_url: str, sql: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar_one())
    finally:
        engine.dispose()


def _lines_with(cluster, path: str) -> list[str]:
    return [
        line
        for s in cluster.servers
        for line in s.access_log.read_text().splitlines()
        if path in line
    ]


def _requests_in(log: Path, path: str) -> int:
    return sum(1 for line in log.read_text().splitlines() if f" {path} " in line)


def test_nginx_sends_static_files_and_pdfs_after_the_app_checks_access(cluster) -> None:
    """Static files never reach an app server; a PDF is checked by the app, sent by nginx."""
    learner = Learner(cluster.url)
    status, headers, body = learner.request("/static/css/app.css")
    assert status == 200 and headers["Server"] == "nginx"
    assert body == (ROOT / "static/css/app.css").read_bytes()
    assert all(_requests_in(s.access_log, "/static/css/app.css") == 0 for s in cluster.servers)

    # The PDF is rendered on first request by an app server, which answers with an empty body
    # and X-Accel-Redirect: nginx sends the file, with ranges and its own validators.
    status, headers, pdf = learner.request("/it/trial/second-look.pdf")
    assert status == 200, pdf[:300]
    assert pdf.startswith(b"%PDF-") and headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"].startswith("attachment; filename=")
    assert "X-Accel-Redirect" not in headers  # nginx consumes it
    # The app server logs the request just after nginx has its answer: wait for the line.
    deadline = time.monotonic() + 60
    while not (lines := _lines_with(cluster, "/it/trial/second-look.pdf")):
        assert time.monotonic() < deadline, "no access log line for the PDF"
        time.sleep(0.1)
    assert all('" 200 0 "' in line for line in lines), lines  # no body from the app
    status, headers, part = learner.request(
        "/it/trial/second-look.pdf", headers={"Range": "bytes=0-99"}
    )
    assert status == 206 and part == pdf[:100]
    status, _, _ = learner.request(
        "/it/trial/second-look.pdf", headers={"If-None-Match": headers["ETag"]}
    )
    assert status == 304

    # The internal location is not reachable from outside, even naming a real artefact.
    [artefact] = (cluster.media / "pdf" / "trial").glob("second-look.it.*.pdf")
    status, _, _ = learner.request(
        "/_accel/media/" + artefact.relative_to(cluster.media).as_posix()
    )
    assert status == 404
    # Only the full download is progress: not the range, not the revalidation.
    downloads = _count(
        cluster.database_url, "SELECT COUNT(*) FROM statements WHERE verb = 'downloaded'"
    )
    assert downloads == 1


@dataclass
class Outcome:
    """One request of the run: when it started and ended, and whether it succeeded."""

    start: float
    end: float
    ok: bool
    section: str | None = None
    detail: str = ""


@dataclass
class Run:
    """What every learner sent and got back."""

    outcomes: list[Outcome] = field(default_factory=list)
    killed_at: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


def test_killing_an_app_server_mid_run_loses_no_progress(cluster) -> None:
    """Traffic through nginx survives one app server dying; every accepted beacon is stored."""
    sections = _sections()
    learners, beacons_each = 8, 25
    kill_after = learners * beacons_each // 3  # accepted beacons before the kill
    victim, survivor = cluster.servers
    run = Run()
    kill_now = threading.Event()
    read_back: dict[int, set[str]] = {}
    accepted_by: dict[int, set[str]] = {}
    before = _count(
        cluster.database_url, "SELECT COUNT(*) FROM statements WHERE verb = 'experienced'"
    )

    def learner_loop(number: int) -> None:
        learner = Learner(cluster.url)
        learner.start()
        accepted_by[number] = set()
        for step in range(beacons_each):
            section = sections[(number + step) % len(sections)]
            start = time.monotonic()
            try:
                if step % 5 == 4:  # now and then the learner opens the page again
                    status, _, body = learner.request(MODULE)
                    section = None
                else:
                    status, _, body = learner.request(
                        MODULE + "progress",
                        body={"verb": "section-read", "section": section, "seconds": 600},
                    )
                ok, detail = status == 200, f"{status} {body[:120]!r}"
            except (OSError, http.client.HTTPException) as error:
                # Cut off mid-answer (the server died after nginx had sent the headers).
                ok, detail = False, repr(error)
            outcome = Outcome(start, time.monotonic(), ok, section, detail)
            with run.lock:
                run.outcomes.append(outcome)
                accepted = sum(1 for o in run.outcomes if o.ok and o.section)
            if ok and section is not None:
                accepted_by[number].add(section)
                read_back[number] = set(json.loads(body)["read"])
            if accepted >= kill_after:
                kill_now.set()

    threads = [threading.Thread(target=learner_loop, args=(n,)) for n in range(learners)]
    for thread in threads:
        thread.start()
    assert kill_now.wait(timeout=300), "the learners never got going"
    run.killed_at = time.monotonic()
    victim.kill()
    dead_at = time.monotonic()  # SIGKILL sent and its port refusing connections
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads)

    # Only requests in flight on the dead server when it died may fail (a page GET is retried
    # on the survivor by nginx unless its answer had begun; a POST it had passed on is not, so
    # it is never stored twice): at most one per learner. Every later request went to the
    # survivor.
    failed = [o for o in run.outcomes if not o.ok]
    assert len(run.outcomes) == learners * beacons_each
    assert len(failed) <= learners, [o.detail for o in failed]
    in_flight = [o for o in failed if o.start <= dead_at and o.end >= run.killed_at]
    assert in_flight == failed, [o.detail for o in failed]
    after_kill = [o for o in run.outcomes if o.start > dead_at]
    assert after_kill and all(o.ok for o in after_kill)
    assert _requests_in(survivor.access_log, "/it/trial/first-steps/progress") > 0

    # Every beacon the server accepted is stored in PostgreSQL; a failed one may be too (it
    # was committed before its answer was cut off), never twice (POSTs are not retried).
    accepted = sum(1 for o in run.outcomes if o.ok and o.section)
    posted_failures = sum(1 for o in failed if o.section)
    stored = (
        _count(cluster.database_url, "SELECT COUNT(*) FROM statements WHERE verb = 'experienced'")
        - before
    )
    assert accepted <= stored <= accepted + posted_failures
    # Each learner's progress, as the server read it back after its last beacon, holds every
    # section it was told was stored.
    for number, sent in accepted_by.items():
        assert sent <= read_back[number]
    learners_with_progress = _count(
        cluster.database_url,
        "SELECT COUNT(DISTINCT learner) FROM module_progress WHERE module_id = 'first-steps'",
    )
    assert learners_with_progress == learners
