"""`flask content export-gift COURSE [MODULE]`: a course's questions as GIFT for Moodle.

Added to the `content` group by the app factory (`register_commands`).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.content.catalog import catalogue_of
from app.quizzes.gift_export import module_to_gift


@click.command("export-gift")
@with_appcontext
@click.argument("course_id")
@click.argument("module_id", required=False)
@click.option("--language", "-l", help="Language of the questions (default: the course's).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
def export_gift(
    course_id: str, module_id: str | None, language: str | None, output: Path | None
) -> None:
    """Write the questions of a course (or of one module) as GIFT that Moodle imports."""
    catalogue = catalogue_of(current_app)
    course = catalogue.course(course_id)
    if course is None:
        raise click.ClickException(
            f"no course {course_id!r}; courses: {', '.join(sorted(catalogue.courses)) or 'none'}"
        )
    language = language or course.default_language
    entries = [e for e in course.visible if module_id in (None, e.id)]
    if module_id and not entries:
        visible = ", ".join(e.id for e in course.visible)
        raise click.ClickException(
            f"no visible module {module_id!r} in {course_id}; modules: {visible or 'none'}"
        )
    parts = []
    for entry in entries:
        found = course.module(entry.id, language)
        if found and found[0].questions:
            parts.append(module_to_gift(course, found[0]))
    if not parts:
        raise click.ClickException("no questions to export")
    text = "\n".join(parts)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output} ({len(parts)} module(s)).", err=True)
    else:
        click.echo(text, nl=False)
