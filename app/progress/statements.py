"""Recording learner statements and keeping each learner's module summary in step.

Every write locks the learner's summary row for the module (BEGIN IMMEDIATE on SQLite,
SELECT ... FOR UPDATE on PostgreSQL), stores the statement, folds it into the summary with
the pure rules, and flushes; the request commits once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from app.accounts.models import utcnow
from app.content.model import Course, Module
from app.database import writes
from app.extensions import db
from app.progress.models import CourseCompletion, CourseProgress, ModuleProgress, Statement
from app.progress.rules import (
    CHANNELS,
    VERBS,
    Event,
    ModuleShape,
    Summary,
    apply,
    is_complete,
    replay,
)


class ProgressError(ValueError):
    """A statement that does not fit the content (unknown section, verb or channel)."""


def object_id(course_id: str, module_id: str | None = None, section_id: str | None = None) -> str:
    """A stable activity id from content ids: course/module/section."""
    return "/".join(part for part in (course_id, module_id, section_id) if part)


def shape(module: Module) -> ModuleShape:
    """What completing this module asks for now."""
    return ModuleShape(
        sections=tuple(s.id for s in module.reading_sections), has_quiz=bool(module.questions)
    )


def _event(statement: Statement) -> Event:
    return Event(
        verb=statement.verb,
        section_id=statement.section_id,
        result=statement.result,
        context=statement.context or {},
        timestamp=statement.timestamp,
    )


def _summary_of(row: ModuleProgress) -> Summary:
    return Summary(
        sections_read=list(row.sections_read or []),
        audio_listened=dict(row.audio_listened or {}),
        best_score=row.best_score,
        quiz_passed=row.quiz_passed,
        completed_at=row.completed_at,
        last_section=row.last_section,
        last_audio_section=row.last_audio_section,
        last_audio_position=row.last_audio_position,
        last_language=row.last_language,
        last_activity=row.last_activity,
        statements=row.statements,
        pdf_downloads=row.pdf_downloads or 0,
    )


def store_summary(row: ModuleProgress, summary: Summary) -> None:
    """Write a summary back into the learner's row for the module."""
    # New list/dict objects so SQLAlchemy sees the JSON columns change.
    row.sections_read = list(summary.sections_read)
    row.audio_listened = dict(summary.audio_listened)
    row.best_score = summary.best_score
    row.quiz_passed = summary.quiz_passed
    row.completed_at = summary.completed_at
    row.last_section = summary.last_section
    row.last_audio_section = summary.last_audio_section
    row.last_audio_position = summary.last_audio_position
    row.last_language = summary.last_language
    row.last_activity = summary.last_activity
    row.statements = summary.statements
    row.pdf_downloads = summary.pdf_downloads
    row.audio_seconds = round(sum(summary.audio_listened.values()), 3)


#: session.info key: the summary rows this session's transaction has locked already.
_LOCKED = "academy.locked_rows"


def locked_row(learner: str, course_id: str, module_id: str) -> ModuleProgress:
    """The learner's summary row for a module, created if missing, locked until commit.

    Asked again in the same transaction (a quiz records "attempted" then "passed"), the row
    this transaction locked and changed is returned as it is: nobody else can have written it
    since, so reading it again would be two more statements for nothing.
    """
    transaction = db.session().get_transaction()
    held: dict[tuple[str, str, str], tuple[object, ModuleProgress]] = db.session.info.setdefault(
        _LOCKED, {}
    )
    key = (learner, course_id, module_id)
    kept = held.get(key)
    if kept is not None and transaction is not None and kept[0] is transaction:
        if kept[1] in db.session:  # not deleted by a bulk DELETE meanwhile
            return kept[1]
    row = _lock_row(learner, course_id, module_id)
    for other in [k for k, (t, _) in held.items() if t is not transaction]:
        del held[other]  # rows of transactions that have ended
    held[key] = (db.session().get_transaction(), row)
    return row


