"""The preview server's additions (`flask content serve --watch`): a watcher of the content
folder, a Server-Sent Events stream of its changes, and a small script in every page that
reloads it when a file is saved and shows the checker's errors at file:line.

Only `flask content serve` registers this blueprint: the platform's own servers never carry it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, url_for
from flask_babel import gettext as _
from markupsafe import escape

from app.content.catalog import EXTENSION_KEY, catalogue_of, content_stamp
from app.content.loader import display_path
from app.content.model import Catalogue

bp = Blueprint("preview", __name__)

WATCH_KEY = "academy.preview"
KEEPALIVE_SECONDS = 10.0  # a comment line now and then: a closed tab ends its stream
log = logging.getLogger(__name__)


def problem_lines(root: Path, catalogue: Catalogue) -> list[dict[str, Any]]:
    """Every error as the checker prints it: where (file:line) and what."""
    return [
        {"where": f"{display_path(root / p.path)}:{p.line}", "message": p.message}
        for p in catalogue.problems
    ]


class Watcher:
    """Looks at the content folder a few times a second; tells every listener what changed."""

    def __init__(self, app: Flask, interval: float = 0.25) -> None:
        self.app = app
        self.root = Path(app.config["CONTENT_DIR"])
        self.interval = interval
        self.version = 0
        self.changed: list[str] = []  # files added, removed or modified by the last change
        self.problems = problem_lines(self.root, catalogue_of(app))
        self._stamp = dict((p, (s, m)) for p, s, m in content_stamp(self.root))
        self._changes = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="content-watch", daemon=True)
        # The pages must follow every save at once, not after the cache's recheck interval.
        app.extensions[EXTENSION_KEY].recheck_seconds = 0.0

    def start(self) -> None:
        """Watch in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop watching and release every listener."""
        self._stop.set()
        with self._changes:
            self._changes.notify_all()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.look()
            except Exception:  # a file half-written or removed mid-walk: look again
                log.exception("watching %s failed", self.root)

    def look(self) -> bool:
        """Compare the files with the last look; on a change, reload and tell listeners."""
        stamp = dict((p, (s, m)) for p, s, m in content_stamp(self.root))
        if stamp == self._stamp:
            return False
        changed = sorted(
            display_path(Path(p))
            for p in set(stamp) | set(self._stamp)
            if stamp.get(p) != self._stamp.get(p)
        )
        self._stamp = stamp
        problems = problem_lines(self.root, catalogue_of(self.app))
        with self._changes:
            self.version += 1
            self.changed = changed
            self.problems = problems
            self._changes.notify_all()
        return True

    def state(self) -> dict[str, Any]:
        """What a listener is told: the version, the changed files, the errors."""
        return {"version": self.version, "changed": self.changed, "problems": self.problems}

    def wait(self, version: int, timeout: float) -> bool:
        """Wait until the version differs from `version`; False on timeout or stop."""
        with self._changes:
            return (
                self._changes.wait_for(
                    lambda: self.version != version or self._stop.is_set(), timeout
                )
                and not self._stop.is_set()
            )


def watcher_of(app: Flask) -> Watcher | None:
    """The app's watcher, when `flask content serve --watch` started one."""
    return app.extensions.get(WATCH_KEY)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@bp.get("/__preview/events")
def events() -> Response:
    """Server-Sent Events: `state` at once, then `change` after every save."""
    watcher = watcher_of(current_app)
    if watcher is None:
        return Response(status=404)

    def stream() -> Iterator[str]:
        seen = watcher.version
        yield "retry: 1000\n" + _event("state", watcher.state())
        while not watcher._stop.is_set():
            if watcher.wait(seen, KEEPALIVE_SECONDS):
                state = watcher.state()
                seen = state["version"]
                yield _event("change", state)
            else:
                yield ": keep-alive\n\n"

    response = Response(stream(), mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.after_app_request
def _inject(response: Response) -> Response:
    """Add the reload script to every HTML page (the CSP stays 'self': it is our own file)."""
    watcher = watcher_of(current_app)
    if watcher is None or response.mimetype != "text/html" or response.direct_passthrough:
        return response
    if response.is_streamed:
        return response
    body = response.get_data()
    at = body.rfind(b"</body>")
    if at == -1:
        return response
    tag = (
        f'<link rel="stylesheet" href="{url_for("static", filename="css/preview.css")}">'
        f'<script src="{url_for("static", filename="js/preview.js")}" defer'
        f' data-preview-events="{url_for("preview.events")}"'
        f' data-version="{watcher.version}"'
        f' data-title="{escape(_("Errors in the course files"))}"></script>'
    )
    response.set_data(body[:at] + tag.encode() + body[at:])
    response.headers.pop("ETag", None)  # the page now depends on the watcher's version too
    response.headers["Cache-Control"] = "no-store"
    return response


def start_watching(app: Flask, interval: float = 0.25) -> Watcher:
    """Register the preview routes and start the watcher (before the first request)."""
    app.register_blueprint(bp)
    watcher = Watcher(app, interval)
    app.extensions[WATCH_KEY] = watcher
    watcher.start()
    return watcher
