"""Offline use: the web app manifest and the service worker that keeps saved modules.

The worker is served from the site's root, so its scope covers every course. Its version is
a hash of the course content (every visible module's content hash) and of the scripts that
save and replay offline work: it changes when either does, and the browser then installs the
new worker, which refreshes the saved copies.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.web import catalogue, content_version

bp = Blueprint("offline", __name__)

WORKER = Path(__file__).with_name("sw.js")
# The page scripts whose behaviour the saved copies depend on.
SCRIPTS = ("js/app.js", "js/audio.js", "js/offline.js")
# Bump when what is saved for a module changes in a way the files above do not show.
OFFLINE_FORMAT = 1


def offline_version() -> str:
    """16 hex digits naming the content and the offline scripts (memoised per content load)."""
    memo: dict[int, str] = current_app.extensions.setdefault("academy.offline.version", {})
    courses = catalogue().courses  # first: it reloads changed content, then the version counts
    loads = content_version()
    if loads not in memo:
        digest = hashlib.sha256(f"{OFFLINE_FORMAT}".encode())
        for course in sorted(courses.values(), key=lambda c: c.id):
            for entry in course.visible:
                for language, module in sorted(entry.versions.items()):
                    digest.update(
                        f"{course.id}/{language}/{entry.id}:{module.content_hash}".encode()
                    )
        static = Path(current_app.static_folder or "static")
        for name in SCRIPTS:
            digest.update((static / name).read_bytes())
        digest.update(WORKER.read_bytes())
        memo.clear()
        memo[loads] = digest.hexdigest()[:16]
    return memo[loads]


@bp.get("/sw.js")
def service_worker() -> ResponseReturnValue:
    """The service worker, stamped with the current offline version."""
    script = WORKER.read_text(encoding="utf-8").replace("__VERSION__", offline_version())
    response = Response(script, mimetype="text/javascript")
    # Always checked: a new version must reach the browser on its next visit.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/manifest.webmanifest")
def manifest() -> ResponseReturnValue:
    """The web app manifest: installable, landscape first, opening on the catalogue."""
    response = jsonify(
        {
            "name": "Omnichannel Academy",
            "short_name": "Academy",
            "description": _("Omnichannel Academy, an open-source course platform."),
            "start_url": "/",
            "scope": "/",
            "display": "standalone",
            "orientation": "landscape",
            "background_color": "#f4f6f9",
            "theme_color": "#1f5f8b",
            "icons": [
                {
                    "src": url_for("static", filename="img/artwork-512.png"),
                    "sizes": "512x512",
                    "type": "image/png",
                },
                {
                    "src": url_for("static", filename="img/favicon.svg"),
                    "sizes": "any",
                    "type": "image/svg+xml",
                },
            ],
        }
    )
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response
