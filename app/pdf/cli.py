"""`flask pdf build`: build every module and course PDF that is missing or out of date."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.pdf.build import build_pdfs

pdf_cli = AppGroup("pdf", help="Build the downloadable PDFs.")


@pdf_cli.command("build")
def build() -> None:
    """Build the PDFs of every module and course, in every language, showing progress."""
    report = build_pdfs(current_app._get_current_object(), echo=click.echo)  # type: ignore[attr-defined]
    if not report.ok:
        raise SystemExit(1)
