"""Quiz blocks: fenced `quiz` and `gift` blocks are taken out of the document.

They are kept in `env["quiz_blocks"]` as (kind, text, first content line, fence line), 0-based
lines, so they are never shown as code; the loader parses them as questions, and the quiz
parser reports their mistakes at their file lines.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from app.content.plugins import Plugin

QUIZ_FENCES = ("quiz", "gift")


def _take_quiz_blocks(state: StateCore) -> None:
    """Core rule: move `quiz`/`gift` fences out of the token stream into env."""
    kept: list[Token] = []
    blocks = state.env.setdefault("quiz_blocks", [])
    for token in state.tokens:
        kind = token.info.strip().split(" ")[0] if token.type == "fence" else ""
        if kind in QUIZ_FENCES and token.map:
            # map[0] is the 0-based line of the opening fence; content starts on the next line.
            blocks.append((kind, token.content, token.map[0] + 1, token.map[0]))
            continue
        kept.append(token)
    state.tokens = kept


def install(md: MarkdownIt) -> None:
    """Add the rule that takes quiz blocks out."""
    md.core.ruler.push("quiz_blocks", _take_quiz_blocks)


PLUGIN = Plugin(install)
