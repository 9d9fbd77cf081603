"""Recording learner statements and keeping each learner's module summary in step.

Every write locks the learner's summary row for the module (BEGIN IMMEDIATE on SQLite,
SELECT ... FOR UPDATE on PostgreSQL), stores the statement, folds it into the summary with
the pure rules, and writes the summary back; the request commits once.

`record` is on every progress beacon (two requests in three under load), so it speaks Core,
not the ORM: prebuilt statements (SQLAlchemy caches each one's compiled form), three of them
for a new statement (the locked row, the statement, the summary), no unit of work and no
objects. Statements inserted here are handed to `STORED_HOOKS` (xAPI forwarding queues them
in the same transaction), since the ORM's flush events never see them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from app.accounts.models import utcnow
from app.content.model import Course, Module
from app.database import writes
from app.driver import run
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


_STATEMENTS = cast(Table, Statement.__table__)
_SUMMARIES = cast(Table, ModuleProgress.__table__)

#: Hooks called as hook(session, statement uuids) for the statements inserted here, in the
#: inserting transaction. Registered once at start-up (app.xapi.outbox), only read afterwards.
STORED_HOOKS: list[Callable[[Session, list[str]], None]] = []

#: The summary columns a `Summary` is read from, after the row's id.
_SUMMARY_COLUMNS = (
    "sections_read",
    "audio_listened",
    "best_score",
    "quiz_passed",
    "completed_at",
    "last_section",
    "last_audio_section",
    "last_audio_position",
    "last_language",
    "last_activity",
    "statements",
    "pdf_downloads",
)
_ROW_KEY = (
    _SUMMARIES.c.learner == bindparam("learner"),
    _SUMMARIES.c.course_id == bindparam("course_id"),
    _SUMMARIES.c.module_id == bindparam("module_id"),
)
# Built once: SQLAlchemy keeps each one's compiled SQL, so a beacon compiles nothing.
_SELECT_ROW = (
    select(_SUMMARIES.c.id, *(_SUMMARIES.c[name] for name in _SUMMARY_COLUMNS))
    .where(*_ROW_KEY)
    .with_for_update()
)
_UPDATE_ROW = update(_SUMMARIES).where(_SUMMARIES.c.id == bindparam("row_id"))
_EARLIER = select(
    _STATEMENTS.c.learner, _STATEMENTS.c.verb, _STATEMENTS.c.module_id, _STATEMENTS.c.section_id
).where(_STATEMENTS.c.uuid == bindparam("uuid"))
_NEW_ROW = {
    "sections_read": [],
    "audio_listened": {},
    "quiz_passed": False,
    "statements": 0,
    "pdf_downloads": 0,
    "audio_seconds": 0.0,
}
# Per dialect: (insert a summary row unless there is one, insert a statement unless its id is
# taken). A taken id inserts nothing instead of failing, so no savepoint is needed around it.
_INSERTS = {
    name: (
        # RETURNING says whether a row went in (psycopg's rowcount is -1 here).
        insert(_SUMMARIES)
        .on_conflict_do_nothing(index_elements=["learner", "course_id", "module_id"])
        .returning(_SUMMARIES.c.id),
        insert(_STATEMENTS)
        .on_conflict_do_nothing(index_elements=["uuid"])
        .returning(_STATEMENTS.c.id),
    )
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


class Recorded(NamedTuple):
    """What `record` stored: the statement's id and the learner's summary of the module.

    The summary is the one stored when `record` returned; a later `record` about the same
    module in the same transaction folds its statement into this same object.
    """

    statement_id: str
    summary: Summary


class _Held(NamedTuple):
    """A summary row this transaction locked and wrote through `record`, as it stands."""

    row_id: int
    summary: Summary


def _summary_of(values: tuple[Any, ...]) -> Summary:
    """A summary from the row's `_SUMMARY_COLUMNS`, in that order."""
    summary = Summary(**dict(zip(_SUMMARY_COLUMNS, values, strict=True)))
    summary.sections_read = list(summary.sections_read or [])
    summary.audio_listened = dict(summary.audio_listened or {})
    summary.pdf_downloads = summary.pdf_downloads or 0
    return summary


