"""Real servers for benchmarks and load tests: gunicorn on a free loopback port, wrk, timing.

Everything binds 127.0.0.1 on a port probed free, lives in a temp dir, and is stopped by the
code that started it.
"""

from __future__ import annotations

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
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def app_env(tmp: Path, content: Path, **extra: str) -> dict[str, str]:
    """Environment for our app on loopback: its own SQLite, media folder and secret."""
    env = {
        **os.environ,
        "ACADEMY_CONTENT_DIR": str(content),
        "ACADEMY_DATABASE_URL": f"sqlite:///{tmp / 'academy.sqlite3'}",
        "ACADEMY_MEDIA_DIR": str(tmp / "media"),
        "ACADEMY_SECRET_KEY": "bench-" + "k" * 40,
        "ACADEMY_SECURE_COOKIES": "0",
        "ACADEMY_LOG_LEVEL": "WARNING",
        "FLASK_APP": "wsgi",
    }
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    """`flask db upgrade` against the database `env` names."""
    subprocess.run(
        [str(BIN / "flask"), "db", "upgrade"],
        cwd=ROOT,
        env={"ACADEMY_BASE_URL": "http://127.0.0.1/", **env},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextmanager
def gunicorn(
    app: str, env: dict[str, str], tmp: Path, workers: int | None = None, port: int | None = None
) -> Iterator[str]:
    """Run `app` under gunicorn with deploy/gunicorn.conf.py; yield its base URL."""
    port = port or free_port()
    name = app.replace(":", "-").replace(".", "-")
    base = f"http://127.0.0.1:{port}"
    env = {
        **env,
        "ACADEMY_BIND": f"127.0.0.1:{port}",
        "ACADEMY_PIDFILE": str(tmp / f"{name}-{port}.pid"),
        "ACADEMY_ACCESS_LOG": os.devnull,
        "ACADEMY_ERROR_LOG": str(tmp / f"{name}-{port}.log"),
        "ACADEMY_BASE_URL": env.get("ACADEMY_BASE_URL", base + "/"),
    }
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", app],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(base + "/healthz", process, tmp / f"{name}-{port}.log")
        yield base
    finally:
        stop(process)


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"server at {url} did not start:\n{log.read_text() if log.exists() else ''}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """TERM a server we started, then KILL it if it does not stop in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wrk(
    url: str, seconds: int = 5, connections: int = 8, headers: dict[str, str] | None = None
) -> float:
    """Requests per second wrk measures against `url` (non-2xx responses fail the run)."""
    command = ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw error responses from {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no figure in wrk's output:\n{out}")
    return float(match.group(1))
