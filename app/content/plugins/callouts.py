"""Callouts: `::: tip|note|example|warning [title]` ... `:::`, shown as a labelled aside."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin

from app.content import texts
from app.content.plugins import Plugin

CALLOUT_KINDS = ("tip", "note", "example", "warning")


def _render_callout(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """Render a callout as an `<aside>` with its kind's label or the trainer's title."""
    token = tokens[idx]
    if token.nesting != 1:
        return "</div></aside>\n"
    kind, _, title = token.info.strip().partition(" ")
    labels = texts.labels(env.get("language", "en"))
    heading = title.strip() or labels.get(kind, kind)
    return (
        f'<aside class="callout callout-{kind}" role="note">'
        f'<p class="callout-title"><span class="callout-kind">{escape(labels.get(kind, kind))}'
        f"</span>{' · ' + escape(heading) if title.strip() else ''}</p>"
        '<div class="callout-body">\n'
    )


def install(md: MarkdownIt) -> None:
    """Add one block per callout kind."""
    for kind in CALLOUT_KINDS:
        container_plugin(md, kind, render=_render_callout)


PLUGIN = Plugin(install, blocks=CALLOUT_KINDS)
