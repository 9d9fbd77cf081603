"""The loaded catalogue, kept in memory and reloaded when a content file changes.

The check (at most every CONTENT_RECHECK_SECONDS; on every request in tests) is a walk of the
content folder comparing (path, size, mtime) stamps: a few dozen `stat` calls, no file reads,
so a trainer's edit shows within seconds without restarting the server.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.content.errors import Problem
from app.content.loader import load_catalogue
from app.content.model import Catalogue

if TYPE_CHECKING:
    from flask import Flask

#: Where `init_app` keeps the app's ContentCache in `app.extensions`.
EXTENSION_KEY = "academy.content"

Stamp = tuple[tuple[str, int, int], ...]

logger = logging.getLogger(__name__)


def content_stamp(root: Path) -> Stamp:
    """Name, size and modification time of every file under `root`, in a stable order."""
    entries: list[tuple[str, int, int]] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(directory, name)
            try:
                info = os.stat(path)
            except FileNotFoundError:  # removed while we walked: the next request sees it
                continue
            entries.append((path, info.st_size, info.st_mtime_ns))
    entries.sort()
    return tuple(entries)


class ContentCache:
    """Holds one Catalogue per content root and reloads it when the files change."""

    def __init__(
        self,
        root: Path,
        recheck_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        # The walk costs as much as serving a cached page: do it at most this often.
        self.recheck_seconds = recheck_seconds
        self.clock = clock
        self._checked = float("-inf")
        self._lock = threading.Lock()
        self._stamp: Stamp | None = None
        self._catalogue = Catalogue()
        self.loads = 0  # how many times the files were actually parsed

    def get(self) -> Catalogue:
        """Return the catalogue, reloading it first if any content file changed."""
        now = self.clock()
        if self._stamp is not None and now - self._checked < self.recheck_seconds:
            return self._catalogue
        self._checked = now
        stamp = content_stamp(self.root)
        if stamp == self._stamp:
            return self._catalogue
        with self._lock:
            # Another thread may have reloaded while we waited for the lock.
            if stamp != self._stamp:
                try:
                    self._catalogue = load_catalogue(self.root)
                except Exception as exc:  # noqa: BLE001 - a failed load is kept, not retried
                    # Retrying on every request would repeat whatever made it fail (time,
                    # memory) for every visitor; the next edit of a file tries again.
                    logger.exception("content under %s could not be loaded", self.root)
                    self._catalogue = Catalogue(
                        {}, (Problem(".", 1, f"the content could not be loaded ({exc!r})"),)
                    )
                self._stamp = stamp
                self.loads += 1
            return self._catalogue


def init_app(app: Flask) -> None:
    """Give the app its catalogue cache (nothing is read until the first `catalogue_of`)."""
    app.extensions[EXTENSION_KEY] = ContentCache(
        Path(app.config["CONTENT_DIR"]),
        recheck_seconds=float(app.config.get("CONTENT_RECHECK_SECONDS") or 0),
    )


def catalogue_of(app: Flask) -> Catalogue:
    """The app's current catalogue, for builders and commands that hold the app object.

    Requests use `app.web.catalogue()`, which is this for `current_app`.
    """
    cache: ContentCache = app.extensions[EXTENSION_KEY]
    return cache.get()
