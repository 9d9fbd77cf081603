"""The task queue (app/tasks.py) with real Huey on SQLite and on a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app import tasks
from tests import queue_tasks as gates
from tests.conftest import ROOT, make_app
from tests.queue_tasks import always_fails, build_artefact, flaky, gated, hang
from tests.redis_server import redis_server


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
def queue_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        return request.getfixturevalue("redis_url")
    return f"sqlite:///{tmp_path / 'queue.sqlite3'}"


def queue_app(tmp_path: Path, url: str, name: str, **extra: object) -> Flask:
    """An app on the given queue; the name keeps tests apart on the shared Redis."""
    content = tmp_path / "content"
    content.mkdir(exist_ok=True)
    return make_app(tmp_path, content, migrate=False, QUEUE_URL=url, QUEUE_NAME=name, **extra)


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_for(predicate, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def test_queued_jobs_survive_a_restart_and_run_in_the_app(tmp_path: Path, queue_url: str) -> None:
    log = tmp_path / "log"
    name = f"q{uuid.uuid4().hex[:8]}"
    first = queue_app(tmp_path, queue_url, name)
    with first.app_context():
        ids = [build_artefact.enqueue(str(log), "a"), build_artefact.enqueue(str(log), "b")]
    assert all(ids) and lines(log) == []  # nothing runs without a worker
    tasks.queue_for(first).huey.storage.close()

    # A new process would build a new app: same storage, a new Queue object.
    second = queue_app(tmp_path, queue_url, name)
    with tasks.running_worker(second):
        tasks.wait_idle(second)
    assert [line.split()[:2] for line in lines(log)] == [
        ["start", "a"],
        ["end", "a"],
        ["start", "b"],
        ["end", "b"],
    ]
    queue = tasks.queue_for(second)
    assert {queue.job(i).state for i in ids} == {"done"}
    assert queue.job(ids[0]).attempts == 1


def test_one_artefact_never_builds_twice_at_once(tmp_path: Path, queue_url: str) -> None:
    log = tmp_path / "log"
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}", QUEUE_LEASE_SECONDS=5)
    with tasks.running_worker(app, workers=3), app.app_context():
        first = build_artefact.enqueue(str(log), "x", 1.5)
        wait_for(lambda: "start x" in log.read_text() if log.exists() else False)
        # x is being built: a second build of x waits, one of y runs alongside.
        second = build_artefact.enqueue(str(log), "x", 0.1)
        other = build_artefact.enqueue(str(log), "y", 0.1)
        assert first and second and other
        wait_for(lambda: tasks.queue_for(app).job(second).state == "waiting")
        # While the second build waits, a third request for x is folded into it.
        assert build_artefact.enqueue(str(log), "x", 0.1) == ""
        tasks.wait_idle(app)
    events = [line.split()[:2] for line in lines(log)]
    x_events = [e[0] for e in events if e[1] == "x"]
    assert x_events == ["start", "end", "start", "end"]  # never overlapping
    # y did not wait for x: it started while the first x was being built.
    assert events.index(["start", "y"]) < events.index(["end", "x"])
    assert tasks.queue_for(app).job(second).state == "done"


def test_failures_retry_with_back_off_then_succeed(tmp_path: Path, queue_url: str) -> None:
    log = tmp_path / "log"
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}")
    with tasks.running_worker(app), app.app_context():
        job_id = flaky.enqueue(str(log), 2)
        tasks.wait_idle(app)
    stamps = [float(line.split()[1]) for line in lines(log)]
    assert len(stamps) == 3
    # Delays of 0.2 s then 0.4 s at least (back-off factor 2).
    assert stamps[1] - stamps[0] >= 0.2 and stamps[2] - stamps[1] >= 0.4
    job = tasks.queue_for(app).job(job_id)
    assert job.state == "done" and job.attempts == 3 and job.error == ""


def test_a_job_that_keeps_failing_is_marked_failed_with_its_error(
    tmp_path: Path, queue_url: str
) -> None:
    log = tmp_path / "log"
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}")
    with tasks.running_worker(app), app.app_context():
        job_id = always_fails.enqueue(str(log))
        wait_for(lambda: tasks.queue_for(app).job(job_id).state == "failed")
        tasks.wait_idle(app)
    assert len(lines(log)) == 2  # the run and its one retry
    job = tasks.queue_for(app).job(job_id)
    assert job.error == "RuntimeError: engine broken" and job.attempts == 2
    assert [j.id for j in tasks.queue_for(app).jobs()] == [job_id]


def test_a_job_whose_worker_was_killed_runs_again(tmp_path: Path, queue_url: str) -> None:
    """`flask worker` is killed with SIGKILL mid-job; once its lease lapses, another runs it."""
    log = tmp_path / "log"
    name = f"q{uuid.uuid4().hex[:8]}"
    app = queue_app(tmp_path, queue_url, name, QUEUE_LEASE_SECONDS=1)
    env = {
        **os.environ,
        "QUEUE_TEST_CONTENT": str(tmp_path / "content"),
        "QUEUE_TEST_DATABASE": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "QUEUE_TEST_URL": queue_url,
        "QUEUE_TEST_LEASE": "1",
        "ACADEMY_QUEUE_NAME": name,
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "tests.queue_app", "worker", "--threads", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with app.app_context():
            job_id = hang.enqueue(str(log), "z")
        wait_for(lambda: "start z" in log.read_text() if log.exists() else False, timeout=30)
        assert tasks.queue_for(app).job(job_id).state == "running"
    finally:
        worker.send_signal(signal.SIGKILL)
        output = worker.communicate(timeout=10)[0].decode()
    assert "Worker on" in output and "queue_tasks.hang" in output

    with tasks.running_worker(app):
        wait_for(lambda: "end z" in log.read_text())
        tasks.wait_idle(app)
    assert [line.split()[:2] for line in lines(log)] == [
        ["start", "z"],
        ["start", "z"],
        ["end", "z"],
    ]
    job = tasks.queue_for(app).job(job_id)
    assert job.state == "done" and job.attempts == 2


def test_the_server_starts_its_worker_thread_with_the_first_request(tmp_path: Path) -> None:
    log = tmp_path / "log"
    url = f"sqlite:///{tmp_path / 'server-queue.sqlite3'}"
    app = queue_app(tmp_path, url, "academy", QUEUE_WORKER="thread")
    try:
        with app.app_context():
            build_artefact.enqueue(str(log), "page")
        assert tasks.queue_for(app).pending() == 1
        app.test_client().get("/")  # any request: the worker thread starts with it
        wait_for(lambda: "end page" in log.read_text() if log.exists() else False)
        assert (tmp_path / "server-queue.sqlite3").is_file()
    finally:
        tasks.stop_thread_worker(app)


def test_a_queue_url_that_is_not_sqlite_or_redis_is_refused(tmp_path: Path) -> None:
    app = queue_app(tmp_path, "amqp://somewhere", "academy")
    with pytest.raises(RuntimeError, match="neither sqlite"):
        tasks.queue_for(app)


# --- races between a run ending and the recovery and heartbeat loops (forced interleavings) ---


def test_recovery_never_reruns_a_job_that_ended_after_its_snapshot(
    tmp_path: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """recover() reads the in-flight records, then checks each lease. A run that ends in
    between (record deleted, then lease released) looks dead on a stale snapshot; it must not
    be queued again (it was: a second run, and a job marked queued after it was done)."""
    log = tmp_path / "log"
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}")
    queue = tasks.queue_for(app)
    gates.GATES["r"] = threading.Event()
    with tasks.running_worker(app), app.app_context():
        job_id = gated.enqueue(str(log), "r")
        # The in-flight record is written just before the task starts and logs.
        wait_for(lambda: queue.in_flight() == 1 and log.exists() and "start r" in log.read_text())
        real = queue.lease_holder

        def run_ends_first(key: str) -> str:
            gates.GATES["r"].set()  # the run ends now, after recover() took its snapshot
            wait_for(lambda: queue.in_flight() == 0 and queue.job(job_id).state == "done")
            return real(key)

        monkeypatch.setattr(queue, "lease_holder", run_ends_first)
        assert queue.recover() == 0
        monkeypatch.setattr(queue, "lease_holder", real)
        tasks.wait_idle(app)
    assert [line.split()[:2] for line in lines(log)] == [["start", "r"], ["end", "r"]]
    job = queue.job(job_id)
    assert job.state == "done" and job.attempts == 1


def test_a_heartbeat_racing_the_end_of_a_run_leaves_no_lease_behind(
    tmp_path: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat reads a run's lease, the run ends and releases it, the heartbeat writes
    the renewed lease: nobody holds it then, and the artefact's next build would wait a lease."""
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}")
    queue = tasks.queue_for(app)
    key, run = "artefact:h", "job-h:run1"
    assert queue.acquire(key, run)
    queue._running[run] = key  # the run is going on in this process
    real_get = queue._get
    ended = []

    def run_ends_after_the_read(storage_key: str):  # type: ignore[no-untyped-def]
        value = real_get(storage_key)
        if storage_key.endswith(key) and not ended:
            ended.append(True)
            queue.finish(run, key)  # between the heartbeat's read and its write
        return value

    monkeypatch.setattr(queue, "_get", run_ends_after_the_read)
    queue.heartbeat()
    monkeypatch.setattr(queue, "_get", real_get)
    assert ended and queue.lease_holder(key) == ""
    assert queue.acquire(key, "job-next:run1")  # the next build of the artefact starts at once


