"""Our Markdown syntax, one plugin per module of this package: a new `:::` block is one file.

A plugin module defines `PLUGIN = Plugin(install, blocks=...)`; `install_all` installs every
plugin module it finds in this package, in the order of their names, so adding a file here is
all it takes. A `:::` block is a container (`mdit_py_plugins.container`): an unclosed one and
an unknown name are reported for every block alike. A plugin reports a trainer's mistake in
its own syntax while the text is parsed, with `report(state.env, line, message)`; the loader
turns each into `path:line: message`. Lines are 0-based lines of the parsed text, as
`token.map` gives them.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

#: The env key under which plugins collect (line, message) pairs.
PROBLEMS = "problems"


@dataclass(frozen=True)
class Plugin:
    """One piece of our Markdown syntax, installed into the parser by `install`."""

    install: Callable[[MarkdownIt], None]
    #: The `:::` blocks it adds as a trainer writes them ("tip", "eqf 3-5"): the message about
    #: an unknown block lists them.
    blocks: tuple[str, ...] = ()


def report(env: MutableMapping[str, Any], line: int, message: str) -> None:
    """Record a trainer's mistake at a 0-based line of the text being parsed."""
    env.setdefault(PROBLEMS, []).append((line, message))


def problems(env: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The mistakes the plugins reported while parsing, in line order (0-based lines)."""
    return sorted(env.get(PROBLEMS, ()), key=lambda problem: problem[0])


def line_of(token: Token) -> int:
    """The 0-based line a block token starts on (0 when markdown-it gives none)."""
    return token.map[0] if token.map else 0


def discover() -> list[Plugin]:
    """Every plugin of this package, in the order of their module names."""
    found = sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.ispkg)
    return [importlib.import_module(f"{__name__}.{name}").PLUGIN for name in found]


def _in_words(choices: Sequence[str]) -> str:
    """`a, b, or c`."""
    if not choices:
        return "no block"
    return ", or ".join((", ".join(choices[:-1]), choices[-1])) if len(choices) > 1 else choices[0]


def install_all(md: MarkdownIt, plugins: Sequence[Plugin] | None = None) -> None:
    """Install our plugins, after the rule every `:::` block shares.

    That rule reports a block never closed, and a `:::` line that opened no block (markdown-it
    leaves it as the text of a paragraph), naming the blocks the plugins add.
    """
    plugins = discover() if plugins is None else plugins
    usage = _in_words([block for plugin in plugins for block in plugin.blocks])

    def blocks(state: StateCore) -> None:
        lines = state.src.split("\n")
        for token in state.tokens:
            if token.type.startswith("container_") and token.type.endswith("_open"):
                # The map ends just before the closing fence; an unclosed block runs to the end.
                closing = token.map[1] if token.map else len(lines)
                if closing >= len(lines) or not lines[closing].strip().startswith(":::"):
                    message = f"'::: {token.info.strip()}' is never closed: add a line ':::'"
                    report(state.env, line_of(token), message)
            elif token.type == "inline" and token.content.lstrip().startswith(":::"):
                name = token.content.strip().splitlines()[0].lstrip(":").strip().split(" ")[0]
                if name:
                    message = f"unknown block '::: {name}' (use {usage})"
                else:
                    message = "':::' closes nothing: no block is open here"
                report(state.env, line_of(token), message)

    # First, so a block's own checks come after "never closed" on the same line.
    md.core.ruler.push("blocks", blocks)
    for plugin in plugins:
        plugin.install(md)
