#!/usr/bin/env python3
"""Scale-out on loopback: PostgreSQL, Redis, app servers, a queue worker and nginx in front.

Everything runs from Debian's packages (postgresql, redis-server, nginx; `make cluster`
installs the missing ones) in one temp dir, binds 127.0.0.1 (PostgreSQL: a Unix socket only)
on ports probed free, and is stopped by this script when it ends. The app servers are gunicorn
with deploy/gunicorn.conf.py, each on its own port standing for its own host; nginx runs the
server block of deploy/nginx/academy.conf.in, the same file a real server uses
(docs/deployment.md): static files and built artefacts (X-Accel-Redirect) straight from the
disk, every other request to the app servers, retried on another when one is down.

    .venv/bin/python scripts/cluster.py up                 # start, print the address; Ctrl-C
    .venv/bin/python scripts/cluster.py load --learners 2000 --duration 3m --kill-one-after 90
    .venv/bin/python scripts/cluster.py nginx-site --listen 80 --server-name academy.example.org \\
        --upstream 10.0.0.11:8000 --upstream 10.0.0.12:8000 \\
        --static-dir /srv/academy/static --media-dir /srv/academy/media   # production file
"""

from __future__ import annotations

import argparse
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
NGINX_DIR = ROOT / "deploy" / "nginx"
ACCEL_PREFIX = "/_accel/media/"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def render(template: Path, values: dict[str, str]) -> str:
    """The template with each `{{ name }}` replaced; an unknown or unfilled name is an error."""
    text = template.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace("{{ " + name + " }}", value)
    if "{{ " in text:
        start = text.index("{{ ")
        raise ValueError(
            f"{template.name}: no value for {text[start : text.index('}}', start) + 2]}"
        )
    return text


def nginx_site(
    listen: str, server_name: str, upstreams: list[str], static_dir: Path, media_dir: Path
) -> str:
    """deploy/nginx/academy.conf.in filled in for these app servers and folders."""
    lines = "\n".join(f"    server {u} max_fails=3 fail_timeout=10s;" for u in upstreams)
    return render(
        NGINX_DIR / "academy.conf.in",
        {
            "upstreams": lines,
            "listen": listen,
            "server_name": server_name,
            "static_dir": str(static_dir),
            "media_dir": str(media_dir),
        },
    )


def _postgres_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: p.parent.parent.name
    )
    if not found:
        raise SystemExit("PostgreSQL server binaries not found (Debian package 'postgresql')")
    return found[-1].parent


def _wait(check, what: str, process: subprocess.Popen | None = None, seconds: float = 60) -> None:  # type: ignore[type-arg]
    """Poll `check()` until true; fail if `process` died or the time ran out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(16).startswith(b"+PONG")


def _stop_group(process: subprocess.Popen, seconds: float = 30) -> None:  # type: ignore[type-arg]
    """TERM the process group we started (a gunicorn master and its workers), then KILL it."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass


