"""The baseline for page benchmarks: a bare Flask route returning fixed bytes.

`BENCH_BODY` names a file holding the bytes (the module page as our app served it), so both
servers send the same payload and the ratio measures only what our page costs on top.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response

app = Flask(__name__)
BODY = Path(os.environ["BENCH_BODY"]).read_bytes()


@app.get("/")
def page() -> Response:
    """The same bytes on every request."""
    return Response(BODY, mimetype="text/html")


@app.get("/healthz")
def healthz() -> str:
    """Ready probe, as the real app's."""
    return "ok"
