"""The studio's work on module files: check, draft, publish (with conflicts), history, restore.

Plain arguments in, results or clear exceptions out; no request. Paths are relative to the
content root and checked by app.studio.files before anything reads or writes them.
"""

from __future__ import annotations

import difflib
import fcntl
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.content.errors import Problem
from app.content.loader import align_translation, load_catalogue, load_module_file
from app.content.model import Catalogue, Course, Module
from app.studio.files import STUDIO_DIR, PathRefused, digest, read_bytes, safe_path, write_atomic
from app.studio.revisions import Revision, RevisionError, revisions_for

MODULE_FILE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_-]*)/(\d+-[a-z0-9][a-z0-9-]*)/([a-z]{2})\.md$")
MAX_TEXT = 512 * 1024  # bytes in one module file
ORIGINAL_MESSAGE = "The file as it was before its first edit in the studio"


class StudioError(Exception):
    """Something the trainer asked that cannot be done, with the reason."""


@dataclass(frozen=True)
class ModuleFile:
    """A module file the studio may edit: its course, folder and language."""

    relative: str
    course_id: str
    folder: str
    language: str

    @property
    def slug(self) -> str:
        """The folder's id part (after NN-)."""
        return self.folder.split("-", 1)[1]


def module_file(catalogue: Catalogue, relative: str) -> ModuleFile:
    """Check that `relative` names a module file of a known course, in one of its languages."""
    match = MODULE_FILE.match(relative or "")
    if not match:
        raise PathRefused("not a module file (course/NN-module/xx.md)")
    course_folder, folder, language = match.groups()
    course = next((c for c in catalogue.courses.values() if c.folder == course_folder), None)
    if course is None:
        raise PathRefused("no such course")
    if language not in course.languages:
        raise PathRefused("not a language of the course")
    return ModuleFile(relative, course.id, folder, language)


@dataclass(frozen=True)
class Checked:
    """A text as the loader sees it: the module (None when it has errors) and every problem."""

    module: Module | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...] = ()


def check_text(root: Path, course: Course, target: ModuleFile, text: str) -> Checked:
    """Run the learners' pipeline on an edited text, without writing it anywhere."""
    data = text.replace("\r\n", "\n").encode("utf-8")
    path = safe_path(root, target.relative)
    from app.content import loader

    token = loader._CONTENT_ROOT.set(root.absolute())  # problems name paths as the checker does
    try:
        module, problems = load_module_file(path, course, target.slug, target.language, data)
        if module is not None and not problems and target.language != course.default_language:
            entry = next((e for e in course.entries if e.folder == target.folder), None)
            reference = entry.versions.get(course.default_language) if entry else None
            if reference is not None:
                module, problems = align_translation(module, reference)
    finally:
        loader._CONTENT_ROOT.reset(token)
    if problems:
        return Checked(None, tuple(sorted(problems)))
    return Checked(module, (), tuple(module.warnings) if module else ())


# --- drafts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A saved draft: learners never see it."""

    text: str
    author: str
    saved: float
    base: str  # digest of the published file the draft started from


def _draft_paths(root: Path, relative: str) -> tuple[Path, Path]:
    folder = safe_path(root, f"{STUDIO_DIR}/drafts/{relative}", allow_studio=True)
    return folder.with_suffix(".md"), folder.with_suffix(".json")


def read_draft(root: Path, relative: str) -> Draft | None:
    """The file's draft, if one is saved."""
    text_path, meta_path = _draft_paths(root, relative)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        text = text_path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    return Draft(
        text, str(meta.get("author", "")), float(meta.get("saved", 0)), meta.get("base", "")
    )


def save_draft(root: Path, relative: str, text: str, base: str, author: str) -> Draft:
    """Keep the trainer's text as a draft of the file (errors allowed)."""
    _check_size(text)
    text_path, meta_path = _draft_paths(root, relative)
    draft = Draft(text, author, time.time(), base)
    with _file_lock(root):
        write_atomic(text_path, text.encode("utf-8"))
        meta = {"author": author, "saved": draft.saved, "base": base}
        write_atomic(meta_path, json.dumps(meta).encode("utf-8"))
    return draft


def discard_draft(root: Path, relative: str) -> None:
    """Remove the file's draft."""
    for path in _draft_paths(root, relative):
        path.unlink(missing_ok=True)


# --- publishing ----------------------------------------------------------------------------


