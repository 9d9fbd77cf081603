"""What a learner's page depends on in the database, read in one go as a comparable stamp.

A signed-in learner's course or module page is made of shared HTML and slots filled from the
learner's account row (the session token that keeps the session valid, disabled, role, EQF
level) and their summary rows of the course (sections read, best score, resume points). The
stamp is those rows as stored, every column: two equal stamps mean the page would come out the
same, whichever process wrote the rows and however they changed (app/pages.py LearnerPages
keeps a page only as long as its stamp stays equal).

It runs on every request for such a page, so it talks to the driver directly: two indexed
SELECTs, no ORM and no SQLAlchemy result objects.
"""

from __future__ import annotations

from typing import Any

# Every column, as stored (JSON as text on SQLite): a column added later joins the stamp.
_USER = "SELECT * FROM users WHERE id = {p}"
_SUMMARIES = (
    "SELECT * FROM module_progress WHERE learner = {p} AND course_id = {p} ORDER BY module_id"
)

Stamp = tuple[Any, ...]


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
    finally:
        cursor.close()
    return (tuple(user) if user is not None else None, summaries)
