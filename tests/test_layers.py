"""The layers run one way: core <- models <- services <- web <- views, CLI and builders.

Every module under app/ is parsed (not imported) and each of its imports, at the top or inside a
function, is checked against the layer table in docs/architecture.md. Imports under
`if TYPE_CHECKING:` are annotations only and do not count.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

CORE, MODELS, SERVICES, WEB, ENTRY = range(5)
NAMES = ["core", "models", "services", "web", "views/CLI/builders"]

#: Module name (or package prefix) -> layer. The longest matching prefix wins; a module that
#: matches nothing is core.
LAYERS: dict[str, int] = {
    "app.extensions": MODELS,
    "app.database": MODELS,
    "app.driver": MODELS,  # prebuilt statements run on the driver (beacon, user loader)
    "app.tasks": MODELS,  # the queue is infrastructure, like the extensions: services enqueue
    "app.tasks_cli": ENTRY,
    "app.accounts.models": MODELS,
    "app.progress.models": MODELS,
    "app.quizzes.models": MODELS,
    "app.accounts.services": SERVICES,
    "app.accounts.admin": SERVICES,
    "app.accounts.admin_views": ENTRY,
    "app.progress.statements": SERVICES,
    "app.progress.queries": SERVICES,
    "app.progress.identity": SERVICES,
    "app.progress.stamps": SERVICES,
    "app.quizzes.services": SERVICES,
    "app.quizzes.review": SERVICES,
    "app.web": WEB,
    "app.audio.artefacts": WEB,  # reads the app's MEDIA_DIR for the player and the routes
    "app.studio.status": ENTRY,  # asks the builders what is out of date
    "app.i18n": WEB,
    "app.errors": WEB,
    "app.accounts.forms": WEB,
    "app.trainer.access": WEB,
    "app.pages": WEB,  # the page cache and its slots are request-bound helpers
    "app.content.slots": WEB,
    "app.quizzes.slots": WEB,  # the quiz page's per-attempt parts, like the content pages'
    "app.logs": WEB,
    "app.assets": WEB,  # hashed static URLs and their caching, per request
    "app.health": ENTRY,  # a view: /healthz
    "app": ENTRY,  # the factory
    "app.audio.build": ENTRY,
    "app.pdf.build": ENTRY,
    "app.pdf.certificate": ENTRY,
    "app.pdf.panel": ENTRY,  # the module page asks it for the PDF links (reads the builds)
    "app.audio.course_panel": ENTRY,  # the course page's course MP3 (reads the queue's builds)
    "app.builds": ENTRY,  # queues rebuilds after an edit (a builder's entry point)
    "app.xapi.models": MODELS,
    "app.xapi.services": SERVICES,
    "app.xapi.forms": WEB,
    "app.xapi.outbox": ENTRY,  # the sender, run by the queue and by `flask xapi forward`
    "app.xapi.tasks": ENTRY,
    "app.xapi.admin": ENTRY,  # views of the admin and trainer pages
    "app.scorm": ENTRY,  # the package builder renders pages; its views and command
    "app.scorm.manifest": CORE,
    "app.lti.models": MODELS,
    "app.lti.services": SERVICES,
    "app.lti.grades": ENTRY,  # the AGS sender, run by the queue
    "app.lti.views": ENTRY,
    "app.lti.cli": ENTRY,
    "app.preview.server": ENTRY,  # the preview server's routes and watcher
    "app.trainer.models": MODELS,
    "app.trainer.groups": SERVICES,
    "app.trainer.reports": SERVICES,
    "app.trainer.csv_export": SERVICES,
    "app.trainer.forms": WEB,
    "app.trainer.groups_views": ENTRY,
}

#: Third-party packages a layer may not import at all.
FORBIDDEN = {
    CORE: ("flask", "flask_babel", "flask_login", "flask_wtf", "flask_sqlalchemy", "sqlalchemy"),
    SERVICES: ("flask", "flask_babel", "flask_login", "flask_wtf", "flask_limiter"),
}


def module_name(path: Path, root: Path) -> str:
    """The dotted name of a file under root/app/."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    """The layer of a module of ours: views and CLI by name, the rest from LAYERS."""
    if module.rsplit(".", 1)[-1] in ("views", "cli"):
        return ENTRY
    best = ""
    for prefix in LAYERS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
            best = prefix
    if best == "app" and module != "app":
        return CORE  # "app" names only the factory itself, not every package below it
    return LAYERS.get(best, CORE)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


#: imports_of's answers by (root, file, source): each walk re-reads every file, but parses again
#: only a file whose text changed (the tests below plant one import in one file at a time).
_PARSED: dict[tuple[Path, Path, str], list[tuple[int, str]]] = {}


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, imported module) for every runtime import in a file."""
    source = path.read_text(encoding="utf-8")
    key = (root, path, source)
    if key not in _PARSED:
        _PARSED[key] = _parse_imports(path, source, root)
    return list(_PARSED[key])