class Conflict(StudioError):
    """The file changed since the editor opened it: both versions are kept for the trainer."""

    def __init__(self, theirs: str, yours: str, by: Revision | None) -> None:
        super().__init__("the file was changed by someone else since you opened it")
        self.theirs = theirs
        self.yours = yours
        self.by = by


class Refused(StudioError):
    """Publishing a text with errors."""

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        super().__init__(f"{len(problems)} error(s)")
        self.problems = problems


_THREAD_LOCK = threading.Lock()


@contextmanager
def _file_lock(root: Path) -> Iterator[None]:
    """One writer at a time across threads and processes (a lock file in .studio/)."""
    lock_path = root / STUDIO_DIR / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, open(lock_path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _check_size(text: str) -> None:
    if len(text.encode("utf-8")) > MAX_TEXT:
        raise StudioError(f"the text is larger than {MAX_TEXT // 1024} KB")


def current(root: Path, relative: str) -> tuple[str, str]:
    """The published text of a file and its digest ('' and the digest of nothing if absent)."""
    data = read_bytes(safe_path(root, relative))
    return data.decode("utf-8", "replace"), digest(data)


def publish(
    root: Path,
    course: Course,
    target: ModuleFile,
    text: str,
    base: str,
    name: str,
    email: str,
    message: str = "",
) -> str:
    """Write the text as the published file and record a revision; return its id.

    :param base: digest of the file as the editor opened it; another save since then is a
        Conflict (nothing is written, and the trainer gets both versions).
    """
    _check_size(text)
    text = text.replace("\r\n", "\n")
    checked = check_text(root, course, target, text)
    if checked.problems:
        raise Refused(checked.problems)
    path = safe_path(root, target.relative)
    store = revisions_for(root)
    with _file_lock(root):
        data = read_bytes(path)
        if digest(data) != base:
            history = store.history(target.relative)
            raise Conflict(data.decode("utf-8", "replace"), text, history[0] if history else None)
        new = text.encode("utf-8")
        try:
            if store.kind == "platform" and data and not store.history(target.relative):
                # Written outside the studio before: keep that version too, so it can be restored.
                store.record(target.relative, data, "", "", ORIGINAL_MESSAGE)
        except RevisionError as exc:
            raise StudioError(f"not saved: the revision could not be recorded: {exc}") from exc
        write_atomic(path, new)
        try:
            revision = store.record(
                target.relative, new, name, email, message or f"Edit {target.relative}"
            )
        except RevisionError as exc:
            raise StudioError(f"saved, but the revision could not be recorded: {exc}") from exc
        discard_draft(root, target.relative)
    return revision


def history(root: Path, relative: str) -> list[Revision]:
    """A file's revisions, newest first."""
    safe_path(root, relative)
    return revisions_for(root).history(relative)


def revision_text(root: Path, relative: str, revision_id: str) -> str:
    """A file's text at a revision."""
    safe_path(root, relative)
    try:
        return revisions_for(root).content(relative, revision_id).decode("utf-8", "replace")
    except RevisionError as exc:
        raise StudioError(str(exc)) from exc


@dataclass(frozen=True)
class DiffLine:
    """One line of a diff: ' ', '+', '-' or '@' (a hunk header), and its text."""

    kind: str
    text: str


def diff(old: str, new: str, old_name: str = "a", new_name: str = "b") -> list[DiffLine]:
    """A unified diff of two texts, line by line."""
    lines = []
    for raw in difflib.unified_diff(
        old.splitlines(), new.splitlines(), old_name, new_name, lineterm="", n=3
    ):
        if raw.startswith(("---", "+++")):
            continue
        kind = raw[:1] if raw[:1] in "+-@" else " "
        lines.append(DiffLine(kind, raw[1:] if kind in "+- " else raw))
    return lines


def restore(
    root: Path, course: Course, target: ModuleFile, revision_id: str, name: str, email: str
) -> str:
    """Publish a file's text as it was at a revision (a new revision; history is kept)."""
    text = revision_text(root, target.relative, revision_id)
    _, base = current(root, target.relative)
    return publish(
        root,
        course,
        target,
        text,
        base,
        name,
        email,
        f"Restore {target.relative} to {revision_id[:12]}",
    )


def reload_catalogue(root: Path) -> Catalogue:
    """The catalogue as the files are now."""
    return load_catalogue(root)
