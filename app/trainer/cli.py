"""`flask groups ...` and `flask reports ...`: groups and CSV exports from a shell or a cron job."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.services import normalise_email
from app.extensions import db
from app.trainer import groups as services
from app.trainer.csv_export import items_csv, progress_csv
from app.trainer.models import Group
from app.trainer.reports import group_report, question_stats
from app.web import catalogue

groups_cli = AppGroup("groups", help="Create and list trainers' groups.")
reports_cli = AppGroup("reports", help="Print a report as CSV (the same file as the page's).")


def _write(text: str) -> None:
    """Write a CSV byte for byte (CRLF line ends and BOM kept, whatever the terminal does)."""
    stream = click.get_binary_stream("stdout")
    stream.write(text.encode("utf-8"))
    stream.flush()


@groups_cli.command("create")
@click.argument("course_id")
@click.argument("name")
@click.option("--trainer", "email", required=True, help="E-mail of the trainer who owns it.")
@click.option("--language", help="Language of the group (default: the course's).")
@click.option("--closes", type=click.DateTime(["%Y-%m-%d"]), help="Last day to join (UTC).")
def create(
    course_id: str, name: str, email: str, language: str | None, closes: datetime | None
) -> None:
    """Create a group; the join code is printed alone on the last line."""
    course = catalogue().course(course_id)
    if course is None:
        raise click.ClickException(f"no course '{course_id}'")
    language = language or course.default_language
    if language not in course.languages:
        raise click.ClickException(f"'{language}' is not a language of '{course_id}'")
    trainer = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if trainer is None or not trainer.is_trainer:
        raise click.ClickException(f"no trainer account with e-mail {email}")
    closes_at = closes.replace(hour=23, minute=59, second=59, tzinfo=UTC) if closes else None
    try:
        group = services.create_group(trainer, course.id, name, language, closes_at)
    except services.GroupError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created group {group.id} '{group.name}' for {course.id} ({language}).")
    click.echo("Join link: /" + language + "/join/" + group.code)
    click.echo(group.code)


@groups_cli.command("list")
def list_groups() -> None:
    """Every group: code, course, language, members, owner, name."""
    for group in db.session.scalars(select(Group).order_by(Group.id)):
        closed = " (closed)" if group.is_closed() else ""
        click.echo(
            f"{group.code}\t{group.course_id}\t{group.language}\t"
            f"{services.member_count(group)} member(s)\t{group.owner.email}\t{group.name}{closed}"
        )


@reports_cli.command("progress")
@click.argument("code")
def progress(code: str) -> None:
    """A group's progress CSV (one row per learner and module) on standard output."""
    group = services.group_by_code(code)
    if group is None:
        raise click.ClickException(f"no group with join code {code}")
    course = catalogue().course(group.course_id)
    if course is None:
        raise click.ClickException(f"the group's course '{group.course_id}' is not loaded")
    _write(progress_csv(group_report(group, course, with_mastery=False)))


@reports_cli.command("items")
@click.argument("course_id")
@click.argument("module_id")
@click.option("--language", help="Only attempts taken in this language.")
@click.option("--group", "code", help="Only the members of the group with this join code.")
@click.option("--all-attempts", is_flag=True, help="Every attempt, not each learner's first.")
def items(
    course_id: str, module_id: str, language: str | None, code: str | None, all_attempts: bool
) -> None:
    """A module's question statistics CSV on standard output."""
    course = catalogue().course(course_id)
    if course is None:
        raise click.ClickException(f"no course '{course_id}'")
    found = course.module(module_id, language or course.default_language)
    if found is None:
        raise click.ClickException(f"no visible module '{module_id}' in '{course_id}'")
    group = None
    if code:
        group = services.group_by_code(code)
        if group is None or group.course_id != course.id:
            raise click.ClickException(f"no group of '{course_id}' with join code {code}")
    stats = question_stats(course, found[0], language, group, all_attempts)
    _write(items_csv(stats))