def _parse_imports(path: Path, source: str, root: Path) -> list[tuple[int, str]]:
    tree = ast.parse(source, filename=str(path))
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                base = root / Path(*candidate.split("."))
                is_module = base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()
                found.append((node.lineno, candidate if is_module else node.module))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def violations(root: Path = ROOT) -> list[str]:
    """Every import that points up the layers, or at another blueprint's views."""
    problems = []
    for path in sorted((root / "app").rglob("*.py")):
        importer = module_name(path, root)
        own = layer_of(importer)
        for line, imported in imports_of(path, root):
            where = f"{path.relative_to(root)}:{line}: {importer} ({NAMES[own]})"
            top = imported.split(".", 1)[0]
            if top in FORBIDDEN.get(own, ()):
                problems.append(f"{where} imports {imported}")
                continue
            if top != "app":
                continue
            target = layer_of(imported)
            if target > own:
                problems.append(f"{where} imports {imported} ({NAMES[target]})")
            elif imported.endswith(".views") and importer != "app":
                problems.append(f"{where} imports another views module {imported}")
    return sorted(set(problems))


def test_no_import_points_up_the_layers() -> None:
    assert violations() == []


def test_only_the_pdf_renderer_imports_weasyprint() -> None:
    # The server hands each PDF to a render process (app/pdf/bounded.py): importing WeasyPrint
    # anywhere else would make every server process and `flask` command start a third slower.
    importers = {
        str(path.relative_to(ROOT))
        for path in APP.rglob("*.py")
        for _line, imported in imports_of(path)
        if imported.split(".", 1)[0] == "weasyprint"
    }
    assert importers == {"app/pdf/render.py"}


@pytest.fixture(scope="module")
def app_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of app/ (code only) that a test may plant one bad import in."""
    root = tmp_path_factory.mktemp("layers")
    shutil.copytree(APP, root / "app", ignore=shutil.ignore_patterns("__pycache__", "translations"))
    return root


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from app.web import current_learner\n", "app/progress/identity.py"),
        ("from flask import session\n", "app/progress/queries.py"),
        ("from flask_login import current_user\n", "app/progress/statements.py"),
        ("from app.content.views import bp\n", "app/pdf/views.py"),
        ("from app.progress.statements import record\n", "app/content/loader.py"),
        ("def f():\n    from app.pdf.build import build_pdfs\n", "app/content/markdown.py"),
        ("from flask_babel import gettext\n", "app/content/plugins/eqf.py"),
        ("from app.extensions import db\n", "app/content/frontmatter.py"),
    ],
)
def test_the_walker_catches_an_upward_import(source: str, expected: str, app_copy: Path) -> None:
    # The same walk over a copy of app/ with one bad import added must report it.
    target = app_copy / expected
    original = target.read_text(encoding="utf-8")
    target.write_text(original + "\n" + source, encoding="utf-8")
    try:
        found = violations(app_copy)
    finally:
        target.write_text(original, encoding="utf-8")
    assert len(found) == 1 and found[0].startswith(expected), found


def test_type_checking_imports_do_not_count(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flask import Flask\n"
        "import json\n"
    )
    assert [name for _, name in imports_of(path)] == ["typing", "json"]
