"""The task queue: long work (audio, PDF, forwarding statements) runs here, never in a request.

Built on Huey (a small, well-kept queue with SQLite and Redis storages behind one API). The
embedded default keeps the queue in `instance/queue.sqlite3`; `ACADEMY_QUEUE_URL=redis://host:
6379/0` puts it on Redis for several machines, with the same code.

Declare a task (at import time, in any module)::

    from app import tasks

    @tasks.task(retries=5, retry_delay=2.0, lock=lambda course, module: f"pdf:{course}/{module}")
    def rebuild_pdf(course: str, module: str) -> None:
        ...                      # runs inside an app context; raise to retry with back-off

Enqueue it (from a view, a CLI command or another task)::

    job_id = rebuild_pdf.enqueue("omnichannel", "01-intro")   # -> Huey task id, or "" if coalesced

Run the worker: `flask worker` (its own process, production); under `flask run` a worker thread
starts in the server process when QUEUE_WORKER is "thread" (the default for the SQLite queue).
In tests: `with tasks.running_worker(app): ...` runs the real consumer in threads, and
`tasks.wait_idle(app)` waits until every due job has finished.

Inside a task, `tasks.report_progress(done, total)` feeds the studio's job list and
`tasks.retries_left()` says whether this is the last try. `@tasks.periodic(seconds=2)` declares a
cheap check (watching files) that every worker runs in an app context and that may enqueue jobs.
A module that declares tasks is listed in TASK_MODULES, so `flask worker` imports it.

Guarantees, beyond Huey's own retries with back-off:
- a job never runs twice at once for the same artefact: each run holds a lease keyed by the
  task's `lock` (by task id when it has none), renewed by a heartbeat while it runs;
  a job that finds the lease taken waits (rescheduled, no retry spent);
- jobs survive a restart: queued and scheduled jobs live in the storage; a job that was running
  when its worker died is recorded as in flight and put back in the queue once its lease lapses;
- enqueueing a job whose artefact already has one waiting is a no-op (the waiting one will
  read the newest content when it runs);
- a task declared with `after` (lock-key prefixes of what it is made from) waits, without
  spending a retry, while a job for any such artefact is queued or running: a course file is
  joined only once the module files it is made of are rebuilt, with any number of workers.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from huey import RedisHuey, SqliteHuey
from huey.api import Huey, Task
from huey.constants import EmptyData
from huey.consumer import Consumer
from huey.exceptions import RetryTask

log = logging.getLogger(__name__)

EXTENSION = "academy.queue"
_LEASE = "lease:"
_TAKEOVER = "takeover:"
_INFLIGHT = "inflight:"
_WAITING = "waiting:"
_JOB = "job:"
# Finished jobs' records are kept this long for the studio, then pruned.
KEEP_FINISHED = 24 * 3600


@dataclass(frozen=True)
class TaskSpec:
    """A declared task: its function and how it is queued."""

    name: str
    func: Callable[..., Any]
    retries: int
    retry_delay: float
    backoff: float
    lock: Callable[..., str] | None
    label: Callable[..., str] | None
    after: Callable[..., list[str]] | None = None

    def lock_key(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The artefact this job works on ('' when the task declared none)."""
        return self.lock(*args, **kwargs) if self.lock else ""

    def enqueue(self, *args: Any, **kwargs: Any) -> str:
        """Queue a run on the current app's queue; return its job id ('' when coalesced)."""
        return queue_for(current_app).enqueue(self, args, kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the task here and now (no queue, no lease): for tests and CLI commands."""
        return self.func(*args, **kwargs)


_SPECS: dict[str, TaskSpec] = {}

# Modules that declare tasks: imported by every queue, so a `flask worker` process knows
# every task the server may enqueue. Add yours here.
TASK_MODULES: list[str] = ["app.builds", "app.xapi.tasks", "app.lti.grades"]


def import_task_modules() -> None:
    """Import every module in TASK_MODULES (their @task declarations register the tasks)."""
    for name in TASK_MODULES:
        importlib.import_module(name)


def task(
    *,
    retries: int = 5,
    retry_delay: float = 2.0,
    backoff: float = 2.0,
    lock: Callable[..., str] | None = None,
    label: Callable[..., str] | None = None,
    after: Callable[..., list[str]] | None = None,
) -> Callable[[Callable[..., Any]], TaskSpec]:
    """Declare a queued task.

    :param retries: runs after the first one when it raises (then the job is marked failed).
    :param retry_delay: seconds before the first retry; each later wait is `backoff` times longer.
    :param lock: maps the task's arguments to an artefact key; two jobs with the same key never
        run at once, and a second one is not queued while one is waiting.
    :param label: maps the arguments to the text the studio shows for the job.
    :param after: maps the arguments to lock-key prefixes; the job waits while a job whose
        lock key starts with one of them is queued, waiting or running.
    """

    def decorate(func: Callable[..., Any]) -> TaskSpec:
        name = f"{func.__module__}.{func.__qualname__}"
        spec = TaskSpec(name, func, retries, retry_delay, backoff, lock, label, after)
        _SPECS[name] = spec
        return spec

    return decorate


# --- progress, from inside a running job -------------------------------------------------------

_CURRENT: ContextVar[tuple[Queue, Task] | None] = ContextVar("academy_job", default=None)


def report_progress(done: int, total: int, note: str = "") -> None:
    """Record a running job's progress (shown in the studio); a no-op outside a job."""
    current = _CURRENT.get()
    if current is not None:
        queue, running = current
        queue.update_job(running.id, progress=[done, total], note=note)


def retries_left() -> int:
    """How many more runs the current job gets if this one raises (0 outside a job)."""
    current = _CURRENT.get()
    return int(current[1].retries) if current is not None else 0


# --- periodic hooks, run by every worker's heartbeat thread -------------------------------


@dataclass(frozen=True)
class Periodic:
    """A function every worker calls every `seconds`, in an app context."""

    name: str
    func: Callable[[], Any]
    seconds: float


_PERIODIC: dict[str, Periodic] = {}


def periodic(seconds: float) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Declare a cheap check each worker runs every `seconds` (e.g. watching files).

    It should only look and enqueue jobs: the work itself belongs in a task.
    """

    def decorate(func: Callable[[], Any]) -> Callable[[], Any]:
        name = f"{func.__module__}.{func.__qualname__}"
        _PERIODIC[name] = Periodic(name, func, seconds)
        return func

    return decorate


# --- the queue of one app -------------------------------------------------------------------


@dataclass
class Job:
    """What the studio shows of one job."""

    id: str
    name: str
    label: str
    state: str  # queued, running, waiting (for the artefact's lease), retrying, done, failed
    attempts: int = 0
    error: str = ""
    progress: list[int] = field(default_factory=list)
    note: str = ""
    updated: float = 0.0


def _huey_for(app: Flask) -> Huey:
    """The Huey instance that QUEUE_URL names (SQLite file by default)."""
    url = str(app.config.get("QUEUE_URL") or "")
    name = str(app.config.get("QUEUE_NAME") or "academy")
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey(name, url=url, results=False, blocking=True, read_timeout=1)
    if url.startswith("sqlite:///"):
        filename = url.removeprefix("sqlite:///")
    elif url:
        raise RuntimeError(
            f"ACADEMY_QUEUE_URL={url!r} is neither sqlite:///path nor redis://host:port/db."
        )
    else:
        filename = str(Path(app.instance_path) / "queue.sqlite3")
    Path(filename).parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=filename, results=False, timeout=10)


class Queue:
    """One app's queue: a Huey instance whose tasks run in the app's context."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.huey = _huey_for(app)
        self.lease_seconds = float(app.config.get("QUEUE_LEASE_SECONDS") or 60)
        self.wrappers: dict[str, Any] = {}
        # Runs in this process: run token -> lease key. A run token (job id + a fresh suffix)
        # owns the lease and the in-flight record, so a re-run of the same job (after a restart)
        # is never mistaken for the run that died.
        self._running: dict[str, str] = {}
        self._running_lock = threading.Lock()
        self.owner = f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        import_task_modules()
        self.sync()

    # Tasks declared after the queue was made (a blueprint imported later) are added on use.
    def sync(self) -> None:
        """Register with Huey every task declared so far."""
        for name, spec in list(_SPECS.items()):
            if name not in self.wrappers:
                self.wrappers[name] = self._register(spec)

    def _register(self, spec: TaskSpec) -> Any:
        queue = self

        def run(*args: Any, task: Task, **kwargs: Any) -> None:
            queue._run(spec, task, args, kwargs)

        run.__module__ = spec.func.__module__
        return self.huey.task(
            retries=spec.retries,
            retry_delay=spec.retry_delay,
            retry_backoff=spec.backoff,
            context=True,
            name=spec.func.__qualname__.replace(".", "_"),
        )(run)

    # --- storage helpers (Huey's key/value store, shared by every worker) ---

    def read(self, key: str) -> Any:
        """A JSON value kept in the queue's storage (shared by every worker), or None."""
        return self._get(key)

    def write(self, key: str, value: Any) -> None:
        """Keep a JSON value in the queue's storage."""
        self._put(key, value)

    def _get(self, key: str) -> Any:
        raw = self.huey.storage.peek_data(key)
        if raw is EmptyData:
            return None
        try:
            return json.loads(bytes(raw).decode("utf-8"))
        except ValueError:
            return None

    def _put(self, key: str, value: Any) -> None:
        self.huey.storage.put_data(key, json.dumps(value).encode("utf-8"))

    def _put_new(self, key: str, value: Any) -> bool:
        return bool(self.huey.storage.put_if_empty(key, json.dumps(value).encode("utf-8")))

    def _delete(self, key: str) -> None:
        self.huey.storage.delete_data(key)

    def _items(self, prefix: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key, raw in self.huey.storage.result_items().items():
            if key.startswith(prefix):
                try:
                    found[key] = json.loads(bytes(raw).decode("utf-8"))
                except ValueError:
                    continue
        return found

    # --- jobs ---

    def enqueue(self, spec: TaskSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """Queue a run of a declared task; '' when one for the same artefact is already waiting."""
        self.sync()
        key = spec.lock_key(args, kwargs)
        job_id = uuid.uuid4().hex
        if key:
            waiting = self._get(_WAITING + key)
            earlier = self.job(waiting["id"]) if waiting else None
            if earlier is not None and earlier.state in ("queued", "waiting"):
                return ""
            self._put(_WAITING + key, {"id": job_id})
        label = spec.label(*args, **kwargs) if spec.label else spec.name.rsplit(".", 1)[-1]
        self._put(_JOB + job_id, _job_record(job_id, spec.name, label, "queued"))
        wrapper = self.wrappers[spec.name]
        factor = float(self.app.config.get("QUEUE_RETRY_FACTOR") or 1.0)
        self.huey.enqueue(
            wrapper.task_class(args, kwargs, id=job_id, retry_delay=spec.retry_delay * factor)
        )
        return job_id

    def job(self, job_id: str) -> Job | None:
        """One job's record, or None once pruned."""
        record = self._get(_JOB + job_id)
        return Job(**record) if record else None

    def jobs(self) -> list[Job]:
        """Every job still on record, newest first."""
        records = [Job(**r) for r in self._items(_JOB).values()]
        return sorted(records, key=lambda j: j.updated, reverse=True)

    def update_job(self, job_id: str, **changes: Any) -> None:
        """Change fields of a job's record."""
        record = self._get(_JOB + job_id)
        if record is None:
            return
        record.update(changes, updated=time.time())
        self._put(_JOB + job_id, record)

    def pending(self) -> int:
        """Jobs queued or scheduled (for retry) and not yet running."""
        return int(self.huey.pending_count() + self.huey.scheduled_count())

    def in_flight(self) -> int:
        """Jobs recorded as running, in any worker."""
        return len(self._items(_INFLIGHT))

    # --- leases: one artefact, one running job ---

    def acquire(self, key: str, run: str) -> bool:
        """Take the artefact's lease for a run; False while another live run holds it."""
        lease = {"owner": run, "until": time.time() + self.lease_seconds}
        if self._put_new(_LEASE + key, lease):
            return True
        held = self._get(_LEASE + key)
        if held is None:
            return self._put_new(_LEASE + key, lease)
        if float(held.get("until", 0)) > time.time():
            return False
        # A lapsed lease (its worker died): only one taker may win it, so each stale lease
        # gets one take-over marker, written with put-if-empty.
        marker = f"{_TAKEOVER}{key}:{held.get('owner')}:{held.get('until')}"
        if not self._put_new(marker, {"by": run, "at": time.time()}):
            return False
        self._put(_LEASE + key, lease)
        return True

    def release(self, key: str, run: str) -> None:
        """Give the lease back (only if this run still holds it)."""
        held = self._get(_LEASE + key)
        if held and held.get("owner") == run:
            self._delete(_LEASE + key)

    def lease_holder(self, key: str) -> str:
        """The run (job id:token) holding an artefact's live lease, or ''."""
        held = self._get(_LEASE + key)
        if held and float(held.get("until", 0)) > time.time():
            return str(held.get("owner", ""))
        return ""

    def busy(self, key: str) -> bool:
        """Whether a job for this artefact is waiting or running (its output is being updated)."""
        if self.lease_holder(key):
            return True
        waiting = self._get(_WAITING + key)
        job = self.job(waiting["id"]) if waiting else None
        return job is not None and job.state in ("queued", "waiting", "running", "retrying")

    def busy_prefix(self, prefix: str) -> str:
        """The lock key of a job under `prefix` that is waiting or running, or '' if none."""
        now = time.time()
        for key, held in self._items(_LEASE + prefix).items():
            if float(held.get("until", 0)) > now:
                return key.removeprefix(_LEASE)
        for key, waiting in self._items(_WAITING + prefix).items():
            job = self.job(str(waiting.get("id", "")))
            if job is not None and job.state in ("queued", "waiting", "running"):
                return key.removeprefix(_WAITING)
        return ""

    def _running_now(self, run: str) -> bool:
        with self._running_lock:
            return run in self._running

    def heartbeat(self) -> None:
        """Renew the leases of the runs going on in this process."""
        with self._running_lock:
            running = dict(self._running)
        for run, key in running.items():
            held = self._get(_LEASE + key)
            if held and held.get("owner") == run:
                self._put(_LEASE + key, {"owner": run, "until": time.time() + self.lease_seconds})
                # The run may have ended and released the lease between our read and our
                # write, which then put back a lease nobody holds (its artefact would wait a
                # whole lease for nothing). A run leaves _running before it releases, so this
                # check, after the write, sees it gone: give the lease back for it.
                if not self._running_now(run):
                    self.release(key, run)

    def recover(self) -> int:
        """Put back in the queue the jobs whose worker died while running them; return how many."""
        recovered = 0
        for record_key, record in self._items(_INFLIGHT).items():
            run = str(record.get("run") or record_key.removeprefix(_INFLIGHT))
            job_id = str(record.get("job") or run.split(":", 1)[0])
            if self.lease_holder(record["lease"]) == run:
                continue  # still running somewhere
            # The snapshot above may be stale: a run that ended since then deleted its record
            # before it released its lease, so the lease looked free. Claim the record with an
            # atomic delete; nothing to claim means it ended (or another worker took it).
            if not self.huey.storage.delete_data(record_key):
                continue
            # The record first, then the queue: a fast run must never be marked queued after
            # it has finished (it would look busy forever).
            self.update_job(job_id, state="queued", note="restarted after its worker stopped")
            self.huey.storage.enqueue(bytes.fromhex(record["task"]))
            recovered += 1
        self._prune()
        return recovered

    def _prune(self) -> None:
        now = time.time()
        for key, record in self._items(_JOB).items():
            if (
                record.get("state") in ("done", "failed")
                and now - record["updated"] > KEEP_FINISHED
            ):
                self._delete(key)
        for key, record in self._items(_TAKEOVER).items():
            if now - float(record.get("at", 0)) > KEEP_FINISHED:
                self._delete(key)

    # --- running one job (in a worker thread) ---

    def _run(
        self, spec: TaskSpec, task: Task, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> None:
        job_id = task.id
        run = f"{job_id}:{uuid.uuid4().hex[:12]}"
        key = spec.lock_key(args, kwargs) or f"job:{job_id}"
        for prefix in spec.after(*args, **kwargs) if spec.after else []:
            before = self.busy_prefix(prefix)
            if before:
                self.update_job(job_id, state="waiting", note=f"waiting for {before}")
                raise RetryTask(delay=min(self.lease_seconds / 4, 1.0))
        if not self.acquire(key, run):
            self.update_job(job_id, state="waiting", note=f"waiting for {key}")
            # Not a failure: wait for the other job without spending a retry.
            raise RetryTask(delay=min(self.lease_seconds / 4, 2.0))
        if spec.lock and (self._get(_WAITING + key) or {}).get("id") == job_id:
            self._delete(_WAITING + key)
        self._put(
            _INFLIGHT + run,
            {
                "lease": key,
                "run": run,
                "job": job_id,
                "task": self.huey.serialize_task(task).hex(),
                "owner": self.owner,
            },
        )
        with self._running_lock:
            self._running[run] = key
        record = self._get(_JOB + job_id) or _job_record(job_id, spec.name, spec.name, "queued")
        attempts = int(record.get("attempts", 0)) + 1
        self.update_job(job_id, state="running", attempts=attempts, error="")
        token = _CURRENT.set((self, task))
        interrupted = False
        try:
            with self.app.app_context():
                spec.func(*args, **kwargs)
        except KeyboardInterrupt:
            interrupted = True  # the worker is stopping: leave the record for recover()
            raise
        except Exception as exc:
            last = task.retries == 0
            self.update_job(
                job_id,
                state="failed" if last else "retrying",
                error=f"{type(exc).__name__}: {exc}",
            )
            log.warning("job %s (%s) failed: %s", job_id, spec.name, traceback.format_exc())
            raise
        else:
            self.update_job(job_id, state="done", progress=[], note="")
        finally:
            _CURRENT.reset(token)
            self.finish(run, key, interrupted)

    def finish(self, run: str, key: str, interrupted: bool = False) -> None:
        """End a run's bookkeeping, in the order recover() and heartbeat() rely on:
        out of this process's running set, then its in-flight record, then its lease."""
        with self._running_lock:
            self._running.pop(run, None)
        if not interrupted:  # a stopping worker leaves the record: the job runs again later
            self._delete(_INFLIGHT + run)
        self.release(key, run)


def _job_record(job_id: str, name: str, label: str, state: str) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": name,
        "label": label,
        "state": state,
        "attempts": 0,
        "error": "",
        "progress": [],
        "note": "",
        "updated": time.time(),
    }


def queue_for(app: Flask) -> Queue:
    """The app's queue, made on first use (nothing connects at import or in create_app)."""
    app = getattr(app, "_get_current_object", lambda: app)()  # never keep the proxy
    queue = app.extensions.get(EXTENSION)
    if queue is None:
        queue = app.extensions.setdefault(EXTENSION, Queue(app))
    return queue


# --- workers ------------------------------------------------------------------------------


class Worker:
    """Huey's consumer for one app, plus our heartbeat and recovery loop."""

    def __init__(self, app: Flask, workers: int = 1, *, hooks: bool = True) -> None:
        self.app = queue_for(app).app
        self.hooks = hooks
        self._last_run: dict[str, float] = {}
        self.queue = queue_for(app)
        self.queue.sync()
        self.consumer: Consumer = self.queue.huey.create_consumer(
            workers=workers,
            worker_type="thread",
            initial_delay=0.05,
            backoff=1.5,
            max_delay=1.0,
            periodic=False,
            check_worker_health=True,
        )
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._beat_loop, name="queue-heartbeat", daemon=True)

    def _beat_loop(self) -> None:
        interval = max(min(self.queue.lease_seconds / 3, 1.0), 0.2)
        last_recover = time.monotonic()  # start() has just recovered
        while True:
            if self.hooks:
                self.run_hooks()
            if self._stop.wait(interval):
                return
            try:
                self.queue.heartbeat()
                if time.monotonic() - last_recover >= self.queue.lease_seconds / 3:
                    self.queue.recover()
                    last_recover = time.monotonic()
            except Exception:  # the storage may be briefly away (Redis restart): try again
                log.exception("queue heartbeat failed")

    def run_hooks(self) -> None:
        """Call the periodic hooks that are due (each in the app's context)."""
        import_task_modules()
        now = time.monotonic()
        for hook in list(_PERIODIC.values()):
            if now - self._last_run.get(hook.name, -1e9) < hook.seconds:
                continue
            self._last_run[hook.name] = now
            try:
                with self.app.app_context():
                    hook.func()
            except Exception:
                log.exception("periodic hook %s failed", hook.name)

    def start(self) -> None:
        """Start in background threads (no signal handlers: fine in a server's thread)."""
        self.queue.recover()
        self.consumer.scheduler.start()
        for _, thread in self.consumer.worker_threads:
            thread.start()
        self._beat.start()

    def stop(self) -> None:
        """Let running jobs finish, then stop."""
        self._stop.set()
        self.consumer.stop(graceful=True)
        self._beat.join(timeout=5)

    def run_forever(self) -> None:
        """Run in the foreground until SIGINT/SIGTERM (`flask worker`)."""
        self.queue.recover()
        self._beat.start()
        try:
            self.consumer.run()
        finally:
            self._stop.set()


@contextmanager
def running_worker(app: Flask, workers: int = 1, *, hooks: bool = False) -> Iterator[Worker]:
    """A real worker for the duration of a `with` block (tests, benchmarks).

    :param hooks: also run the periodic hooks (file watching), as a real worker does.
    """
    worker = Worker(app, workers, hooks=hooks)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def wait_idle(app: Flask, timeout: float = 30.0) -> None:
    """Wait until nothing is queued, scheduled or running; TimeoutError after `timeout` s."""
    queue = queue_for(app)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [j for j in queue.jobs() if j.state not in ("done", "failed")]
        if not busy and queue.pending() == 0 and queue.in_flight() == 0:
            return
        time.sleep(0.05)
    raise TimeoutError(f"queue still busy after {timeout} s: {queue.pending()} pending")


_THREAD_WORKERS: dict[int, Worker] = {}
_THREAD_LOCK = threading.Lock()


def start_thread_worker(app: Flask) -> None:
    """Start this process's worker thread once, when QUEUE_WORKER says so (`flask run`)."""
    with _THREAD_LOCK:
        if id(app) in _THREAD_WORKERS:
            return
        worker = Worker(app, workers=int(app.config.get("QUEUE_THREADS") or 1))
        worker.start()
        _THREAD_WORKERS[id(app)] = worker


def stop_thread_worker(app: Flask) -> None:
    """Stop the worker thread that start_thread_worker started for this app, if any."""
    with _THREAD_LOCK:
        worker = _THREAD_WORKERS.pop(id(app), None)
    if worker is not None:
        worker.stop()


def init_app(app: Flask) -> None:
    """Start the in-process worker with the first request, if configured to run one."""
    mode = str(app.config.get("QUEUE_WORKER") or "auto")
    if mode == "auto":
        url = str(app.config.get("QUEUE_URL") or "")
        mode = "off" if url.startswith(("redis", "unix")) or app.testing else "thread"
    if mode not in ("thread", "off"):
        raise RuntimeError(f"ACADEMY_QUEUE_WORKER={mode!r}: use auto, thread or off.")
    if mode == "thread":

        @app.before_request
        def _start_worker() -> None:
            start_thread_worker(app)
