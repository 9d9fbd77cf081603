"""`make load`: simulated learners (Locust, headless) against the production server on loopback.

Starts gunicorn (deploy/gunicorn.conf.py) on a free loopback port with its own SQLite database
in a temp dir, builds the PDFs, runs bench/locustfile.py for the given learners and duration,
then prints per request type p50/p95/p99, throughput, errors and "database is locked" counts,
keeps Locust's CSV and HTML report, and checks that every statement the server accepted was
stored. `--host` drives a server started elsewhere instead (the cluster script), still only on
loopback, with `--database-url` naming its database for the final count.

    python -m bench.load --learners 5000 --duration 5m --think 15
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text

from bench.server import BIN, ROOT, app_env, free_port, gunicorn, migrate

CONTENT = ROOT / "content"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
VERBS = ("experienced", "progressed", "downloaded")


def plan(content: Path) -> dict[str, object]:
    """What the simulated learners study: the first visible course, its modules and sections."""
    from app.content.loader import load_catalogue

    course = next(c for c in load_catalogue(content).courses.values() if c.visible)
    modules = []
    for entry in course.visible:
        module = entry.versions[course.default_language]
        modules.append(
            {
                "id": entry.id,
                "sections": [s.id for s in module.reading_sections],
                "quiz": bool(module.questions),
            }
        )
    return {"course": course.id, "languages": list(course.languages), "modules": modules}


def seconds(duration: str) -> int:
    """'90s', '5m', '1h' or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    if duration[-1] in units:
        return int(float(duration[:-1]) * units[duration[-1]])
    return int(duration)


def run_locust(host: str, args: argparse.Namespace, out: Path, plan_file: Path) -> dict[str, int]:
    """Run Locust headless; return the statements it had accepted, by verb."""
    sent_file = out / "sent.json"
    env = {
        **os.environ,
        "LOAD_PLAN": str(plan_file),
        "LOAD_THINK": str(args.think),
        "LOAD_SENT": str(sent_file),
    }
    spawn = args.spawn_rate or max(1.0, args.learners / max(1, seconds(args.ramp)))
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "--users",
        str(args.learners),
        "--spawn-rate",
        f"{spawn:.2f}",
        "--run-time",
        args.duration,
        "--host",
        host,
        "--csv",
        str(out / "load"),
        "--html",
        str(out / "load.html"),
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--stop-timeout",
        "30",
    ]
    print(
        f"load: {args.learners} learners, think {args.think} s, {args.duration}, "
        f"spawn {spawn:.1f}/s, against {host}",
        flush=True,
    )
    before, started = _children_cpu(), time.monotonic()
    subprocess.run(command, cwd=ROOT, env=env, check=False, stdout=subprocess.DEVNULL)
    LAST_RUN.update(locust_cpu=_children_cpu() - before, seconds=time.monotonic() - started)
    return json.loads(sent_file.read_text()) if sent_file.exists() else {}