def _lock_row(learner: str, course_id: str, module_id: str) -> ModuleProgress:
    """Create the summary row if missing, then read it under a lock, fresh from the database."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(ModuleProgress)
        .values(
            learner=learner,
            course_id=course_id,
            module_id=module_id,
            sections_read=[],
            audio_listened={},
            quiz_passed=False,
            statements=0,
            pdf_downloads=0,
            audio_seconds=0.0,
        )
        .on_conflict_do_nothing(index_elements=["learner", "course_id", "module_id"])
    )
    return db.session.execute(
        select(ModuleProgress)
        .where(
            ModuleProgress.learner == learner,
            ModuleProgress.course_id == course_id,
            ModuleProgress.module_id == module_id,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _new_statement(
    learner: str,
    verb: str,
    course_id: str,
    module_id: str | None,
    section_id: str | None,
    result: dict[str, Any] | None,
    context: dict[str, Any],
    timestamp: datetime,
) -> Statement:
    statement = Statement(
        uuid=str(uuid.uuid4()),
        learner=learner,
        verb=verb,
        object_id=object_id(course_id, module_id, section_id),
        course_id=course_id,
        module_id=module_id,
        section_id=section_id,
        result=result,
        context=context,
        timestamp=timestamp,
    )
    db.session.add(statement)
    return statement


@writes
def record(
    learner: str,
    course: Course,
    module: Module,
    verb: str,
    *,
    language: str,
    section_id: str | None = None,
    result: dict[str, Any] | None = None,
    channel: str = "web",
    statement_id: str | None = None,
    timestamp: datetime | None = None,
) -> Statement:
    """Store one statement about a module and bring the learner's summary up to date.

    :param learner: learner key (`app.web.current_learner` in a request).
    :param verb: one of rules.VERBS (experienced, progressed, downloaded, attempted, passed, ...).
    :param section_id: the section the statement is about, if any; it must exist in the module.
    :param result: verb-specific numbers, e.g. {"score": 0.8} or {"position": 12.5, ...}.
    :param channel: web, audio or pdf.
    :param statement_id: the id the client gave the event (a UUID): an event sent again (an
        offline queue flushed twice, a retry after a lost answer) is stored once.
    :param timestamp: when the event happened, if before now (an event queued offline).
    :raises ProgressError: for an unknown verb, channel or section, or an id already used by
        another learner or for another event.
    """
    if verb not in VERBS or verb == "completed":
        raise ProgressError(f"unknown verb {verb!r}")
    if channel not in CHANNELS:
        raise ProgressError(f"unknown channel {channel!r}")
    if section_id is not None and module.section(section_id) is None:
        raise ProgressError(f"module {module.id!r} has no section {section_id!r}")

    row = locked_row(learner, course.id, module.id)
    if statement_id is not None:
        # Checked under the learner's row lock: two copies sent at once are serialised here.
        earlier = db.session.scalar(select(Statement).where(Statement.uuid == statement_id))
        if earlier is not None:
            same = (earlier.learner, earlier.verb, earlier.module_id, earlier.section_id) == (
                learner,
                verb,
                module.id,
                section_id,
            )
            if not same:
                raise ProgressError("this statement id is already used")
            return earlier
    now = utcnow()
    if timestamp is not None and timestamp < now:
        now = timestamp
    context = {"channel": channel, "language": language}
    statement = _new_statement(
        learner, verb, course.id, module.id, section_id, result, context, now
    )
    if statement_id is not None:
        statement.uuid = statement_id
    summary = apply(_summary_of(row), _event(statement))
    complete_module_if_done(learner, course, module, summary, context, now)
    store_summary(row, summary)
    db.session.flush()
    return statement


def complete_module_if_done(
    learner: str,
    course: Course,
    module: Module,
    summary: Summary,
    context: dict[str, Any],
    now: datetime,
) -> None:
    """Record the module (and maybe the course) as completed when the summary says it is."""
    if summary.completed_at is not None or not is_complete(summary, shape(module)):
        return
    done = _new_statement(learner, "completed", course.id, module.id, None, None, context, now)
    apply(summary, _event(done))
    complete_course_if_done(learner, course, context, now, also_done=module.id)


@writes
def record_course_event(
    learner: str, course: Course, verb: str, *, language: str, channel: str = "web"
) -> Statement:
    """Store a course-level statement (e.g. the whole-course PDF downloaded)."""
    if verb not in VERBS or verb == "completed":
        raise ProgressError(f"unknown verb {verb!r}")
    if channel not in CHANNELS:
        raise ProgressError(f"unknown channel {channel!r}")
    now = utcnow()
    statement = _new_statement(
        learner, verb, course.id, None, None, None, {"channel": channel, "language": language},
        now,
    )  # fmt: skip
    if verb == "downloaded":
        count_course_downloads(learner, course.id, now, 1)
    db.session.flush()
    return statement


def count_course_downloads(learner: str, course_id: str, now: datetime | None, n: int) -> None:
    """Add `n` course PDF downloads to the learner's course summary (created if missing)."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(
        insert(CourseProgress)
        .values(learner=learner, course_id=course_id, pdf_downloads=0)
        .on_conflict_do_nothing(index_elements=["learner", "course_id"])
    )
    row = db.session.execute(
        select(CourseProgress)
        .where(CourseProgress.learner == learner, CourseProgress.course_id == course_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    row.pdf_downloads = (row.pdf_downloads or 0) + n
    if now is not None:
        row.last_activity = max(filter(None, (row.last_activity, now)))


def complete_course_if_done(
    learner: str,
    course: Course,
    context: dict[str, Any],
    now: datetime,
    also_done: str | None = None,
) -> None:
    """Record the course as completed once every module of it is, hidden ones included.

    A module hidden by an error is still part of the course as its trainer wrote it: the course
    (and its certificate) waits until it is back and completed.

    :param also_done: a module completed in this transaction whose summary is not stored yet.
    """
    needed = {entry.id for entry in course.entries}
    done = set(
        db.session.scalars(
            select(ModuleProgress.module_id).where(
                ModuleProgress.learner == learner,
                ModuleProgress.course_id == course.id,
                ModuleProgress.completed_at.is_not(None),
            )
        )
    )
    done.add(also_done or "")
    if not needed or not needed <= done:
        return
    exists = db.session.scalar(
        select(CourseCompletion.id).where(
            CourseCompletion.learner == learner, CourseCompletion.course_id == course.id
        )
    )
    if exists:
        return
    try:
        with db.session.begin_nested():
            db.session.add(CourseCompletion(learner=learner, course_id=course.id, completed_at=now))
    except IntegrityError:  # completed by a concurrent request a moment ago
        return
    _new_statement(learner, "completed", course.id, None, None, None, context, now)


def rebuild(learner: str, course_id: str, module_id: str) -> Summary:
    """Replay a learner's statements about a module, in the order they were stored."""
    statements = db.session.scalars(
        select(Statement)
        .where(
            Statement.learner == learner,
            Statement.course_id == course_id,
            Statement.module_id == module_id,
        )
        .order_by(Statement.id)
    )
    return replay([_event(s) for s in statements])
