"""Question texts to safe HTML, whatever format the trainer wrote them in.

Markdown goes through the one configured renderer; HTML and Moodle's auto-format are
sanitised with the same allow-list; plain text is escaped. Nothing a trainer writes reaches
the page unsanitised.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from markupsafe import Markup, escape

from app.content.markdown import render, sanitise
from app.content.questions import TextFormat

_SINGLE_PARAGRAPH_RE = re.compile(r"\A\s*<p>(.*)</p>\s*\Z", re.DOTALL)
# Stands in for an input while the text around it is rendered; letters only, so neither
# Markdown nor the sanitiser touches it.
_SLOT = "qzslot{}qzslot"
_SLOT_RE = re.compile(r"qzslot(\d+)qzslot")


# The quiz page renders every question, option and feedback on each visit: the same texts
# until a trainer edits them, so each one is rendered once (a pure function of its arguments).
@lru_cache(maxsize=8192)
def to_html(text: str, fmt: TextFormat | str, language: str = "en", inline: bool = False) -> str:
    """Safe HTML for one piece of trainer text.

    :param inline: drop the paragraph around a one-paragraph text, for labels and table cells.
    """
    fmt = TextFormat(fmt)
    if fmt is TextFormat.MARKDOWN:
        html = render(text, language)
    elif fmt is TextFormat.PLAIN:
        html = str(escape(text)).replace("\n", "<br>\n")
    elif fmt is TextFormat.MOODLE:
        # Moodle's auto-format: HTML allowed, line breaks kept.
        html = sanitise(text.replace("\n", "<br>\n"))
    else:
        html = sanitise(text)
    if inline:
        match = _SINGLE_PARAGRAPH_RE.match(html)
        if match and "<p>" not in match.group(1):
            html = match.group(1)
    return html.strip()


def markup(text: str, fmt: TextFormat | str, language: str = "en", inline: bool = False) -> Markup:
    """`to_html` as template-safe Markup."""
    return Markup(to_html(text, fmt, language, inline))  # sanitised above


def with_slots(
    parts: Sequence[str],
    fmt: TextFormat | str,
    language: str,
    slot: Callable[[int], str],
) -> Markup:
    """Render text whose blanks sit between `parts`, putting `slot(i)` HTML at blank i.

    The text is rendered as a whole (so Markdown spanning a blank stays intact), with a
    letters-only marker at each blank that is swapped for the input afterwards.
    """
    source = "".join(
        part + (_SLOT.format(i) if i < len(parts) - 1 else "") for i, part in enumerate(parts)
    )
    # A marker inside an attribute (a link's title, say) is no place for an input: drop it
    # there, and the blank gets its input after the text like any swallowed one.
    html = sanitise(
        to_html(source, fmt, language, inline=False),
        attribute_filter=lambda _tag, _attribute, value: _SLOT_RE.sub("", value),
    )
    seen: set[int] = set()

    def _swap(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index in seen or index >= len(parts) - 1:
            return ""
        seen.add(index)
        return slot(index)

    html = _SLOT_RE.sub(_swap, html)
    # A blank the renderer swallowed (inside a code span, say) still gets its input.
    missing = "".join(slot(i) for i in range(len(parts) - 1) if i not in seen)
    return Markup(html + (f"<p>{missing}</p>" if missing else ""))
