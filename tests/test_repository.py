"""The repository stands alone: a fresh clone anywhere has everything its code and tests read."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

# The folders and files whose code runs in `make test`, `make run` and `make bench`.
CODE_PATHS = ("app", "tests", "bench", "scripts", "Makefile", "wsgi.py")

# Text that can only mean a path outside the repository: the sibling `shared/` folder of the
# workspace, an absolute path into it, or os.pardir games.
OUTSIDE_TEXT = re.compile(r"\.\./shared|shared/corpora|shared/seeds|/work/|os\.pardir")


def tracked_files() -> list[Path]:
    """Every file git tracks (or would track) under CODE_PATHS, corpora data excluded."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *CODE_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this = Path(__file__).resolve()  # it spells out the patterns it looks for
    return [
        ROOT / name
        for name in out
        if not name.startswith("tests/corpora/") and (ROOT / name).resolve() != this
    ]


def levels_up(node: ast.expr) -> int | None:
    """How many folders above a file `Path(__file__)...` climbs, or None if it is no such chain."""
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = levels_up(node.value)
        return None if inner is None else inner + 1
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "parents"
        and isinstance(node.slice, ast.Constant)
        and isinstance(node.slice.value, int)
    ):
        inner = levels_up(node.value.value)
        return None if inner is None else inner + node.slice.value + 1
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in {"resolve", "absolute"}:
            return levels_up(node.func.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Path":
        if node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == "__file__":
            return 0
    if isinstance(node, ast.Call) and _is_dirname(node.func) and node.args:
        inner = levels_up(node.args[0])
        return None if inner is None else inner + 1
    if isinstance(node, ast.Name) and node.id == "__file__":
        return 0
    return None


def _is_dirname(func: ast.expr) -> bool:
    return isinstance(func, ast.Attribute) and func.attr == "dirname"


def escapes(rel: Path, text: str) -> list[str]:
    """The places in one file (at `rel` in the repository) that reach outside it, as `path:line`."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if OUTSIDE_TEXT.search(line):
            found.append(f"{rel}:{number}: {line.strip()}")
    if rel.suffix == ".py":
        # Path(__file__).parents[k] for tests/x.py: parents[1] is the repository, one more is not.
        allowed = len(rel.parts)
        for node in ast.walk(ast.parse(text, filename=str(rel))):
            if isinstance(node, ast.expr):
                up = levels_up(node)
                if up is not None and up > allowed:
                    found.append(f"{rel}:{node.lineno}: climbs {up} folders from the file")
    return found


def test_no_code_reads_a_path_outside_the_repository() -> None:
    """Nothing in app/, tests/, bench/, scripts/ or the Makefile names a path beside the repo."""
    files = tracked_files()
    assert ROOT / "Makefile" in files and ROOT / "tests" / "test_gift_corpus.py" in files
    problems = [
        problem
        for path in files
        for problem in escapes(path.relative_to(ROOT), path.read_text("utf-8", errors="replace"))
    ]
    assert problems == []


def test_the_escape_check_sees_a_climb_and_a_sibling_folder() -> None:
    """The check above flags both ways the GIFT corpus used to be read from ../shared."""
    sample = (
        "from pathlib import Path\n"
        'A = Path(__file__).resolve().parents[1].parent / "x"\n'
        'B = "../shared/corpora"\n'
        "C = Path(__file__).resolve().parents[1]\n"
        "D = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))\n"
    )
    problems = escapes(Path("tests/sample.py"), sample)
    assert sorted(int(p.split(":")[1]) for p in problems) == [2, 3, 5]


def test_the_gift_corpus_and_its_licence_ship_with_the_tests() -> None:
    """The Moodle corpus is in tests/corpora with its provenance; the project has a licence."""
    corpus = ROOT / "tests" / "corpora" / "moodle-gift"
    assert len(list(corpus.glob("cases*.json"))) == 6
    assert len(list((corpus / "fixtures").iterdir())) == 4
    readme = (corpus / "README.md").read_text(encoding="utf-8")
    assert "GPL-3.0-or-later" in readme and "moodle/moodle" in readme
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3" in licence
    assert 'license = "GPL-3.0-or-later"' in (ROOT / "pyproject.toml").read_text()
    assert '"license": "GPL-3.0-or-later"' in (ROOT / "package.json").read_text()
