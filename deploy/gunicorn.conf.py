"""Gunicorn settings for Omnichannel Academy: `make run`, the cluster script and systemd use this.

Every value can be overridden from the environment (names below) or on gunicorn's command line.
Reload code and settings without dropping a request: `kill -HUP $(cat instance/gunicorn.pid)`
(or `make reload`): gunicorn starts new workers, then lets the old ones finish their requests.
"""

from __future__ import annotations

import multiprocessing
import os

from app.gunicorn_wire import install as install_one_write_responses

# Where to listen: ACADEMY_BIND ("127.0.0.1:5000", "unix:/run/academy.sock"), else HOST:PORT.
bind = [
    os.environ.get("ACADEMY_BIND")
    or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '5000')}"
]

# One process per core plus one, four threads each: a page is CPU work of about a millisecond
# and a write waits on the database, so a few threads per process keep every core busy. More
# processes only contend: a 5,000-learner `make load` on 2 cores gave p95 1,400 ms with five
# (gunicorn's advice for sync workers, 2 x cores + 1, using 1.33 cores), 370 ms with three
# (1.10 cores) and 450 ms with two.
# Threads, not sync workers: a sync worker is held by one connection until the client
# has sent its whole request, so without a buffering front server (`make run`, `make load`) slow
# or CPU-starved clients tie up every worker until WORKER TIMEOUT kills them (a 5,000-learner
# `make load`: 792 errors, p95 56 s with sync workers; 0 errors with these). A gthread worker has
# several threads, hands a connection that stays silent back to its event loop (after 5 s in
# gunicorn 27), keeps connections alive between requests, and goes on answering the arbiter's
# heartbeat while a thread waits, so it is not killed with the requests it holds.
# WEB_CONCURRENCY (the usual name) sets the process count explicitly.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() + 1)
worker_class = os.environ.get("ACADEMY_WORKER_CLASS", "gthread")
threads = int(os.environ.get("ACADEMY_THREADS", "4"))
# A request running longer than this is stuck: the worker is replaced and the error logged.
timeout = int(os.environ.get("ACADEMY_WORKER_TIMEOUT", "30"))
# On HUP or TERM, workers get this long to finish the requests they hold.
graceful_timeout = int(os.environ.get("ACADEMY_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Pending connections the kernel queues while every worker is busy (a burst of learners).
backlog = int(os.environ.get("ACADEMY_BACKLOG", "2048"))

# A response's headers go out with its body's first bytes, in one write: a server that dies
# between the two would leave nginx holding headers it has passed on, unable to retry the
# request elsewhere (app/gunicorn_wire.py).
install_one_write_responses()

pidfile = os.environ.get("ACADEMY_PIDFILE", "instance/gunicorn.pid")
# The front server's address: only it may set X-Forwarded-* (the app's PROXY_HOPS reads them).
forwarded_allow_ips = os.environ.get("ACADEMY_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "academy"
# Gunicorn 24+ opens a control socket at one path in $HOME: two servers on one machine (the
# cluster's app servers, parallel tests) would take it from each other, and `make reload` signals
# the pid file instead. Older releases ignore the unknown setting.
control_socket_disable = True

# Logs. "-" is stderr (journald under systemd); a path appends to that file.
accesslog = os.environ.get("ACADEMY_ACCESS_LOG", "-")
errorlog = os.environ.get("ACADEMY_ERROR_LOG", "-")
loglevel = os.environ.get("ACADEMY_LOG_LEVEL", "info").lower()
# The access log is the NCSA combined format with the time taken in milliseconds at the end:
# 127.0.0.1 - - [01/Dec/2026:10:30:00 +0000] "GET /it/ HTTP/1.1" 200 5123 "-" "curl/8.5" 3ms
# (client, -, user, [time], "request line", status, bytes, "referer", "user agent", duration).
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
# Error log and the app's own log lines share one format:
# 2026-12-01 10:30:00,123 [4242] INFO app.content: message


def _handler(target: str, formatter: str, stream: str) -> dict[str, str]:
    """A logging handler for "-" (a standard stream) or a file path."""
    if target == "-":
        return {"class": "logging.StreamHandler", "formatter": formatter, "stream": stream}
    return {"class": "logging.FileHandler", "formatter": formatter, "filename": target}


logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"},
        # gunicorn formats access lines itself with access_log_format.
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error": _handler(errorlog, "plain", "ext://sys.stderr"),
        "access": _handler(accesslog, "access", "ext://sys.stdout"),
    },
    "root": {"level": loglevel.upper(), "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}

# The task queue (app/tasks.py). Its jobs run in ONE `flask worker` process, never in a thread of
# each gunicorn worker: gunicorn's workers are told QUEUE_WORKER=off. ACADEMY_RUN_QUEUE_WORKER
# says whether this master starts that process itself: "auto" (the default) does for the
# embedded SQLite queue, where a single host serves; "0" when a separate service runs
# `flask worker` (systemd's academy-worker.service, the cluster script), "1" to force it.
# The process is kept on the arbiter (`server`): HUP re-reads this file, the arbiter stays.
os.environ["ACADEMY_QUEUE_WORKER"] = "off"


def _wants_queue_worker() -> bool:
    setting = os.environ.get("ACADEMY_RUN_QUEUE_WORKER", "auto").lower()
    if setting == "auto":
        return not os.environ.get("ACADEMY_QUEUE_URL", "").startswith(("redis", "unix"))
    return setting in {"1", "true", "yes", "on"}


def _start_queue_worker(server) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    if not _wants_queue_worker():
        return
    env = {**os.environ, "FLASK_APP": os.environ.get("FLASK_APP", "wsgi")}
    process = subprocess.Popen([sys.executable, "-m", "flask", "worker"], env=env)
    server.academy_queue_worker = process
    server.log.info("Started the queue worker (flask worker, pid %s)", process.pid)


def _stop_queue_worker(server) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    process = getattr(server, "academy_queue_worker", None)
    server.academy_queue_worker = None
    if not isinstance(process, subprocess.Popen) or process.poll() is not None:
        return
    process.terminate()  # the worker finishes its running job, then exits
    try:
        process.wait(timeout=graceful_timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    server.log.info("Stopped the queue worker (pid %s)", process.pid)


def on_starting(server) -> None:  # type: ignore[no-untyped-def]
    """Start the queue worker once, with the master."""
    _start_queue_worker(server)


def on_reload(server) -> None:  # type: ignore[no-untyped-def]
    """HUP: the queue worker restarts too, so it runs the new code."""
    _stop_queue_worker(server)
    _start_queue_worker(server)


def on_exit(server) -> None:  # type: ignore[no-untyped-def]
    """The master stops: so does the queue worker it started."""
    _stop_queue_worker(server)
