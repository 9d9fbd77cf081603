"""`flask audio build`: synthesise what is missing, with a progress bar and a summary."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app.audio.build import BuildReport, Progress, build_audio

audio_cli = AppGroup("audio", help="Build the audio versions of the courses.")


@audio_cli.command("build")
@click.option("--workers", type=int, default=None, help="Processes to use (default: one per core).")
def build(workers: int | None) -> None:
    """Build every missing section and module MP3; exit 1 when anything failed."""
    if not run_build(workers).ok:
        raise SystemExit(1)


def run_build(workers: int | None = None) -> BuildReport:
    """Build the audio with a progress bar on a terminal (a line per step in a log)."""
    on_terminal = sys.stdout.isatty()
    pending = {"line": False}

    def echo(line: str) -> None:
        if pending["line"]:
            click.echo()  # end the progress bar's line before the summary
            pending["line"] = False
        click.echo(line)

    def progress(step: Progress) -> None:
        # On a terminal the bar redraws one line; in a log every step is its own line.
        if on_terminal:
            click.echo("\r\033[K" + step.line(), nl=False)
            pending["line"] = True
        else:
            click.echo(step.line())

    return build_audio(current_app, echo=echo, progress=progress, workers=workers)