#: CPU seconds the load generator used in the last run, and that run's wall time.
LAST_RUN: dict[str, float] = {}


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a running process and its descendants."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for children in Path(f"/proc/{current}/task").glob("*/children"):
                pending.extend(int(child) for child in children.read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended while we looked
    return total


def print_cpu(server_cpu: float | None) -> None:
    """How much of the machine the load generator (and the server, when ours) used."""
    seconds = LAST_RUN.get("seconds") or 1.0
    cores = len(os.sched_getaffinity(0))
    line = f"cpu over the run: load generator {LAST_RUN.get('locust_cpu', 0.0) / seconds:.2f} cores"
    if server_cpu is not None:
        line += f", server {server_cpu / seconds:.2f} cores"
    print(f"{line}, of {cores}")


def report(out: Path, logs: list[Path]) -> tuple[float, int, int]:
    """Print the figures from Locust's CSV; return (p95 of all, errors, locked)."""
    rows = list(csv.DictReader((out / "load_stats.csv").open()))
    print(f"{'request':<26}{'count':>8}{'fail':>6}{'p50':>7}{'p95':>7}{'p99':>7}{'req/s':>8}  (ms)")
    total: dict[str, str] = {}
    for row in rows:
        if row["Name"] == "Aggregated":
            total = row
            continue
        print(
            f"{row['Name']:<26}{row['Request Count']:>8}{row['Failure Count']:>6}"
            f"{row['50%']:>7}{row['95%']:>7}{row['99%']:>7}{float(row['Requests/s']):>8.1f}"
        )
    print(
        f"{'all':<26}{total['Request Count']:>8}{total['Failure Count']:>6}{total['50%']:>7}"
        f"{total['95%']:>7}{total['99%']:>7}{float(total['Requests/s']):>8.1f}"
    )
    failures = out / "load_failures.csv"
    locked = 0
    if failures.exists():
        for row in csv.DictReader(failures.open()):
            print(
                f"  failure x{row['Occurrences']}: {row['Method']} {row['Name']}: "
                f"{row['Error'][:160]}"
            )
            if "database is locked" in row["Error"]:
                locked += int(row["Occurrences"])
    for log in logs:
        if log.exists():
            locked += log.read_text(errors="replace").count("database is locked")
    print(f"'database is locked': {locked}")
    print(f"report: {out / 'load.html'}, CSV: {out}/load_*.csv")
    return float(total["95%"]), int(total["Failure Count"]), locked


def count_stored(database_url: str, sent: dict[str, int]) -> bool:
    """Compare the statements the server accepted with those in its database."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        stored = dict(
            connection.execute(text("SELECT verb, COUNT(*) FROM statements GROUP BY verb")).all()
        )
        attempts = connection.execute(text("SELECT COUNT(*) FROM quiz_attempts")).scalar_one()
    engine.dispose()
    # A request cut off when the run stopped may be stored without its answer being counted:
    # stored may exceed sent by those, never fall short of it.
    counts = [(f"statements '{v}'", sent.get(v, 0), stored.get(v, 0)) for v in VERBS]
    counts.append(("quiz attempts", sent.get("attempted", 0), attempts))
    ok = True
    for label, accepted, kept in counts:
        flag = "ok" if kept >= accepted else f"MISSING {accepted - kept}"
        extra = f" (+{kept - accepted} cut off at the stop)" if kept > accepted else ""
        ok &= kept >= accepted
        print(f"{label}: accepted {accepted}, stored {kept} {flag}{extra}")
    return ok


def main(argv: list[str] | None = None) -> int:
    """Run the load test and print its figures against the goals."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=5000)
    parser.add_argument("--duration", default="5m", help="run time after the start: 90s, 5m ...")
    parser.add_argument("--ramp", default="60s", help="time to start every learner")
    parser.add_argument("--spawn-rate", type=float, default=0.0)
    parser.add_argument("--think", type=float, default=15.0, help="mean seconds between steps")
    parser.add_argument("--workers", type=int, default=0, help="gunicorn workers (0: config)")
    parser.add_argument("--out", default="load-report", help="folder for the CSV and HTML report")
    parser.add_argument("--host", default="", help="drive this server instead of starting one")
    parser.add_argument("--database-url", default="", help="the --host server's database")
    parser.add_argument("--log", action="append", default=[], help="server logs to scan")
    parser.add_argument("--goal-p95", type=float, default=100.0)
    args = parser.parse_args(argv)

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.json"
    plan_file.write_text(json.dumps(plan(CONTENT)), encoding="utf-8")
    start = time.monotonic()
    if args.host:
        if urlsplit(args.host).hostname not in LOOPBACK:
            raise SystemExit(f"--host must be on loopback, not {args.host}")
        sent = run_locust(args.host, args, out, plan_file)
        p95, errors, locked = report(out, [Path(p) for p in args.log])
        print_cpu(None)
        stored_ok = count_stored(args.database_url, sent) if args.database_url else True
    else:
        with tempfile.TemporaryDirectory(prefix="academy-load-") as tmp_name:
            tmp = Path(tmp_name)
            # The site's address is part of each PDF (its links): built for another address,
            # every PDF would be rebuilt by the queue during the run, on the same two cores.
            port = free_port()
            env = app_env(
                tmp,
                CONTENT,
                ACADEMY_QUEUE_URL=f"sqlite:///{tmp / 'queue.sqlite3'}",
                ACADEMY_BASE_URL=f"http://127.0.0.1:{port}/",
            )
            migrate(env)
            print("load: building the PDFs the learners download ...", flush=True)
            subprocess.run(
                [str(BIN / "flask"), "pdf", "build"],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            with gunicorn("wsgi:app", env, tmp, workers=args.workers or None, port=port) as base:
                master = int((tmp / f"wsgi-app-{port}.pid").read_text())
                before_server = tree_cpu(master)
                sent = run_locust(base, args, out, plan_file)
                server_cpu = tree_cpu(master) - before_server
            logs = list(tmp.glob("*.log"))
            for log in logs:  # the server's error log goes with the report: the 500s are in it
                shutil.copyfile(log, out / f"server-{log.name}")
            p95, errors, locked = report(out, logs)
            print_cpu(server_cpu)
            stored_ok = count_stored(env["ACADEMY_DATABASE_URL"], sent)
    print(
        f"load: done in {time.monotonic() - start:.0f} s. Goals: p95 {p95:.0f} ms "
        f"(<= {args.goal_p95:.0f}: {'reached' if p95 <= args.goal_p95 else 'NOT reached'}), "
        f"errors {errors} (0: {'reached' if errors == 0 else 'NOT reached'}), "
        f"every statement stored: {'yes' if stored_ok else 'NO'}"
    )
    return 0 if stored_ok else 1


if __name__ == "__main__":
    sys.exit(main())
