"""The studio's only way to the disk: paths checked to stay in the content folder, atomic writes.

Every path a trainer's request names is a relative path inside the content root, made of plain
names (letters, digits, '.', '_', '-'), no `..`, no absolute path, no NUL, no over-long name, and
no symbolic link anywhere on the way. Anything else is refused with PathRefused before the disk
is touched.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
MAX_NAME = 100  # characters in one path component
MAX_PATH = 400  # characters in the whole relative path
# Where the studio keeps drafts and (without git) revisions: a dot folder the loader skips.
STUDIO_DIR = ".studio"


class PathRefused(ValueError):
    """A path that could leave the content folder, or that names something we never write."""


def safe_path(root: Path, relative: str, *, allow_studio: bool = False) -> Path:
    """The absolute path of `relative` inside `root`, or PathRefused.

    :param allow_studio: let the path go into the studio's own dot folder (drafts, revisions).
    """
    if not isinstance(relative, str) or not relative:
        raise PathRefused("empty path")
    if "\x00" in relative or "\\" in relative or len(relative) > MAX_PATH:
        raise PathRefused("path with NUL, backslash, or too long")
    if relative.startswith("/") or re.match(r"^[A-Za-z]:", relative):
        raise PathRefused("absolute path")
    parts = relative.split("/")
    for index, part in enumerate(parts):
        if part in ("", ".", ".."):
            raise PathRefused("empty, '.' or '..' path component")
        if len(part) > MAX_NAME:
            raise PathRefused("name too long")
        studio = allow_studio and index == 0 and part == STUDIO_DIR
        if not studio and not NAME.match(part):
            raise PathRefused(f"name not allowed: {part!r}")
    base = root.resolve()
    candidate = base.joinpath(*parts)
    # No symbolic link on the way: a link could point anywhere, even if it resolves inside.
    walk = base
    for part in parts:
        walk = walk / part
        if walk.is_symlink():
            raise PathRefused("symbolic link in the path")
    if os.path.commonpath([base, candidate.resolve()]) != str(base):
        raise PathRefused("outside the content folder")
    return candidate


def write_atomic(path: Path, data: bytes) -> None:
    """Replace a file so that readers see the old or the whole new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def digest(data: bytes) -> str:
    """The version stamp of a file's content (what the editor saw when it opened it)."""
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes:
    """A file's bytes, or b'' when it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""
