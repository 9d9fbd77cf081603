"""`flask content export-scorm COURSE [MODULE]`: a SCORM 1.2 package for another LMS."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from app.content.catalog import catalogue_of
from app.scorm.package import PackageError, build_package


@click.command("export-scorm")
@with_appcontext
@click.argument("course_id")
@click.argument("module_id", required=False)
@click.option("--language", "-l", help="Language of the package (default: the course's).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the zip here (default: <course>-<module>-<language>.scorm12.zip here).",
)
def export_scorm(
    course_id: str, module_id: str | None, language: str | None, output: Path | None
) -> None:
    """Write a course (or one module) as a SCORM 1.2 zip: pages, audio, PDF, graded quiz."""
    catalogue = catalogue_of(current_app)
    course = catalogue.course(course_id)
    if course is None:
        raise click.ClickException(
            f"no course {course_id!r}; courses: {', '.join(sorted(catalogue.courses)) or 'none'}"
        )
    language = language or course.default_language
    if language not in course.languages:
        raise click.ClickException(
            f"{course_id} is not written in {language!r}; languages: {', '.join(course.languages)}"
        )
    if module_id and module_id not in {e.id for e in course.visible}:
        visible = ", ".join(e.id for e in course.visible)
        raise click.ClickException(
            f"no visible module {module_id!r} in {course_id}; modules: {visible or 'none'}"
        )
    try:
        package = build_package(current_app, course, module_id, language, render_pdf=True)
    except PackageError as error:
        raise click.ClickException(str(error)) from error
    target = output or Path(package.filename)
    target.write_bytes(package.data)
    audio = sum(1 for sco in package.scos for name in sco.files if name.endswith(".mp3"))
    click.echo(
        f"Wrote {target} ({len(package.scos)} SCO(s), {audio} audio file(s), "
        f"{len(package.data) / 1024:.0f} KiB).",
        err=True,
    )