def _summary_values(summary: Summary) -> dict[str, Any]:
    """A summary as the row's column values."""
    return {
        # New list/dict objects so SQLAlchemy sees the ORM's JSON columns change.
        "sections_read": list(summary.sections_read),
        "audio_listened": dict(summary.audio_listened),
        "best_score": summary.best_score,
        "quiz_passed": summary.quiz_passed,
        "completed_at": summary.completed_at,
        "last_section": summary.last_section,
        "last_audio_section": summary.last_audio_section,
        "last_audio_position": summary.last_audio_position,
        "last_language": summary.last_language,
        "last_activity": summary.last_activity,
        "statements": summary.statements,
        "pdf_downloads": summary.pdf_downloads,
        "audio_seconds": round(sum(summary.audio_listened.values()), 3),
    }


def store_summary(row: ModuleProgress, summary: Summary) -> None:
    """Write a summary back into the learner's row for the module."""
    for name, value in _summary_values(summary).items():
        setattr(row, name, value)


#: session.info key: the summary rows this session's transaction has locked already, by
#: (learner, course, module): (transaction, ORM row from `locked_row` or `_Held` from `record`).
_LOCKED = "academy.locked_rows"


def _held_rows(session: Session) -> tuple[Any, dict[tuple[str, str, str], tuple[Any, Any]]]:
    """This session's transaction and its map of locked rows (those of ended ones dropped)."""
    transaction = session.get_transaction()
    held: dict[tuple[str, str, str], tuple[Any, Any]] = session.info.setdefault(_LOCKED, {})
    if any(t is not transaction for t, _ in held.values()):
        for other in [k for k, (t, _) in held.items() if t is not transaction]:
            del held[other]
    return transaction, held


def locked_row(learner: str, course_id: str, module_id: str) -> ModuleProgress:
    """The learner's summary row for a module, created if missing, locked until commit.

    Asked again in the same transaction (a guest's modules adopted one by one), the row this
    transaction locked and changed is returned as it is: nobody else can have written it
    since, so reading it again would be two more statements for nothing.
    """
    session = db.session()
    transaction, held = _held_rows(session)
    key = (learner, course_id, module_id)
    kept = held.get(key)
    if kept is not None and kept[0] is transaction and isinstance(kept[1], ModuleProgress):
        if kept[1] in session:  # not deleted by a bulk DELETE meanwhile
            return kept[1]
    row = _lock_row(learner, course_id, module_id)
    held[key] = (session.get_transaction(), row)
    return row


def _lock_row(learner: str, course_id: str, module_id: str) -> ModuleProgress:
    """Create the summary row if missing, then read it under a lock, fresh from the database."""
    dialect = db.session.get_bind().dialect.name
    db.session.execute(
        _INSERTS[dialect][0].values(learner=learner, course_id=course_id, module_id=module_id,
                                    **_NEW_ROW)
    )  # fmt: skip
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


def _locked_summary(session: Session, connection: Connection, key: tuple[str, str, str]) -> _Held:
    """The summary row `key` names (learner, course, module), created if missing, locked.

    The row is read once per transaction: `record` keeps what it wrote (see `_LOCKED`).
    """
    transaction, held = _held_rows(session)
    kept = held.get(key)
    if kept is not None and kept[0] is transaction and isinstance(kept[1], _Held):
        return kept[1]
    params = {"learner": key[0], "course_id": key[1], "module_id": key[2]}
    found = run(connection, _SELECT_ROW, params)
    if found:
        row = _Held(found[0][0], _summary_of(found[0][1:]))
    else:
        # Missing: create it (a new row is locked by its insert, and its summary is empty),
        # or lock the one a concurrent request created meanwhile.
        insert = _INSERTS[connection.dialect.name][0]
        created = run(connection, insert, {**params, **_NEW_ROW})
        if created:
            row = _Held(created[0][0], Summary())
        else:
            found = run(connection, _SELECT_ROW, params)
            row = _Held(found[0][0], _summary_of(found[0][1:]))
    held[key] = (transaction, row)
    return row


def _write_summary(session: Session, connection: Connection, row: _Held) -> None:
    """Store a locked row's summary; a copy of the row the ORM holds is read again when used."""
    run(
        connection,
        _UPDATE_ROW,
        {"row_id": row.row_id, **_summary_values(row.summary)},
    )
    loaded = session.identity_map.get(identity_key(ModuleProgress, (row.row_id,)))
    if loaded is not None:
        session.expire(loaded)


