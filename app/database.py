"""Database behaviour that SQLite needs for concurrent learners.

SQLite runs in WAL mode with a busy timeout, and a transaction that will read then write
starts with BEGIN IMMEDIATE (see `write_transaction`), so two learners writing at once wait
for each other instead of failing with "database is locked".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.types import TypeDecorator

from app.extensions import db

BUSY_TIMEOUT_MS = 15_000


@event.listens_for(Engine, "connect")
def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL, a busy timeout, foreign keys; and let SQLAlchemy emit BEGIN itself."""
    if type(dbapi_connection).__module__ != "sqlite3":
        return
    # pysqlite's own implicit BEGIN cannot be made IMMEDIATE; we issue BEGIN in _sqlite_begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for write transactions, plain BEGIN for the rest."""
    if connection.dialect.name != "sqlite":
        return
    immediate = connection.get_execution_options().get("immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def write_transaction() -> None:
    """Make sure the session's transaction is a writer (BEGIN IMMEDIATE on SQLite).

    A read transaction already open in this request (loading the user, say) is finished first:
    SQLite cannot turn a reader into a writer safely once another writer has committed. A
    transaction that is already a writer is kept, so several writes stay one transaction.
    PostgreSQL needs none of this: its writers lock the rows they change.
    """
    session = db.session()
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if session.connection().get_execution_options().get("immediate"):
            return
        session.commit()
    session.connection(execution_options={"immediate": True})


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no time zone and returns naive values; PostgreSQL returns aware ones.
    This type makes both hand back the same aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Store aware values converted to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Read values back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