@dataclass
class AppServer:
    """One gunicorn master (a host of its own in production) and where it logs."""

    name: str
    port: int
    process: subprocess.Popen  # type: ignore[type-arg]
    access_log: Path
    error_log: Path

    @property
    def address(self) -> str:
        """host:port, as nginx's upstream names it."""
        return f"127.0.0.1:{self.port}"

    def freeze(self) -> None:
        """The host hangs: SIGSTOP to the master and every worker, until `kill`."""
        # The kernel still accepts connections on its port, so nginx goes on handing it
        # requests, which get no answer: requests in flight on the host when it dies.
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGSTOP)

    def kill(self) -> None:
        """The host dies: SIGKILL to the master and every worker at once, no goodbye."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        # The workers die a moment after the master is reaped; until the last one has, the
        # kernel still accepts connections on the port (and then resets them). Gone means
        # refused.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            except OSError:
                return
            time.sleep(0.01)


@dataclass
class Cluster:
    """The whole set-up in one temp dir; use as a context manager (it stops what it started)."""

    content: Path = ROOT / "content"
    apps: int = 2
    workers: int = 2
    build: bool = False
    pdf_only: bool = False  # build only the PDFs (what the load test downloads), not the audio
    quiet: bool = True
    # The app servers' WSGI entry point and extra environment (the cluster tests wrap the app
    # to make a host die at a chosen moment: tests/cluster_app.py).
    wsgi_app: str = "wsgi:app"
    extra_env: dict[str, str] = field(default_factory=dict)
    tmp: Path = field(init=False)
    url: str = field(init=False, default="")
    database_url: str = field(init=False, default="")
    redis_url: str = field(init=False, default="")
    servers: list[AppServer] = field(init=False, default_factory=list)
    _processes: list[subprocess.Popen] = field(init=False, default_factory=list)  # type: ignore[type-arg]
    _pg_started: bool = field(init=False, default=False)

    # -- the parts, in the order they start -------------------------------------------------

    def __enter__(self) -> Cluster:
        self.tmp = Path(tempfile.mkdtemp(prefix="academy-cluster-"))
        # Readable by the unprivileged accounts PostgreSQL and nginx's workers run as.
        self.tmp.chmod(0o755)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, message: str) -> None:
        print(f"cluster: {message}", flush=True)

    def _start(self) -> None:
        self.nginx_port = free_port()
        self.url = f"http://127.0.0.1:{self.nginx_port}"
        self.media = self.tmp / "media"
        self.media.mkdir()
        self._start_postgres()
        self._start_redis()
        self.env = self._app_env()
        self._flask("db", "upgrade")
        if self.build and self.pdf_only:
            self._log("building the PDFs the learners download (flask pdf build) ...")
            self._flask("pdf", "build")
        elif self.build:
            self._log("building audio and PDFs (flask content build) ...")
            self._flask("content", "build")
        self._start_worker()
        # Started together, then waited for: each imports the app in its own workers.
        starting = [self._start_app(number) for number in range(1, self.apps + 1)]
        for server in starting:
            _wait(
                lambda s=server: _http_ok(f"http://{s.address}/healthz"),  # type: ignore[misc]
                f"app server {server.name}",
                server.process,
            )
            self.servers.append(server)
        self._start_nginx()
        self._log(
            f"up at {self.url} ({self.apps} app servers x {self.workers} workers, "
            f"PostgreSQL, Redis, queue worker; files in {self.tmp})"
        )

    def _as_postgres(self) -> list[str]:
        # PostgreSQL refuses to run as root: the server then runs as the 'postgres' account.
        if os.getuid() != 0:
            return []
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        return ["runuser", "-u", "postgres", "--"]

    def _start_postgres(self) -> None:
        bindir = _postgres_bin()
        self.pg_dir = self.tmp / "pg"
        self.pg_dir.mkdir()
        as_owner = self._as_postgres()
        if as_owner:
            shutil.chown(self.pg_dir, "postgres")
        data = self.pg_dir / "data"
        subprocess.run(
            [*as_owner, str(bindir / "initdb"), "-D", str(data), "-U", "academy"]
            + ["--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            check=True,
            capture_output=True,
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{self.pg_dir}' "
            "-c fsync=off -c synchronous_commit=on -c max_connections=200"
        )
        subprocess.run(
            [*as_owner, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(self.pg_dir / "log")]
            + ["-w", "-o", options, "start"],
            check=True,
            capture_output=True,
        )
        self._pg_started = True
        self._pg_ctl = [*as_owner, str(bindir / "pg_ctl"), "-D", str(data)]
        subprocess.run(
            [str(bindir / "createdb"), "-h", str(self.pg_dir), "-U", "academy", "academy"],
            check=True,
        )
        self.database_url = f"postgresql+psycopg://academy@/academy?host={self.pg_dir}"

    def _start_redis(self) -> None:
        port = free_port()
        redis_dir = self.tmp / "redis"
        redis_dir.mkdir()
        process = self._spawn(
            [shutil.which("redis-server") or "/usr/bin/redis-server", "--bind", "127.0.0.1"]
            + ["--port", str(port), "--dir", str(redis_dir), "--save", "", "--appendonly", "no"],
            redis_dir / "redis.log",
        )
        _wait(lambda: _redis_ping(port), "redis-server", process)
        self.redis_url = f"redis://127.0.0.1:{port}"

    def _app_env(self) -> dict[str, str]:
        return {
            **os.environ,
            "FLASK_APP": "wsgi",
            "ACADEMY_CONTENT_DIR": str(self.content),
            "ACADEMY_DATABASE_URL": self.database_url,
            "ACADEMY_MEDIA_DIR": str(self.media),
            # One secret for every app server: a session signed by one is read by the others.
            "ACADEMY_SECRET_KEY": secrets.token_hex(32),
            "ACADEMY_BASE_URL": self.url + "/",
            "ACADEMY_SECURE_COOKIES": "0",  # plain http on loopback
            "ACADEMY_PROXY_HOPS": "1",  # nginx in front sets X-Forwarded-*
            "ACADEMY_ACCEL_REDIRECT": ACCEL_PREFIX,
            "ACADEMY_QUEUE_URL": self.redis_url + "/0",
            "ACADEMY_RATELIMIT_STORAGE_URI": self.redis_url + "/1",
            "ACADEMY_RUN_QUEUE_WORKER": "0",  # the cluster runs one `flask worker` of its own
            "ACADEMY_LOG_LEVEL": "WARNING",
            "WEB_CONCURRENCY": str(self.workers),
            **self.extra_env,
        }

    def _flask(self, *args: str) -> None:
        out = subprocess.run(
            [str(BIN / "flask"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if out.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")

    def _spawn(
        self, command: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen:  # type: ignore[type-arg]
        with log.open("ab") as handle:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopped (or killed) as one
            )
        self._processes.append(process)
        return process

    def _start_worker(self) -> None:
        self.worker = self._spawn(
            [str(BIN / "flask"), "worker"], self.tmp / "worker.log", env=self.env
        )

    def _start_app(self, number: int, port: int = 0) -> AppServer:
        port = port or free_port()
        name = f"app{number}"
        access, error = self.tmp / f"{name}-access.log", self.tmp / f"{name}-error.log"
        env = {
            **self.env,
            "ACADEMY_BIND": f"127.0.0.1:{port}",
            "ACADEMY_PIDFILE": str(self.tmp / f"{name}.pid"),
            "ACADEMY_ACCESS_LOG": str(access),
            "ACADEMY_ERROR_LOG": str(error),
        }
        process = self._spawn(
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", self.wsgi_app],
            self.tmp / f"{name}.out",
            env=env,
        )
        return AppServer(name, port, process, access, error)

    def revive(self, server: AppServer) -> AppServer:
        """Start a dead app server again on its port (the host is back); returns the new one.

        nginx sends it requests again once its fail_timeout (10 s) since the failure is over.
        """
        if server.process.poll() is None:
            return server
        index = self.servers.index(server)
        fresh = self._start_app(index + 1, port=server.port)
        _wait(
            lambda: _http_ok(f"http://{fresh.address}/healthz"),
            f"app server {fresh.name}",
            fresh.process,
        )
        self.servers[index] = fresh
        return fresh

    def _start_nginx(self) -> None:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        prefix = self.tmp / "nginx"
        prefix.mkdir()
        site = nginx_site(
            f"127.0.0.1:{self.nginx_port}",
            "localhost",
            [s.address for s in self.servers],
            ROOT / "static",
            self.media,
        )
        (prefix / "academy.conf").write_text(site, encoding="utf-8")
        user = ""
        if os.getuid() == 0:  # nginx's workers drop root for this account
            user = "user www-data;" if _has_user("www-data") else "user nobody;"
        conf = prefix / "nginx.conf"
        conf.write_text(
            render(NGINX_DIR / "cluster-nginx.conf.in", {"prefix": str(prefix), "user": user}),
            encoding="utf-8",
        )
        check = subprocess.run(
            [
                nginx,
                "-t",
                "-q",
                "-p",
                str(prefix),
                "-c",
                str(conf),
                "-e",
                str(prefix / "nginx-error.log"),
            ],
            capture_output=True,
            text=True,
        )
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration:\n{check.stderr}")
        self.nginx = self._spawn(
            [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "nginx-error.log")],
            prefix / "nginx.out",
        )
        _wait(lambda: _http_ok(self.url + "/healthz"), "nginx", self.nginx)

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop everything this cluster started (newest first) and remove its temp dir."""
        for process in reversed(self._processes):
            _stop_group(process)
        self._processes.clear()
        if self._pg_started:
            subprocess.run([*self._pg_ctl, "-m", "fast", "stop"], capture_output=True)
            self._pg_started = False
        if getattr(self, "tmp", None) and self.tmp.exists() and not os.environ.get("CLUSTER_KEEP"):
            shutil.rmtree(self.tmp, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# -- the command line ------------------------------------------------------------------------


def _up(args: argparse.Namespace) -> int:
    with Cluster(apps=args.apps, workers=args.workers, build=args.build) as cluster:
        print(f"Serving at {cluster.url}/ ; database {cluster.database_url}. Ctrl-C stops.")
        try:
            while all(s.process.poll() is None for s in cluster.servers):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def _load(args: argparse.Namespace) -> int:
    # The simulated learners download PDFs but never play audio: only the PDFs are built.
    with Cluster(apps=args.apps, workers=args.workers, build=True, pdf_only=True) as cluster:
        if args.kill_one_after:
            victim = cluster.servers[0]

            def kill() -> None:
                cluster._log(f"killing app server {victim.name} ({victim.address}) now")
                victim.kill()

            timer = threading.Timer(args.kill_one_after, kill)
            timer.daemon = True
            timer.start()
        command = [
            str(BIN / "python"),
            "-m",
            "bench.load",
            "--host",
            cluster.url,
            "--database-url",
            cluster.database_url,
            "--learners",
            str(args.learners),
            "--duration",
            args.duration,
            "--think",
            str(args.think),
            "--out",
            args.out,
            "--goal-p95",
            "150",
        ]
        logs = [server.error_log for server in cluster.servers]
        logs.append(cluster.tmp / "nginx" / "nginx-error.log")
        for log in logs:
            command += ["--log", str(log)]
        returncode = subprocess.run(command, cwd=ROOT, check=False).returncode
        # The servers' and nginx's error logs go with the report (the temp dir goes at the stop):
        # why a request failed, a 502 or a 500, is in them.
        for log in logs:
            if log.exists():
                shutil.copyfile(log, Path(args.out) / f"server-{log.name}")
        return returncode


def _site(args: argparse.Namespace) -> int:
    print(
        nginx_site(
            args.listen,
            args.server_name,
            args.upstream,
            Path(args.static_dir),
            Path(args.media_dir),
        ),
        end="",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """`up`, `load` or `nginx-site` (see the module's docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "load"):
        sub = commands.add_parser(name)
        sub.add_argument("--apps", type=int, default=2, help="app servers (gunicorn masters)")
        sub.add_argument("--workers", type=int, default=2, help="workers per app server")
    commands.choices["up"].add_argument(
        "--build", action="store_true", help="build audio/PDF first"
    )
    load = commands.choices["load"]
    load.add_argument("--learners", type=int, default=10000)
    load.add_argument("--duration", default="5m")
    load.add_argument("--think", type=float, default=15.0)
    load.add_argument("--out", default="cluster-report")
    load.add_argument("--kill-one-after", type=float, default=0.0, help="seconds; 0: never")
    site = commands.add_parser("nginx-site", help="print the nginx server block for real hosts")
    site.add_argument("--listen", default="80")
    site.add_argument("--server-name", default="_")
    site.add_argument("--upstream", action="append", required=True, help="host:port, repeatable")
    site.add_argument("--static-dir", required=True)
    site.add_argument("--media-dir", required=True)
    args = parser.parse_args(argv)
    return {"up": _up, "load": _load, "nginx-site": _site}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
