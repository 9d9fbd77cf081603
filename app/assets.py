"""Static files under content-hashed URLs, cached for a year.

`url_for("static", filename=...)` adds `?v=<hash>`: the first 12 hex digits of the file's
SHA-256. A URL whose hash is the file's current one names those exact bytes, so it is sent
with `Cache-Control: public, max-age=31536000, immutable`: browsers (and the service worker's
saved copies) never ask again, and an edited file gets a new URL on the next page. A URL
without a hash, or with an old one, still works, cached an hour (as before hashes existed).
In production nginx sends /static/ itself with the same two policies
(deploy/nginx/academy.conf.in).

Hashes are kept per file with its size and modification time, so an edit is seen at once
(a stat per URL, no read) and each file is read once per version.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from werkzeug.security import safe_join

HASH_ARG = "v"
HASH_LENGTH = 12
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=3600"
EXTENSION_KEY = "academy.static_hashes"


class StaticHashes:
    """The content hash of each file under a static folder, re-read when the file changes."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[tuple[int, int, int], str]] = {}
        self._lock = threading.Lock()

    def digest(self, folder: str, filename: str) -> str | None:
        """The file's short hash, or None when it is not a file under `folder`."""
        path = safe_join(folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        known = self._known.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        try:
            data = Path(path).read_bytes()
        except OSError:  # a folder, or gone since the stat
            return None
        value = hashlib.sha256(data).hexdigest()[:HASH_LENGTH]
        with self._lock:
            self._known[path] = (stamp, value)
        return value


def init_app(app: Flask) -> None:
    """Hash static URLs and send hashed static files with a year of caching."""
    hashes = StaticHashes()
    app.extensions[EXTENSION_KEY] = hashes

    @app.url_defaults
    def _hash_static_urls(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint != "static" or HASH_ARG in values or not app.static_folder:
            return
        filename = values.get("filename")
        if isinstance(filename, str):
            digest = hashes.digest(app.static_folder, filename)
            if digest is not None:
                values[HASH_ARG] = digest

    @app.after_request
    def _cache_static_files(response: Response) -> Response:
        if request.endpoint != "static" or response.status_code not in (200, 206, 304):
            return response
        filename = (request.view_args or {}).get("filename")
        given = request.args.get(HASH_ARG)
        current = (
            hashes.digest(app.static_folder, filename)
            if given and app.static_folder and isinstance(filename, str)
            else None
        )
        response.headers["Cache-Control"] = IMMUTABLE if current and given == current else SHORT
        return response
