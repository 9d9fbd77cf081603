"""Every published save is a revision: a git commit when content/ is a git repository (authored
by the trainer), otherwise a copy the platform keeps under content/.studio/revisions/.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from app.studio.files import STUDIO_DIR, write_atomic

COMMITTER = ("Omnichannel Academy studio", "studio@omnichannel-academy.invalid")


@dataclass(frozen=True)
class Revision:
    """One saved version of a file."""

    id: str
    author: str
    email: str
    when: float  # seconds since the epoch
    message: str


class RevisionError(Exception):
    """A revision that does not exist, or a git command that failed."""


class Revisions(Protocol):
    """Where a file's versions are kept."""

    kind: str

    def record(self, relative: str, data: bytes, name: str, email: str, message: str) -> str:
        """Keep the file's new content (already written) as a revision; return its id."""
        ...

    def history(self, relative: str) -> list[Revision]:
        """The file's revisions, newest first."""
        ...

    def record_moves(self, paths: list[str], name: str, email: str, message: str) -> None:
        """Record folders renamed on disk (old and new paths, already moved)."""
        ...

    def content(self, relative: str, revision_id: str) -> bytes:
        """The file's content at a revision."""
        ...


class GitRevisions:
    """Revisions as commits in the content folder's own git repository."""

    kind = "git"

    def __init__(self, root: Path) -> None:
        self.root = root
        exclude = root / ".git" / "info" / "exclude"
        try:
            text = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
            if f"/{STUDIO_DIR}/" not in text.splitlines():
                exclude.parent.mkdir(parents=True, exist_ok=True)
                exclude.write_text(text + f"\n/{STUDIO_DIR}/\n", encoding="utf-8")
        except OSError:
            pass  # drafts would show as untracked files: harmless

    @staticmethod
    def applies(root: Path) -> bool:
        """Whether the content folder is itself the top of a git work tree."""
        return (root / ".git").exists()

    def _git(self, *args: str, env: dict[str, str] | None = None) -> bytes:
        result = subprocess.run(
            ["git", "-C", str(self.root), *args],
            capture_output=True,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise RevisionError(result.stderr.decode("utf-8", "replace").strip() or "git failed")
        return result.stdout

    def record(self, relative: str, data: bytes, name: str, email: str, message: str) -> str:
        """Commit the file, authored by the trainer (the studio is the committer)."""
        env = self._env(name, email)
        self._git("add", "--", relative)
        if self._git("status", "--porcelain", "--", relative).strip():
            self._git("commit", "-q", "-m", message, "--", relative, env=env)
        return self._git("rev-parse", "HEAD").decode().strip()

    @staticmethod
    def _env(name: str, email: str) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": COMMITTER[0],
            "GIT_COMMITTER_EMAIL": COMMITTER[1],
        }

    def record_moves(self, paths: list[str], name: str, email: str, message: str) -> None:
        """One commit with the renamed folders (git sees them as renames: history follows)."""
        self._git("add", "-A", "--", *paths)
        if self._git("status", "--porcelain", "--", *paths).strip():
            self._git("commit", "-q", "-m", message, "--", *paths, env=self._env(name, email))

    def history(self, relative: str) -> list[Revision]:
        """`git log` of the file."""
        try:
            out = self._git(
                "log", "--follow", "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%s%x1e", "--", relative
            )
        except RevisionError:
            return []  # no commit yet
        revisions = []
        for record in out.decode("utf-8", "replace").split("\x1e"):
            fields = record.strip().split("\x1f")
            if len(fields) == 5:
                revisions.append(
                    Revision(fields[0], fields[1], fields[2], float(fields[3]), fields[4])
                )
        return revisions

    def content(self, relative: str, revision_id: str) -> bytes:
        """`git show <commit>:<path>`."""
        if not re.fullmatch(r"[0-9a-f]{40}", revision_id):
            raise RevisionError("not a revision")
        try:
            return self._git("show", f"{revision_id}:{relative}")
        except RevisionError:
            # Before a rename the file had another path: find it in the followed history.
            out = self._git("log", "--follow", "--name-only", "--format=%x1e%H", "--", relative)
            for record in out.decode("utf-8", "replace").split("\x1e"):
                fields = record.split()
                if len(fields) == 2 and fields[0] == revision_id:
                    return self._git("show", f"{revision_id}:{fields[1]}")
            raise


class PlatformRevisions:
    """Revisions as numbered copies under content/.studio/revisions/<path>/."""

    kind = "platform"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, relative: str) -> Path:
        return self.root / STUDIO_DIR / "revisions" / relative

    def record(self, relative: str, data: bytes, name: str, email: str, message: str) -> str:
        """Keep a copy with who saved it, when and why."""
        folder = self._folder(relative)
        folder.mkdir(parents=True, exist_ok=True)
        numbers = [int(p.stem) for p in folder.glob("*.md") if p.stem.isdigit()]
        number = f"{max(numbers, default=0) + 1:06d}"
        meta = {"author": name, "email": email, "when": time.time(), "message": message}
        write_atomic(folder / f"{number}.md", data)
        write_atomic(folder / f"{number}.json", json.dumps(meta).encode("utf-8"))
        return number

    def record_moves(self, paths: list[str], name: str, email: str, message: str) -> None:
        """Nothing more to do: the studio moved the kept copies with their folders."""

    def history(self, relative: str) -> list[Revision]:
        """Every kept copy, newest first."""
        folder = self._folder(relative)
        revisions = []
        for meta_path in sorted(folder.glob("*.json"), reverse=True):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            revisions.append(
                Revision(
                    meta_path.stem,
                    str(meta.get("author", "")),
                    str(meta.get("email", "")),
                    float(meta.get("when", 0)),
                    str(meta.get("message", "")),
                )
            )
        return revisions

    def content(self, relative: str, revision_id: str) -> bytes:
        """A kept copy's bytes."""
        if not re.fullmatch(r"\d{6}", revision_id):
            raise RevisionError("not a revision")
        try:
            return (self._folder(relative) / f"{revision_id}.md").read_bytes()
        except FileNotFoundError as exc:
            raise RevisionError("not a revision") from exc


def revisions_for(root: Path) -> Revisions:
    """Git when the content folder is a repository, else platform-kept copies."""
    return GitRevisions(root) if GitRevisions.applies(root) else PlatformRevisions(root)
