"""What a learner's page depends on in the database, read in one go as a comparable stamp.

A signed-in learner's course or module page is made of shared HTML and slots filled from the
learner's account row (the session token that keeps the session valid, disabled, role, EQF
level) and their summary rows of the course (sections read, best score, resume points). The
stamp is those rows as stored, every column: two equal stamps mean the page would come out the
same, whichever process wrote the rows and however they changed (app/pages.py LearnerPages
keeps a page only as long as its stamp stays equal).

It runs on every request for such a page, so it talks to the driver directly: two indexed
SELECTs, no ORM and no SQLAlchemy result objects. When the page has to be rendered anyway (the
rows changed), its view reads the summaries from the stamp (`summary_rows`) instead of asking
the database again, so the page shows exactly the rows its stamp was taken from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from app.progress.models import ModuleProgress

# Every column, as stored (JSON as text on SQLite): a column added later joins the stamp.
_USER = "SELECT * FROM users WHERE id = {p}"
_SUMMARIES = (
    "SELECT * FROM module_progress WHERE learner = {p} AND course_id = {p} ORDER BY module_id"
)


class Stamp(NamedTuple):
    """The rows a learner's page is made of, as stored; equal stamps, the same page."""

    user: tuple[Any, ...] | None
    summaries: tuple[tuple[Any, ...], ...]
    #: The summary rows' columns in the database's order (SELECT *): (name, driver type code).
    columns: tuple[tuple[str, Any], ...]


class SummaryRow(NamedTuple):
    """What a page shows of one summary row, read back as SQLAlchemy reads the table."""

    module_id: str
    sections_read: Any
    best_score: float | None
    quiz_passed: bool
    completed_at: datetime | None
    last_section: str | None
    last_audio_section: str | None
    last_audio_position: float | None
    last_activity: datetime | None


def learner_stamp(
    dbapi_connection: Any,
    paramstyle: str,
    user_id: int | None,
    learner: str | None,
    course_id: str | None,
) -> Stamp:
    """The account row of `user_id` and `learner`'s summary rows of `course_id`, as stored.

    :param dbapi_connection: a driver connection (sqlite3, psycopg) from the app's pool.
    :param paramstyle: the driver's placeholder style ("qmark" for sqlite3, else "%s" styles).
    """
    p = "?" if paramstyle == "qmark" else "%s"
    columns: tuple[tuple[str, Any], ...] = ()
    cursor = dbapi_connection.cursor()
    try:
        user = None
        if user_id is not None:
            cursor.execute(_USER.format(p=p), (user_id,))
            user = cursor.fetchone()
        summaries: tuple[Any, ...] = ()
        if learner is not None and course_id is not None:
            cursor.execute(_SUMMARIES.format(p=p), (learner, course_id))
            summaries = tuple(tuple(row) for row in cursor.fetchall())
            columns = tuple((d[0], d[1]) for d in cursor.description or ())
    finally:
        cursor.close()
    return Stamp(tuple(user) if user is not None else None, summaries, columns)


#: (dialect name, columns) -> a result processor per SummaryRow field (None: as stored).
_PROCESSORS: dict[tuple[str, tuple[tuple[str, Any], ...]], list[tuple[int, Any]]] = {}


def summary_rows(stamp: Stamp, dialect: Any) -> list[SummaryRow]:
    """The stamp's summary rows with the table's types applied (JSON parsed, UTC timestamps).

    The same values a SELECT through SQLAlchemy would give, from the rows the stamp read.
    """
    key = (dialect.name, stamp.columns)
    processors = _PROCESSORS.get(key)
    if processors is None:
        table = ModuleProgress.__table__
        found = {name: (i, code) for i, (name, code) in enumerate(stamp.columns)}
        processors = []
        for name in SummaryRow._fields:
            index, code = found[name]
            processor = table.c[name].type.dialect_impl(dialect).result_processor(dialect, code)
            processors.append((index, processor))
        _PROCESSORS[key] = processors
    return [
        SummaryRow(*(p(row[i]) if p else row[i] for i, p in processors)) for row in stamp.summaries
    ]
