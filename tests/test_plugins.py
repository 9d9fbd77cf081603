"""Markdown plugins: a new `:::` block is one file in app/content/plugins/, found by itself,
and the mistakes it reports reach the trainer as `path:line: message` through the loader.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.content import markdown, plugins
from app.content.loader import load_catalogue

# The whole of a new block, as a developer would add it: one file, nothing else edited.
QUOTE_PLUGIN = '''\
"""Quotations: `::: quote Author` ... `:::`."""

from html import escape

from mdit_py_plugins.container import container_plugin

from app.content.plugins import Plugin, line_of, report


def _render(self, tokens, idx, options, env):
    token = tokens[idx]
    if token.nesting != 1:
        return "</div></figure>\\n"
    author = token.info.strip().partition(" ")[2]
    return f'<figure class="quote"><figcaption>{escape(author)}</figcaption><div>\\n'


def _authors(state):
    for token in state.tokens:
        if token.type == "container_quote_open" and not token.info.strip().partition(" ")[2]:
            report(state.env, line_of(token), "a quote needs its author, e.g. '::: quote Seneca'")


def install(md):
    container_plugin(md, "quote", render=_render)
    md.core.ruler.push("quote_authors", _authors)


PLUGIN = Plugin(install, blocks=("quote Author",))
'''

COURSE_YML = """\
id: demo
default_language: en
languages: [en]
title: {en: "Demo course"}
description: {en: "Description"}
eqf: 3-5
"""

FRONT = """\
---
title: Module
eqf: 3-4
duration: 20
description: One sentence.
keywords: [one]
outcomes:
  - Tell A from B
---
"""


@pytest.fixture
def quote_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The parser rebuilt with quote.py dropped into the plugins folder (a copy of it)."""
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "quote.py").write_text(QUOTE_PLUGIN, encoding="utf-8")
    monkeypatch.setattr(plugins, "__path__", [*plugins.__path__, str(folder)])
    monkeypatch.setattr(markdown, "MARKDOWN", markdown.create_markdown())
    yield
    sys.modules.pop("app.content.plugins.quote", None)


def load(tmp_path: Path, body: str) -> list[str]:
    root = tmp_path / "content"
    module = root / "demo" / "01-basics" / "en.md"
    module.parent.mkdir(parents=True)
    (root / "demo" / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    module.write_text(FRONT + body, encoding="utf-8")
    return [str(problem) for problem in load_catalogue(root).problems]


def test_every_plugin_file_is_installed() -> None:
    names = {plugin.install.__module__.rsplit(".", 1)[1] for plugin in plugins.discover()}
    assert {"callouts", "eqf", "headings", "quiz_blocks", "tables"} <= names


def test_a_new_block_file_renders_and_reports_its_mistakes_at_the_file_line(
    quote_block: None, tmp_path: Path
) -> None:
    body = (
        "Intro.\n\n## One {#one}\n\n"  # the body starts at line 10
        "::: quote Seneca\nWe suffer more in imagination than in reality.\n:::\n\n"
        "::: quote\nNobody said this.\n:::\n\n"  # line 18: no author
        "::: foo\nx\n:::\n\n"  # line 22: unknown, and the hint names the new block
        "::: quote Nobody\nnever closed\n"  # line 26
    )
    assert load(tmp_path, body) == [
        "demo/01-basics/en.md:18: a quote needs its author, e.g. '::: quote Seneca'",
        "demo/01-basics/en.md:22: unknown block '::: foo' "
        "(use tip, note, example, warning, eqf 3-5, or quote Author)",
        "demo/01-basics/en.md:26: '::: quote Nobody' is never closed: add a line ':::'",
    ]
    html = markdown.render("::: quote Seneca\nQuoted.\n:::\n")
    assert '<figure class="quote"><figcaption>Seneca</figcaption><div>' in html


def test_without_the_file_the_block_is_unknown(tmp_path: Path) -> None:
    body = "Intro.\n\n## One {#one}\n\n::: quote Seneca\nQuoted.\n:::\n"
    assert load(tmp_path, body) == [
        "demo/01-basics/en.md:14: unknown block '::: quote' "
        "(use tip, note, example, warning, or eqf 3-5)"
    ]


def test_plugins_report_through_the_env_in_line_order() -> None:
    env: dict[str, object] = {"eqf": None}
    markdown.MARKDOWN.parse("# Title\n\n::: eqf 9\nx\n:::\n\n:::\n\n## Bad {#Bad}\n", env)
    assert plugins.problems(env) == [
        (0, "use '##' for sections: the module title comes from front matter"),
        (2, "an EQF block needs a level from 3 to 5, e.g. '::: eqf 5'"),
        (6, "':::' closes nothing: no block is open here"),
        (8, "section id 'Bad' must be lowercase letters, digits, '-' or '_'"),
    ]


def test_a_lone_carriage_return_is_a_line_break_for_the_block_checks(tmp_path: Path) -> None:
    # markdown-it reads a lone CR (old Mac line ends) as a line break; the check that a block
    # is closed reads the same lines, so a closed block is not reported as unclosed.
    body = "Intro.\n\n## One {#one}\n\n::: tip\rInside.\r:::\n\nAfter.\n"
    assert load(tmp_path, body) == []
