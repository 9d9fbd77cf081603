"""The app as the cluster tests serve it: `wsgi:app`, plus a host that dies with its answer ready.

gunicorn runs `tests.cluster_app:app` in the cluster tests (scripts/cluster.py `wsgi_app`).
Without the test header every request goes to the production entry point untouched. A request
carrying `X-Test-Die-Before-Answer: <32 hex digits>` is handled in full by the first app server
that gets it (its transaction committed, its answer and cookie made), which then does not
answer: it writes down its address in CLUSTER_TEST_FAULTS/<ticket>.json and waits there for
the test to kill the host. The same request sent again by nginx to another server is
answered as usual. So the test knows the first copy was stored before the host died.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wsgi import app as production

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TICKET = "HTTP_X_TEST_DIE_BEFORE_ANSWER"
# Bounded: the test kills the host within seconds; a test gone wrong still gets its answer.
HOLD_SECONDS = 120.0


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The production app; a ticketed request's first copy is stored, then never answered."""
    ticket = str(environ.get(TICKET, ""))
    if not re.fullmatch(r"[0-9a-f]{32}", ticket):
        return production(environ, start_response)
    faults = Path(os.environ["CLUSTER_TEST_FAULTS"])
    try:
        os.close(os.open(faults / f"{ticket}.claim", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return production(environ, start_response)  # the copy nginx sent again: answer it
    answer: dict[str, Any] = {}

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        answer["status"], answer["headers"] = status, headers
        return lambda data: None  # nothing of this copy ever reaches nginx

    body = production(environ, keep)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    held = faults / f"{ticket}.json"
    partial = held.with_suffix(".part")
    partial.write_text(
        json.dumps({"bind": os.environ["ACADEMY_BIND"], "status": answer["status"]}),
        encoding="utf-8",
    )
    partial.replace(held)  # the test reads it whole or not at all
    deadline = time.monotonic() + HOLD_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
    start_response(answer["status"], answer["headers"])
    return [data]
