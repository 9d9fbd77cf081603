"""Poppler and zbar on real PDFs, for the PDF tests."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def run(*args: str | Path) -> str:
    """Run a command and return its standard output (fail the test on a non-zero exit)."""
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr}"
    return done.stdout


def pdf_pages_text(path: Path) -> list[str]:
    """The text of each page (pdftotext puts a form feed between pages)."""
    return run("pdftotext", "-enc", "UTF-8", path, "-").split("\f")[:-1]


def flat(text: str) -> str:
    """Whitespace collapsed, so a phrase is found wherever the layout broke its lines."""
    return re.sub(r"\s+", " ", text).strip()


def pdfinfo(path: Path) -> dict[str, str]:
    """`pdfinfo` fields as a dict."""
    fields = {}
    for line in run("pdfinfo", "-enc", "UTF-8", path).splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def pdffonts(path: Path) -> list[dict[str, str]]:
    """One dict per font: name and whether it is embedded."""
    lines = run("pdffonts", path).splitlines()[2:]
    return [{"name": line.split()[0], "emb": line.split()[-5]} for line in lines if line.strip()]


def qr_on_page(path: Path, page: int, workdir: Path) -> list[str]:
    """Every QR code zbar reads on one page rendered at 150 dpi."""
    prefix = workdir / f"page{page}"
    run(
        "pdftoppm",
        "-r",
        "150",
        "-f",
        str(page),
        "-l",
        str(page),
        "-png",
        "-singlefile",
        path,
        prefix,
    )
    done = subprocess.run(
        ["zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", f"{prefix}.png"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line for line in done.stdout.splitlines() if line]


def plain(markdown_text: str) -> str:
    """Question source text as it reads in print: blanks and Markdown markers dropped."""
    text = markdown_text.replace("_____", " ")
    text = re.sub(r"[*`]", "", text)
    return flat(text)
