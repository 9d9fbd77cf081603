"""Tables: an empty header cell (a table's corner) becomes a data cell.

A `<th>` heads its row or column; an empty one names nothing and screen readers announce it as
a blank header, so `| | Shop | Web |` renders its first cell as `<td>`.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from app.content.plugins import Plugin


def _empty_corner_cells(state: StateCore) -> None:
    """Core rule: turn each empty `<th>` into a `<td>`."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "th_open" and not tokens[i + 1].content.strip():
            token.type, token.tag = "td_open", "td"
            tokens[i + 2].type, tokens[i + 2].tag = "td_close", "td"


def install(md: MarkdownIt) -> None:
    """Add the empty-corner rule."""
    md.core.ruler.push("empty_corner_cells", _empty_corner_cells)


PLUGIN = Plugin(install)
