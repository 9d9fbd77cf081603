"""A module's body rendered by section: the intro, then one Section per `##` heading."""

from __future__ import annotations

from typing import Any

from markdown_it.token import Token

from app.content import markdown
from app.content.errors import Collector
from app.content.markdown import sanitise
from app.content.model import Section


def split_sections(
    tokens: list[Token],
    body_lines: list[str],
    offset: int,
    env: dict[str, Any],
    quiz_lines: list[int],
    out: Collector,
) -> tuple[str, list[Section]]:
    """Split the token stream at each `##` heading: the intro, then one Section per heading."""
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    md = markdown.MARKDOWN
    render = md.renderer.render
    intro_end = starts[0] if starts else len(tokens)
    intro_html = sanitise(render(tokens[:intro_end], md.options, env))
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        heading = tokens[start]
        title = tokens[start + 1].content.strip()
        line = heading.map[0] + offset if heading.map else offset
        section_id = str(heading.attrGet("id") or "")
        explicit = heading.meta.get("explicit_id")
        if not title:
            out.add(line, "a section heading needs a title")
        if section_id in seen:
            out.add(line, f"section id '{section_id}' is already used at line {seen[section_id]}")
        seen.setdefault(section_id, line)
        body_tokens = tokens[start + 3 : end]
        # The EQF plugin keeps each deepening block's level on its opening token.
        levels = sorted({t.meta["eqf_level"] for t in body_tokens if "eqf_level" in t.meta})
        end_map = tokens[end].map if end < len(tokens) else None
        last_line = end_map[0] if end_map else len(body_lines)
        first_line = heading.map[0] + 1 if heading.map else 0
        sections.append(
            Section(
                id=section_id,
                title=title,
                html=sanitise(render(body_tokens, md.options, env)),
                line=line,
                text="\n".join(body_lines[first_line:last_line]).strip(),
                eqf_levels=tuple(levels),
                has_quiz=any(first_line <= q < last_line for q in quiz_lines),
                explicit_id=explicit is not None,
            )
        )
    return intro_html, sections
