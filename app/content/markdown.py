"""The one configured Markdown renderer for trainer content, and our syntax as plugins.

Plugins:
- heading ids: `## Title {#id}` fixes a heading's id; without it the id is the heading's slug.
- callouts: `::: tip|note|example|warning [title]` ... `:::`.
- EQF deepening blocks: `::: eqf N` ... `:::`, shown with a level badge, collapsed.
- quiz blocks: fenced `quiz` and `gift` blocks are taken out of the document and kept in
  `env["quiz_blocks"]` with their source line, so they are never shown as code.

Rendered HTML is sanitised with an allow-list (nh3): trainer Markdown may contain raw HTML,
but no script, event handler, `javascript:` URL or iframe reaches a learner.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.footnote import footnote_plugin

from app.content import texts

CALLOUT_KINDS = ("tip", "note", "example", "warning")
EQF_LEVELS = (3, 4, 5)
QUIZ_FENCES = ("quiz", "gift")

_HEADING_ID = re.compile(r"\s*\{#([^}\s]*)\}\s*$")
VALID_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_EQF_INFO = re.compile(r"^eqf\s+(\S+)(?:\s+(.*?))?\s*$")


def slugify(text: str, max_length: int = 60) -> str:
    """Turn text into a lowercase ASCII id: accents dropped, runs of other characters as '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "section"


def _heading_ids(state: Any) -> None:
    """Core rule: strip a trailing `{#id}` from headings and record the id on the token."""
    tokens: list[Token] = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
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
        else:
            token.attrSet("id", slugify(inline.content))


def _empty_corner_cells(state: Any) -> None:
    """Core rule: an empty header cell (a table's corner) becomes a data cell.

    A `<th>` heads its row or column; an empty one names nothing and screen readers announce
    it as a blank header, so `| | Shop | Web |` renders its first cell as `<td>`.
    """
    tokens: list[Token] = state.tokens
    for i, token in enumerate(tokens):
        if token.type == "th_open" and not tokens[i + 1].content.strip():
            token.type, token.tag = "td_open", "td"
            tokens[i + 2].type, tokens[i + 2].tag = "td_close", "td"


def _take_quiz_blocks(state: Any) -> None:
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
    """Accept any `::: eqf ...` opening; the loader reports a bad level with its line."""
    return params.strip().split(" ")[0] == "eqf"


def create_markdown() -> MarkdownIt:
    """Build the MarkdownIt we use: CommonMark, tables, strikethrough, footnotes, our plugins."""
    # html=True because trainers may write raw HTML; every output goes through sanitise().
    md = MarkdownIt("commonmark", {"html": True, "typographer": False})
    md.enable(["table", "strikethrough"])
    footnote_plugin(md)
    for kind in CALLOUT_KINDS:
        container_plugin(md, kind, render=_render_callout)
    container_plugin(md, "eqf", validate=_validate_eqf, render=_render_eqf)
    md.core.ruler.push("heading_ids", _heading_ids)
    md.core.ruler.push("quiz_blocks", _take_quiz_blocks)
    md.core.ruler.push("empty_corner_cells", _empty_corner_cells)
    return md


MARKDOWN = create_markdown()

# Learner Markdown (comments, answers) must never carry raw HTML.
LEARNER_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])

_ALLOWED_TAGS = {
    "a", "abbr", "aside", "b", "blockquote", "br", "caption", "code", "dd", "del", "details",
    "div", "dl", "dt", "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "section", "small", "span", "strong",
    "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang", "role"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "style", "scope"},
    "ol": {"start"},
    "details": {"open", "data-eqf"},
}


def sanitise(
    html: str, attribute_filter: Callable[[str, str, str], str | None] | None = None
) -> str:
    """Keep only allow-listed tags, attributes and URL schemes (no scripts, handlers, iframes).

    :param attribute_filter: called with (tag, attribute, value) for every attribute kept;
        returns the value to keep, or None to drop the attribute.
    """
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        # Table alignment from Markdown is the only inline style we produce.
        filter_style_properties={"text-align"},
        link_rel="noopener noreferrer",
        attribute_filter=attribute_filter,
    )


def render_learner_markdown(text: str) -> str:
    """Render Markdown typed by a learner: raw HTML is shown as text, never interpreted."""
    return sanitise(LEARNER_MARKDOWN.render(text))


def render(text: str, language: str = "en") -> str:
    """Render a whole Markdown text with our plugins, sanitised (quiz blocks are left out)."""
    return sanitise(MARKDOWN.render(text, {"language": language}))
