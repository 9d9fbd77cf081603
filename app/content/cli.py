"""`flask content check`: every error in every course, as path:line: message."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from app.audio.cli import run_build as build_audio
from app.content.loader import display_path, load_catalogue
from app.pdf.build import build_pdfs

content_cli = AppGroup("content", help="Check and build course content.")


@content_cli.command("check")
def check() -> None:
    """Check every course and module; print each error as path:line: message."""
    root = current_app.config["CONTENT_DIR"]
    result = load_catalogue(root)
    for problem in result.problems:
        # Paths are relative to the content folder; prefixed, an editor or CI log can open them.
        click.echo(f"{display_path(Path(root) / problem.path)}:{problem.line}: {problem.message}")
    for warning in result.warnings:
        shown = display_path(Path(root) / warning.path)
        click.echo(f"{shown}:{warning.line}: warning: {warning.message}")
    courses = list(result.courses.values())
    modules = sum(len(c.entries) for c in courses)
    files = sum(len(e.versions) for c in courses for e in c.entries)
    questions = sum(
        len(m.questions) for c in courses for e in c.entries for m in e.versions.values()
    )
    if result.problems:
        hidden = sum(1 for c in courses for e in c.entries if not e.ok)
        translations = [
            f"{e.id} ({lang})"
            for c in courses
            for e in c.entries
            if e.ok
            for lang in e.hidden_languages
        ]
        click.echo(
            f"{len(result.problems)} error(s) in {root}: "
            f"{hidden} of {modules} module(s) hidden from learners until fixed.",
            err=True,
        )
        if translations:
            click.echo(
                f"Translations hidden until fixed: {', '.join(translations)}; "
                "their learners get the default-language module with a notice.",
                err=True,
            )
        raise SystemExit(1)
    click.echo(
        f"OK: {len(courses)} course(s), {modules} module(s), {files} file(s), "
        f"{questions} question(s), no errors"
        + (f", {len(result.warnings)} warning(s)." if result.warnings else ".")
    )


@content_cli.command("build")
@click.option(
    "--workers", type=int, default=None, help="Processes for audio (default: one per core)."
)
def build(workers: int | None) -> None:
    """Build every missing artefact: the audio versions, then the PDFs; exit 1 if any failed."""
    # Imported here: the content package must not depend on the channels that it feeds.

    click.echo("Audio versions")
    audio = build_audio(workers)
    click.echo("PDF downloads")
    pdfs = build_pdfs(current_app._get_current_object(), echo=click.echo)  # type: ignore[attr-defined]
    if not (audio.ok and pdfs.ok):
        click.echo("Some artefacts failed (see above); everything else was built.", err=True)
        raise SystemExit(1)
