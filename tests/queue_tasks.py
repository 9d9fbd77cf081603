"""Tasks declared for the queue tests: each writes what it did into a log file."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from app import tasks


def _log(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(f"{line} {time.monotonic():.3f}\n")


@tasks.task(lock=lambda path, name, seconds=0.0: f"artefact:{name}", retries=0)
def build_artefact(path: str, name: str, seconds: float = 0.0) -> None:
    """Pretend to build one artefact: start, work, end (two runs must never interleave)."""
    _log(path, f"start {name}")
    time.sleep(seconds)
    _log(path, f"end {name}")


@tasks.task(retries=3, retry_delay=0.2, backoff=2.0)
def flaky(path: str, failures: int) -> None:
    """Fail the first `failures` runs (like gTTS while the network is down), then succeed."""
    runs = len(Path(path).read_text().splitlines()) if Path(path).exists() else 0
    _log(path, "run")
    tasks.report_progress(runs + 1, failures + 1)
    if runs < failures:
        raise ConnectionError("TTS unreachable")


@tasks.task(retries=1, retry_delay=0.1)
def always_fails(path: str) -> None:
    """Fail every time: the job ends as failed, with its error kept."""
    _log(path, "run")
    raise RuntimeError("engine broken")


@tasks.task(lock=lambda path, name: f"artefact:{name}", retries=0)
def hang(path: str, name: str) -> None:
    """Start, then hang: the worker running it is killed by the test."""
    _log(path, f"start {name}")
    if Path(path).read_text().count("start") == 1:
        time.sleep(600)
    _log(path, f"end {name}")


#: Events the test opens to let a `gated` run finish (worker threads share this process).
GATES: dict[str, threading.Event] = {}


@tasks.task(lock=lambda path, name: f"artefact:{name}", retries=0)
def gated(path: str, name: str) -> None:
    """Start, wait until the test opens the gate, end: a run the test can hold in flight."""
    _log(path, f"start {name}")
    GATES[name].wait(120)
    _log(path, f"end {name}")
