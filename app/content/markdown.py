"""The one configured Markdown renderer for trainer content, with our syntax as plugins.

Our syntax (heading ids, callouts, EQF blocks, quiz blocks, table corners) is one plugin per
module in `app.content.plugins`; each reports its own mistakes through the parser's env.

Rendered HTML is sanitised with an allow-list (nh3): trainer Markdown may contain raw HTML,
but no script, event handler, `javascript:` URL or iframe reaches a learner.
"""

from __future__ import annotations

from collections.abc import Callable

import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.footnote import footnote_plugin

from app.content import plugins


def create_markdown() -> MarkdownIt:
    """Build the MarkdownIt we use: CommonMark, tables, strikethrough, footnotes, our plugins."""
    # html=True because trainers may write raw HTML; every output goes through sanitise().
    md = MarkdownIt("commonmark", {"html": True, "typographer": False})
    md.enable(["table", "strikethrough"])
    footnote_plugin(md)
    plugins.install_all(md)
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
