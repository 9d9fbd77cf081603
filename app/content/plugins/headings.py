"""Headings: `## Title {#id}` fixes a heading's id, else the id is the heading's slug.

Reports a `#` heading (a module's title comes from its front matter; sections are `##`) and a
section id that is not a valid id.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore

from app.content.ids import VALID_ID, slugify
from app.content.plugins import Plugin, line_of, report

_HEADING_ID = re.compile(r"\s*\{#([^}\s]*)\}\s*$")


def _heading_ids(state: StateCore) -> None:
    """Core rule: strip a trailing `{#id}` from headings and record the id on the token."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        if token.tag == "h1":
            report(
                state.env,
                line_of(token),
                "use '##' for sections: the module title comes from front matter",
            )
        inline = tokens[i + 1]
        match = _HEADING_ID.search(inline.content)
        if match:
            explicit = match.group(1)
            inline.content = inline.content[: match.start()]
            if inline.children:
                last = inline.children[-1]
                if last.type == "text":
                    last.content = _HEADING_ID.sub("", last.content)
            token.meta["explicit_id"] = explicit
            token.attrSet("id", explicit)
            # A section's id keys learners' progress; deeper headings' ids are page anchors.
            if token.tag == "h2" and not VALID_ID.match(explicit):
                report(
                    state.env,
                    line_of(token),
                    f"section id '{explicit}' must be lowercase letters, digits, '-' or '_'",
                )
        else:
            token.attrSet("id", slugify(inline.content))


def install(md: MarkdownIt) -> None:
    """Add the heading-id rule."""
    md.core.ruler.push("heading_ids", _heading_ids)


PLUGIN = Plugin(install)