def test_a_recovered_job_that_ends_at_once_is_not_left_marked_queued(
    tmp_path: Path, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """recover() queues a dead run's job again; a worker may run it to the end before
    recover() returns. The job's record must say done then, not queued (waiting forever)."""
    log = tmp_path / "log"
    app = queue_app(tmp_path, queue_url, f"q{uuid.uuid4().hex[:8]}", QUEUE_LEASE_SECONDS=1)
    queue = tasks.queue_for(app)
    with app.app_context():
        job_id = build_artefact.enqueue(str(log), "d")
    # What a worker killed mid-run leaves: its task taken off the queue, an in-flight record,
    # a lease that has lapsed, and the job marked running.
    task = queue.huey.dequeue()
    assert task is not None and task.id == job_id
    run = f"{job_id}:dead"
    queue._put(
        "inflight:" + run,
        {"lease": "artefact:d", "run": run, "job": job_id,
         "task": queue.huey.serialize_task(task).hex(), "owner": "killed"},
    )  # fmt: skip
    queue._put("lease:artefact:d", {"owner": run, "until": time.time() - 1})
    queue.update_job(job_id, state="running", attempts=1)
    storage = queue.huey.storage
    real_enqueue = storage.enqueue

    def runs_at_once(data: bytes, priority=None):  # type: ignore[no-untyped-def]
        real_enqueue(data, priority)
        queue.update_job(job_id, state="done")  # an idle worker took it and finished

    monkeypatch.setattr(storage, "enqueue", runs_at_once)
    assert queue.recover() == 1
    monkeypatch.setattr(storage, "enqueue", real_enqueue)
    assert queue.job(job_id).state == "done"
    assert queue.recover() == 0  # claimed once: a second recovery finds nothing to claim
    with tasks.running_worker(app):
        tasks.wait_idle(app)
    assert [line.split()[:2] for line in lines(log)] == [["start", "d"], ["end", "d"]]
    assert queue.job(job_id).state == "done"
