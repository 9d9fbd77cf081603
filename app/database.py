"""Database behaviour that SQLite needs for concurrent learners, installed by `init_app`.

SQLite runs in WAL mode with a busy timeout, and a transaction that will read then write
starts with BEGIN IMMEDIATE, so two learners writing at once wait for each other instead of
failing with "database is locked". The rule lives here once:

- a service that writes is decorated with `@writes` (or calls `write_transaction()` first);
- a session guard checks every flush and every INSERT/UPDATE/DELETE: a write in a fresh
  transaction is begun as a writer automatically, and a write in a transaction that started
  as a reader raises `WriteTransactionRequired` at once, on every run, instead of failing
  only under concurrency.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

from sqlalchemy import CursorResult, DateTime, Result, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.types import TypeDecorator

from app.extensions import db

if TYPE_CHECKING:
    from flask import Flask

BUSY_TIMEOUT_MS = 15_000
#: session.info key: whether the session's current transaction began as a writer.
_WRITER = "academy.writer"

P = ParamSpec("P")
R = TypeVar("R")


class WriteTransactionRequired(RuntimeError):
    """A write on SQLite inside a transaction that began as a reader (see `write_transaction`)."""


class _SQLiteConnect:
    """Connect hook: WAL, the app's sync level, a busy timeout, foreign keys; BEGIN by us."""

    def __init__(self, synchronous: str) -> None:
        self.synchronous = synchronous

    def __call__(self, dbapi_connection: Any, _record: Any) -> None:
        """Set up one new driver connection."""
        if type(dbapi_connection).__module__ != "sqlite3":
            return
        # pysqlite's own implicit BEGIN cannot be made IMMEDIATE; _sqlite_begin issues BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: no disk flush per commit (each took 4-11 ms here, held under the
        # write lock, so learners queued behind it); see ACADEMY_SQLITE_SYNCHRONOUS.
        cursor.execute(f"PRAGMA synchronous={self.synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE for write transactions, plain BEGIN for the rest."""
    if connection.dialect.name != "sqlite":
        return
    if not connection.get_execution_options().get("immediate", False):
        connection.exec_driver_sql("BEGIN")
        return
    raw: Any = connection.connection.dbapi_connection
    if _poll_write_lock(raw, BUSY_TIMEOUT_MS / 1000):
        return
    # Still held by another writer after the whole timeout: fail as SQLAlchemy words it.
    raw.execute("PRAGMA busy_timeout=0")
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _poll_write_lock(raw: Any, seconds: float) -> bool:
    """BEGIN IMMEDIATE, retried every 0.5-2 ms while another writer holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries: with four learners
    submitting at once, a writer waited 38 ms at the median and 450 ms at p95 for a lock held
    10 ms at a time (it kept missing the moments it was free). Short polls take it within a
    millisecond or two of its release. False when it is still held after `seconds`.
    """
    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + seconds
        delay = 0.0005
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return True
            except sqlite3.OperationalError as error:
                if getattr(error, "sqlite_errorcode", sqlite3.SQLITE_BUSY) != sqlite3.SQLITE_BUSY:
                    raise
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.002)
    finally:
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")


def _after_begin(
    session: Session, _transaction: SessionTransaction, connection: Connection
) -> None:
    """Remember whether this transaction began as a writer."""
    session.info.setdefault(_WRITER, bool(connection.get_execution_options().get("immediate")))


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """The next transaction starts unknown again."""
    if transaction.parent is None:
        session.info.pop(_WRITER, None)


def _require_writer(session: Session) -> None:
    """Begin a fresh transaction as a writer; refuse to write in one that began as a reader."""
    if session.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL's writers lock the rows they change
    began = session.info.get(_WRITER)
    if began is None:
        session.connection(execution_options={"immediate": True})
    elif not began:
        raise WriteTransactionRequired(
            "this transaction read before it wrote without write_transaction(): on SQLite a "
            "reader cannot safely become a writer. Decorate the service with @writes."
        )


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.new or session.deleted or any(session.is_modified(o) for o in session.dirty):
        _require_writer(session)


def _do_orm_execute(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        _require_writer(state.session)


def init_app(app: Flask) -> None:
    """Install the SQLite connection settings on the app's engines and the write guard."""
    with app.app_context():
        engines = list(db.engines.values())
    synchronous = str(app.config.get("SQLITE_SYNCHRONOUS", "NORMAL"))
    for engine in engines:
        if not event.contains(engine, "begin", _sqlite_begin):
            event.listen(engine, "connect", _SQLiteConnect(synchronous))
            event.listen(engine, "begin", _sqlite_begin)
    session = db.session
    if not event.contains(session, "before_flush", _before_flush):
        event.listen(session, "after_begin", _after_begin)
        event.listen(session, "after_transaction_end", _after_transaction_end)
        event.listen(session, "before_flush", _before_flush)
        event.listen(session, "do_orm_execute", _do_orm_execute)


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
        if session.info.get(_WRITER):
            return
        session.commit()
    session.connection(execution_options={"immediate": True})


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (SQLAlchemy types its result loosely)."""
    return int(cast("CursorResult[Any]", result).rowcount)


def writes(service: Callable[P, R]) -> Callable[P, R]:
    """Run a service that writes inside a writer transaction (see `write_transaction`)."""

    @wraps(service)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        write_transaction()
        return service(*args, **kwargs)

    return wrapped


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
