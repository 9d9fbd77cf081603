"""QR codes for print: an SVG `data:` URL, embedded without any file or network access."""

from __future__ import annotations

import base64

import segno


def qr_data_url(url: str) -> str:
    """An SVG QR code for `url` as a data: URL (error correction M, quiet zone kept)."""
    code = segno.make(url, error="m", micro=False)
    # Dark modules in plain black on white: the best contrast for phone cameras and printers.
    svg = code.svg_inline(scale=4, dark="#000", light="#fff", border=4)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
