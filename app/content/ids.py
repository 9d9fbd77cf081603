"""Ids in content: the form an id a trainer writes must have, and the id a title gives."""

from __future__ import annotations

import re
import unicodedata

VALID_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def slugify(text: str, max_length: int = 60) -> str:
    """Turn text into a lowercase ASCII id: accents dropped, runs of other characters as '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "section"
