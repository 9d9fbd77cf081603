"""Pictures in a module's media/ folder: which files may be shown, and Markdown images
pointed at the media route once they are checked.
"""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it.token import Token

from app.content.errors import Collector

# Only pictures are served from media/: no HTML or script can ride along with a module.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_MEDIA_NAME = re.compile(r"^media/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


def rewrite_media(
    tokens: list[Token],
    course_id: str,
    module_id: str,
    media_dir: Path,
    media_shown: str,
    offset: int,
    out: Collector,
    *,
    max_bytes: int,
) -> None:
    """Point relative images at the media route, after checking the file exists.

    :param media_shown: the media folder as problems name it.
    :param max_bytes: the largest SVG picture accepted.
    """
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        line = token.map[0] + offset if token.map else offset
        for child in token.children:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("/"):
                continue
            if not _MEDIA_NAME.match(src) or ".." in src.split("/"):
                out.add(line, f"image '{src}' must be a file in the module's media/ folder")
                continue
            if Path(src).suffix.lower() not in MEDIA_TYPES:
                kinds = ", ".join(sorted(MEDIA_TYPES))
                out.add(line, f"image '{src}' must be a picture ({kinds})")
                continue
            if not (media_dir.parent / src).is_file():
                out.add(line, f"image '{src}' not found in {media_shown}")
                continue
            if src.lower().endswith(".svg"):
                refusal = svg_problem(media_dir.parent / src, max_bytes)
                if refusal:
                    out.add(line, f"image '{src}': {refusal}")
                    continue
            child.attrSet("src", f"/media/{course_id}/{module_id}/{src.removeprefix('media/')}")


_SVG_DECLARATION = re.compile(rb"<!(?:ENTITY|DOCTYPE[^>\[]*\[)", re.IGNORECASE)


def svg_problem(path: Path, max_bytes: int) -> str | None:
    """Why an SVG picture is refused, or None: too large, or declaring XML entities.

    Entities expand when the picture is parsed: a few lines can grow into megabytes of text
    and keep a PDF render busy for minutes. Drawings never need them.
    """
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return f"the picture is {size // 1000} KB; at most {max_bytes // 1000} KB"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if _SVG_DECLARATION.search(data):
        return (
            "the SVG declares XML entities (<!DOCTYPE ... [ <!ENTITY ...> ]>), which are not "
            "allowed: export the drawing again without a DOCTYPE"
        )
    return None