def _insert_statement(
    session: Session,
    connection: Connection,
    statement_id: str,
    learner: str,
    verb: str,
    course_id: str,
    module_id: str | None,
    section_id: str | None,
    result: dict[str, Any] | None,
    context: dict[str, Any],
    timestamp: datetime,
) -> bool:
    """Store one statement; False (and nothing stored) when its id is taken already."""
    inserted = run(
        connection,
        _INSERTS[connection.dialect.name][1],
        {
            "uuid": statement_id,
            "learner": learner,
            "verb": verb,
            "object_id": object_id(course_id, module_id, section_id),
            "course_id": course_id,
            "module_id": module_id,
            "section_id": section_id,
            "result": result,
            "context": context,
            "timestamp": timestamp,
        },
    )
    if not inserted:
        return False
    for hook in STORED_HOOKS:
        hook(session, [statement_id])
    return True


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
) -> Recorded:
    """Store one statement about a module and bring the learner's summary up to date.

    :param learner: learner key (`app.web.current_learner` in a request).
    :param verb: one of rules.VERBS (experienced, progressed, downloaded, attempted, passed, ...).
    :param section_id: the section the statement is about, if any; it must exist in the module.
    :param result: verb-specific numbers, e.g. {"score": 0.8} or {"position": 12.5, ...}.
    :param channel: web, audio or pdf.
    :param statement_id: the id the client gave the event (a UUID): an event sent again (an
        offline queue flushed twice, a retry after a lost answer) is stored once.
    :param timestamp: when the event happened, if before now (an event queued offline).
    :returns: the statement's id and the learner's summary of the module, as stored.
    :raises ProgressError: for an unknown verb, channel or section, or an id already used by
        another learner or for another event.
    """
    if verb not in VERBS or verb == "completed":
        raise ProgressError(f"unknown verb {verb!r}")
    if channel not in CHANNELS:
        raise ProgressError(f"unknown channel {channel!r}")
    if section_id is not None and module.section(section_id) is None:
        raise ProgressError(f"module {module.id!r} has no section {section_id!r}")

    session = db.session()
    session.flush()  # what the ORM changed in this transaction first: Core does not autoflush
    connection = session.connection()
    row = _locked_summary(session, connection, (learner, course.id, module.id))
    now = utcnow()
    if timestamp is not None and timestamp < now:
        now = timestamp
    context = {"channel": channel, "language": language}
    new_id = statement_id or str(uuid.uuid4())
    # Under the learner's row lock: two copies of one event sent at once are serialised here.
    if not _insert_statement(
        session, connection, new_id, learner, verb, course.id, module.id, section_id, result,
        context, now,
    ):  # fmt: skip
        (earlier,) = run(connection, _EARLIER, {"uuid": new_id})
        if earlier != (learner, verb, module.id, section_id):
            raise ProgressError("this statement id is already used")
        return Recorded(new_id, row.summary)
    apply(row.summary, Event(verb, section_id, result, context, now))
    complete_module_if_done(learner, course, module, row.summary, context, now)
    _write_summary(session, connection, row)
    return Recorded(new_id, row.summary)


def _new_statement(
    learner: str,
    verb: str,
    course_id: str,
    module_id: str | None,
    section_id: str | None,
    result: dict[str, Any] | None,
    context: dict[str, Any],
    timestamp: datetime,
) -> Event:
    """Store a statement the platform itself derives (completed, a course download)."""
    session = db.session()
    session.flush()
    _insert_statement(
        session, session.connection(), str(uuid.uuid4()), learner, verb, course_id, module_id,
        section_id, result, context, timestamp,
    )  # fmt: skip
    return Event(verb, section_id, result, context, timestamp)


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
    apply(summary, done)
    complete_course_if_done(learner, course, context, now, also_done=module.id)


@writes
def record_course_event(
    learner: str, course: Course, verb: str, *, language: str, channel: str = "web"
) -> None:
    """Store a course-level statement (e.g. the whole-course PDF downloaded)."""
    if verb not in VERBS or verb == "completed":
        raise ProgressError(f"unknown verb {verb!r}")
    if channel not in CHANNELS:
        raise ProgressError(f"unknown channel {channel!r}")
    now = utcnow()
    _new_statement(
        learner, verb, course.id, None, None, None, {"channel": channel, "language": language},
        now,
    )  # fmt: skip
    if verb == "downloaded":
        count_course_downloads(learner, course.id, now, 1)
    db.session.flush()


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
    return replay(
        [Event(s.verb, s.section_id, s.result, s.context or {}, s.timestamp) for s in statements]
    )
