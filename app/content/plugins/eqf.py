"""EQF deepening blocks: `::: eqf N [title]` ... `:::`, shown collapsed with a level badge.

Reports a level outside 3..5, and one outside the module's EQF range when the parser's env
gives that range as `env["eqf"]`. Each block's level is kept on its opening token as
`token.meta["eqf_level"]`, for the sections that hold it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from app.content import texts
from app.content.plugins import Plugin, line_of, report

EQF_LEVELS = (3, 4, 5)
_EQF_INFO = re.compile(r"^eqf\s+(\S+)(?:\s+(.*?))?\s*$")


def _render_eqf(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """Render an EQF deepening block as a collapsed `<details>` with a level badge."""
    token = tokens[idx]
    if token.nesting != 1:
        return "</div></details>\n"
    match = _EQF_INFO.match(token.info.strip())
    level = match.group(1) if match else "?"
    labels = texts.labels(env.get("language", "en"))
    title = (match.group(2) if match else None) or labels["eqf"]
    return (
        f'<details class="eqf-block" data-eqf="{escape(level)}">'
        f'<summary><span class="eqf-badge">EQF {escape(level)}</span> {escape(title)}</summary>'
        '<div class="eqf-body">\n'
    )


def _validate_eqf(params: str, markup: str) -> bool:
    """Accept any `::: eqf ...` opening; a bad level is reported with its line."""
    return params.strip().split(" ")[0] == "eqf"


def _check_levels(state: StateCore) -> None:
    """Core rule: keep each block's level on its token, report a level that cannot be."""
    allowed = state.env.get("eqf")
    for token in state.tokens:
        if token.type != "container_eqf_open":
            continue
        match = _EQF_INFO.match(token.info.strip())
        level = int(match.group(1)) if match and match.group(1).isdigit() else None
        if level is not None:
            token.meta["eqf_level"] = level
        if level not in EQF_LEVELS:
            report(
                state.env,
                line_of(token),
                "an EQF block needs a level from 3 to 5, e.g. '::: eqf 5'",
            )
        elif allowed is not None and level not in allowed:
            report(
                state.env,
                line_of(token),
                f"'::: eqf {level}' is outside this module's EQF range ({allowed})",
            )


def install(md: MarkdownIt) -> None:
    """Add the `::: eqf N` block and its level check."""
    container_plugin(md, "eqf", validate=_validate_eqf, render=_render_eqf)
    md.core.ruler.push("eqf_levels", _check_levels)


PLUGIN = Plugin(install, blocks=("eqf 3-5",))
