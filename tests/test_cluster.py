"""Scale-out as scripts/cluster.py runs it: PostgreSQL, Redis, two app servers, nginx in front.

One cluster for the module (real Debian servers on loopback, in a temp dir): nginx sends static
files and built PDFs itself, the app only checks access (X-Accel-Redirect); learners keep
posting progress through nginx while one app server is killed, and nothing is lost.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
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
def faults(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where an app server that holds a request's answer says so (tests/cluster_app.py)."""
    return tmp_path_factory.mktemp("faults")


@pytest.fixture(scope="module")
def cluster(faults: Path) -> Iterator[object]:
    """The cluster the script starts, on the fixture course; stopped after the module.

    Its app servers run tests/cluster_app.py: the production app, which lets a test make the
    server that stored a chosen request die before answering it (nothing else changes).
    """
    with _cluster_module().Cluster(
        content=CONTENT,
        apps=2,
        workers=2,
        wsgi_app="tests.cluster_app:app",
        extra_env={"CLUSTER_TEST_FAULTS": str(faults)},
    ) as running:
        yield running


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect comes back as the answer (an HTTPError with its 3xx status)."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        """Never follow it."""
        return None


class Learner:
    """A browser: its own cookies, no redirects followed, every answer read whole."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )
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

    def form(
        self, path: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """POST a form as a browser does (urlencoded); the redirect is returned, not followed."""
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def start(self) -> None:
        """Open the module page and get a CSRF token as the page's script does."""
        status, headers, _ = self.request(MODULE)
        assert status == 200
        assert "Set-Cookie" not in headers  # a first-time visitor's page: no session
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
    """Static files never reach an app server, hashed ones cached a year; PDFs: checked, sent."""
    learner = Learner(cluster.url)
    status, headers, body = learner.request("/static/css/app.css")
    assert status == 200 and headers["Server"] == "nginx"
    assert body == (ROOT / "static/css/app.css").read_bytes()
    assert all(_requests_in(s.access_log, "/static/css/app.css") == 0 for s in cluster.servers)
    assert headers["Cache-Control"] == "public, max-age=3600"  # no hash: an hour
    # The page names it with its content hash: nginx then sends it cached a year, immutable.
    status, _, page = learner.request(MODULE)
    [hashed] = re.findall(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page.decode())
    status, headers, body = learner.request(hashed)
    assert status == 200 and body == (ROOT / "static/css/app.css").read_bytes()
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["Server"] == "nginx"

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
    """One request of the run: what it was, when it started and ended, and how it went."""

    kind: str  # "beacon", "quiz" (the form's submission) or "page"
    start: float
    end: float
    ok: bool
    detail: str = ""


@dataclass
class Run:
    """What every learner sent and got back, and what is in flight right now."""

    outcomes: list[Outcome] = field(default_factory=list)
    pending: dict[int, tuple[str, float]] = field(default_factory=dict)
    beacon_ids: list[str] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stuck_posts(self, now: float) -> int:
        """POSTs unanswered for over a second: waiting on the hung server (the other is fast)."""
        with self.lock:
            return sum(
                1 for kind, start in self.pending.values() if kind != "page" and now - start > 1
            )


HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def _quiz_form(learner: Learner) -> dict[str, str]:
    """The quiz page's hidden fields (CSRF token, signed attempt) and one answer."""
    status, _, body = learner.request(MODULE + "quiz")
    assert status == 200
    fields = dict(HIDDEN_FIELD.findall(body.decode()))
    assert "csrf_token" in fields
    return fields


def _nginx_errors(cluster, since: int = 0) -> str:
    """nginx's error log from byte `since` on (a test reads only what happened in it)."""
    return (cluster.tmp / "nginx" / "nginx-error.log").read_bytes()[since:].decode(errors="replace")


def _nginx_log_size(cluster) -> int:
    return (cluster.tmp / "nginx" / "nginx-error.log").stat().st_size


def _all_up(cluster) -> None:
    """Every app server running and in nginx's rotation (a test before may have killed one)."""
    for server in list(cluster.servers):
        if server.process.poll() is None:
            continue
        fresh = cluster.revive(server)
        # nginx skips a server for its fail_timeout after a failure: wait until it sends it
        # requests again (probes named so that only nginx's copies can match).
        sent: list[str] = []
        deadline = time.monotonic() + 120
        while not any(f"/healthz?probe={p} " in fresh.access_log.read_text() for p in sent):
            assert time.monotonic() < deadline, f"nginx never sent {fresh.name} a request again"
            sent.append(uuid.uuid4().hex)
            assert Learner(cluster.url).request(f"/healthz?probe={sent[-1]}")[0] == 200
            time.sleep(0.2)


@dataclass
class Held:
    """A POST whose first copy an app server stored and is holding the answer of."""

    server: object  # the AppServer holding it
    status: str  # the answer it made and never sent
    thread: threading.Thread
    outcome: dict[str, object]
    log_from: int  # nginx's error log size when it was sent


def _stored_then_held(cluster, faults: Path, send) -> Held:  # type: ignore[no-untyped-def]
    """Send a request through nginx; return once the server it reached has stored it."""
    ticket = uuid.uuid4().hex
    outcome: dict[str, object] = {}

    def post() -> None:
        try:
            outcome["answer"] = send({"X-Test-Die-Before-Answer": ticket})
        except (OSError, http.client.HTTPException) as error:
            outcome["error"] = error

    log_from = _nginx_log_size(cluster)
    thread = threading.Thread(target=post)
    thread.start()
    held = faults / f"{ticket}.json"
    deadline = time.monotonic() + 120
    while not held.exists():
        assert thread.is_alive(), f"answered though no server held it: {outcome}"
        assert time.monotonic() < deadline, "no app server took the request"
        time.sleep(0.05)
    note = json.loads(held.read_text(encoding="utf-8"))
    [server] = [s for s in cluster.servers if s.address == note["bind"]]
    return Held(server, note["status"], thread, outcome, log_from)


def _answer_after_death(cluster, held: Held) -> tuple[int, dict[str, str], bytes]:
    """Kill the holding server; the answer the learner then gets (nginx's retry elsewhere)."""
    held.server.kill()  # type: ignore[attr-defined]
    held.thread.join(timeout=180)
    assert not held.thread.is_alive()
    assert "error" not in held.outcome, held.outcome
    nginx_log = _nginx_errors(cluster, held.log_from)
    address = held.server.address  # type: ignore[attr-defined]
    assert any(
        'request: "POST ' in line and f'upstream: "http://{address}/' in line
        for line in nginx_log.splitlines()
    ), nginx_log[-2000:]
    return held.outcome["answer"]  # type: ignore[return-value]


def test_a_new_guests_first_post_stored_by_a_server_that_died_unanswered_is_kept_once(
    cluster, faults: Path
) -> None:
    """A brand-new guest's first beacon, then another's first quiz submission: each is stored
    by a server that dies before answering; nginx sends the same request (same cookies) to the
    other, which answers as if it had been first. One statement, one attempt, one guest key:
    the key came with the CSRF token, so the retry does not draw another one.
    """
    _all_up(cluster)
    sections = _sections()
    guest = Learner(cluster.url)
    guest.start()
    beacon_id = str(uuid.uuid4())
    held = _stored_then_held(
        cluster,
        faults,
        lambda headers: guest.request(
            MODULE + "progress",
            body={"verb": "section-read", "section": sections[0], "seconds": 600, "id": beacon_id},
            headers=headers,
        ),
    )
    assert held.status.startswith("200 ")  # the dying server had stored it and said so
    one = f"SELECT COUNT(*) FROM statements WHERE uuid = '{beacon_id}'"
    assert _count(cluster.database_url, one) == 1  # stored before the server died
    status, _, body = _answer_after_death(cluster, held)
    assert status == 200, body[:300]
    assert json.loads(body)["read"] == [sections[0]]
    assert _count(cluster.database_url, one) == 1
    # The browser's next beacon goes with the same key: its progress holds both sections.
    status, _, body = guest.request(
        MODULE + "progress",
        body={"verb": "section-read", "section": sections[1], "seconds": 600,
              "id": str(uuid.uuid4())},
    )  # fmt: skip
    assert status == 200 and json.loads(body)["read"] == sorted(sections[:2])
    keys = (
        "SELECT COUNT(DISTINCT learner) FROM statements WHERE learner IN "
        f"(SELECT learner FROM statements WHERE uuid = '{beacon_id}')"
    )
    assert _count(cluster.database_url, keys) == 1

    _all_up(cluster)
    quizzer = Learner(cluster.url)
    status, headers, _ = quizzer.request(MODULE)
    assert status == 200 and "Set-Cookie" not in headers
    form = _quiz_form(quizzer)  # the quiz page gives the CSRF token (and the key with it)
    attempts_sql = "SELECT COUNT(*) FROM quiz_attempts"
    attempts_before = _count(cluster.database_url, attempts_sql)
    held = _stored_then_held(
        cluster, faults, lambda headers: quizzer.form(MODULE + "quiz", form, headers=headers)
    )
    assert held.status.startswith("303 ")
    assert _count(cluster.database_url, attempts_sql) == attempts_before + 1
    status, headers, body = _answer_after_death(cluster, held)
    assert status == 303, body[:300]
    token = headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert _count(cluster.database_url, attempts_sql) == attempts_before + 1
    # The review is shown only to the learner the attempt is stored under: this browser.
    status, _, review = quizzer.request(urllib.parse.urlsplit(headers["Location"]).path)
    assert status == 200, review[:300]
    attempted = (
        "SELECT COUNT(*) FROM statements WHERE verb = 'attempted' AND learner = "
        f"(SELECT learner FROM quiz_attempts WHERE token = '{token}')"
    )
    assert _count(cluster.database_url, attempted) == 1
    _all_up(cluster)


def test_killing_an_app_server_mid_run_fails_no_beacon_and_stores_each_once(cluster) -> None:
    """An app server hangs with requests in flight, then dies: nginx sends each again elsewhere.

    Beacons (by statement id) and quiz submissions (by signed attempt token) are idempotent, so
    nginx retries them even after the dead server had them: no learner sees an error, and the
    database holds each statement and each attempt exactly once.
    """
    _all_up(cluster)
    log_from = _nginx_log_size(cluster)  # a revived server has its predecessor's address
    sections = _sections()
    learners, steps = 8, 25
    kill_after = learners * steps // 3  # accepted beacons before the server hangs
    victim, survivor = cluster.servers
    run = Run()
    hang_now = threading.Event()
    read_back: dict[int, set[str]] = {}
    accepted_by: dict[int, set[str]] = {}
    statements_sql = "SELECT COUNT(*) FROM statements WHERE verb = '{}'"
    before = {
        verb: _count(cluster.database_url, statements_sql.format(verb))
        for verb in ("experienced", "attempted")
    }
    attempts_before = _count(cluster.database_url, "SELECT COUNT(*) FROM quiz_attempts")
    progress_sql = (
        "SELECT COUNT(DISTINCT learner) FROM module_progress WHERE module_id = 'first-steps'"
    )
    with_progress_before = _count(cluster.database_url, progress_sql)

    def step(learner: Learner, number: int, index: int) -> tuple[str, int, bytes, str]:
        section = sections[(number + index) % len(sections)]
        if index % 5 == 4:  # now and then the learner opens the page again
            return ("page", *learner.request(MODULE)[::2], "")
        if index % 5 == 2:  # and submits the quiz (blank answers are graded too)
            form = _quiz_form(learner)
            status, headers, body = learner.form(MODULE + "quiz", form)
            return "quiz", status, body, headers.get("Location", "")
        beacon_id = str(uuid.uuid4())
        status, _, body = learner.request(
            MODULE + "progress",
            body={"verb": "section-read", "section": section, "seconds": 600, "id": beacon_id},
        )
        if status == 200:
            accepted_by[number].add(section)
            read_back[number] = set(json.loads(body)["read"])
        return "beacon", status, body, beacon_id

    def learner_loop(number: int) -> None:
        learner = Learner(cluster.url)
        learner.start()
        accepted_by[number] = set()
        for index in range(steps):
            kind = "page" if index % 5 == 4 else "quiz" if index % 5 == 2 else "beacon"
            start = time.monotonic()
            with run.lock:
                run.pending[number] = (kind, start)
            try:
                kind, status, body, key = step(learner, number, index)
                ok = status == (303 if kind == "quiz" else 200)
                detail = f"{kind} {status} {body[:120]!r}"
            except (OSError, http.client.HTTPException) as error:
                # Cut off mid-answer (the server died after nginx had sent the headers).
                ok, key, detail = False, "", f"{kind} {error!r}"
            with run.lock:
                del run.pending[number]
                run.outcomes.append(Outcome(kind, start, time.monotonic(), ok, detail))
                if ok and kind == "beacon":
                    run.beacon_ids.append(key)
                elif ok and kind == "quiz":
                    run.attempts.append(key)
                accepted = len(run.beacon_ids)
            if accepted >= kill_after:
                hang_now.set()

    threads = [threading.Thread(target=learner_loop, args=(n,)) for n in range(learners)]
    for thread in threads:
        thread.start()
    assert hang_now.wait(timeout=300), "the learners never got going"
    victim.freeze()
    frozen_at = time.monotonic()
    # Wait until learners are stuck on the hung server: requests nginx has handed to it (well
    # before a learner would give up on its request).
    deadline = frozen_at + 30
    while run.stuck_posts(time.monotonic()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    killed_at = time.monotonic()
    victim.kill()
    dead_at = time.monotonic()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads)
    assert len(run.outcomes) == learners * steps

    # nginx had handed POSTs to the hung server and sent them again when it died.
    nginx_log = _nginx_errors(cluster, log_from)
    handed = [
        line
        for line in nginx_log.splitlines()
        if 'request: "POST ' in line and f'upstream: "http://{victim.address}/' in line
    ]
    assert handed, nginx_log[-2000:]
    # Not one beacon or quiz submission failed; a page whose answer had begun when its server
    # died cannot be sent again (nginx had passed its headers on): only those may fail.
    posts_failed = [o.detail for o in run.outcomes if o.kind != "page" and not o.ok]
    assert posts_failed == []
    pages_failed = [o for o in run.outcomes if not o.ok]
    assert all(o.start <= dead_at and o.end >= killed_at for o in pages_failed), [
        o.detail for o in pages_failed
    ]
    after_kill = [o for o in run.outcomes if o.start > dead_at]
    assert after_kill and all(o.ok for o in after_kill)
    assert _requests_in(survivor.access_log, "/it/trial/first-steps/progress") > 0

    # Each statement exactly once: as many 'experienced' as beacons sent, each id once; each
    # submitted quiz graded once (one attempt, one 'attempted', whatever nginx retried).
    beacons = len(run.beacon_ids)
    assert beacons == sum(1 for o in run.outcomes if o.kind == "beacon")
    stored = _count(cluster.database_url, statements_sql.format("experienced"))
    assert stored - before["experienced"] == beacons
    ids = ",".join(f"'{i}'" for i in run.beacon_ids)
    assert (
        _count(
            cluster.database_url,
            f"SELECT COUNT(DISTINCT uuid) FROM statements WHERE uuid IN ({ids})",
        )
        == len(set(run.beacon_ids))
        == beacons
    )
    submitted = len(run.attempts)
    assert submitted == sum(1 for o in run.outcomes if o.kind == "quiz")
    assert len(set(run.attempts)) == submitted  # each form a new attempt of its own
    attempts = _count(cluster.database_url, "SELECT COUNT(*) FROM quiz_attempts")
    assert attempts - attempts_before == submitted
    attempted = _count(cluster.database_url, statements_sql.format("attempted"))
    assert attempted - before["attempted"] == submitted
    # Each learner's progress, as the server read it back after its last beacon, holds every
    # section it was told was stored.
    for number, sent in accepted_by.items():
        assert sent <= read_back[number]
    assert _count(cluster.database_url, progress_sql) - with_progress_before == learners
