"""The git pre-commit hook's check: the course files as they will be committed (the index, not
the working tree), every error as path:line: message; exit 1 refuses the commit.

Run by the hook that `flask content hooks install` writes: `python -m app.preview.hook <content>`.
It needs no app, no database and no secret key: only the files.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from app.content.loader import load_catalogue

MARKER = "omnichannel-academy pre-commit hook"


class HookError(Exception):
    """The content folder is not in a git work tree, or git failed."""


def git(cwd: Path, *args: str, data: bytes | None = None) -> bytes:
    """Run git in `cwd`; HookError with git's words if it fails."""
    result = subprocess.run(
        ["git", "-C", str(cwd), *args], input=data, capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise HookError(result.stderr.decode("utf-8", "replace").strip() or "git failed")
    return result.stdout


def repository_of(content: Path) -> tuple[Path, str]:
    """The top of the git work tree holding `content`, and content's path inside it."""
    top = Path(git(content, "rev-parse", "--show-toplevel").decode().strip())
    prefix = content.resolve().relative_to(top.resolve()).as_posix()
    return top, "" if prefix == "." else prefix


def check_staged(content: Path, out=sys.stdout) -> int:  # type: ignore[no-untyped-def]
    """Check the staged version of the content folder; return the number of errors."""
    top, prefix = repository_of(content)
    names = git(top, "ls-files", "-z", "--cached", "--", prefix or ".")
    with tempfile.TemporaryDirectory(prefix="academy-hook-") as tmp:
        if names:
            git(top, "checkout-index", "-q", "-z", "--stdin", f"--prefix={tmp}/", data=names)
        staged = Path(tmp) / prefix
        staged.mkdir(parents=True, exist_ok=True)
        result = load_catalogue(staged)
    shown = f"{prefix}/" if prefix else ""
    for problem in result.problems:
        print(f"{shown}{problem.path}:{problem.line}: {problem.message}", file=out)
    for warning in result.warnings:
        print(f"{shown}{warning.path}:{warning.line}: warning: {warning.message}", file=out)
    return len(result.problems)


def main(argv: list[str] | None = None) -> int:
    """The hook's entry point: 0 lets the commit through, 1 refuses it."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m app.preview.hook CONTENT_FOLDER", file=sys.stderr)
        return 2
    try:
        errors = check_staged(Path(args[0]))
    except HookError as exc:
        print(f"content check: {exc}", file=sys.stderr)
        return 1
    if errors:
        print(
            f"Commit refused: {errors} error(s) in the course files above (path:line). Fix them "
            "and stage the files again; learners would not see the modules with errors.",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
