"""`flask content export-gift|export-moodle-xml COURSE [MODULE]`: questions for Moodle.

Added to the `content` group by the app factory (`register_commands`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from app.content.catalog import catalogue_of
from app.content.model import Course, Module
from app.quizzes.gift_export import module_to_gift
from app.quizzes.moodle_xml import modules_to_moodle_xml


def _modules_with_questions(
    course_id: str, module_id: str | None, language: str | None
) -> tuple[Course, list[Module]]:
    """The course and its visible modules (or the one named) that have questions."""
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
    modules = []
    for entry in entries:
        found = course.module(entry.id, language)
        if found and found[0].questions:
            modules.append(found[0])
    if not modules:
        raise click.ClickException("no questions to export")
    return course, modules


def _write(text: str, output: Path | None, modules: int) -> None:
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output} ({modules} module(s)).", err=True)
    else:
        click.echo(text, nl=False)


def _export_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """COURSE [MODULE] -l/--language -o/--output, the same for every export."""
    for option in reversed(
        [
            with_appcontext,
            click.argument("course_id"),
            click.argument("module_id", required=False),
            click.option(
                "--language", "-l", help="Language of the questions (default: the course's)."
            ),
            click.option(
                "--output",
                "-o",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Write to this file instead of standard output.",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command("export-gift")
@_export_options
def export_gift(
    course_id: str, module_id: str | None, language: str | None, output: Path | None
) -> None:
    """Write the questions of a course (or of one module) as GIFT that Moodle imports."""
    course, modules = _modules_with_questions(course_id, module_id, language)
    _write("\n".join(module_to_gift(course, m) for m in modules), output, len(modules))


@click.command("export-moodle-xml")
@_export_options
def export_moodle_xml(
    course_id: str, module_id: str | None, language: str | None, output: Path | None
) -> None:
    """Write the questions of a course (or of one module) as Moodle XML for its question bank."""
    course, modules = _modules_with_questions(course_id, module_id, language)
    _write(modules_to_moodle_xml(course, modules), output, len(modules))
