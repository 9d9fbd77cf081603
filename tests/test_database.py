"""The SQLite write rule: a write either begins as a writer or fails at once, never silently."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, update

from app.accounts import services as accounts
from app.accounts.models import User
from app.database import WriteTransactionRequired, writes
from app.extensions import db
from tests.conftest import make_app
from tests.helpers import write_mini_course

pytestmark = pytest.mark.db


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    content = tmp_path / "content"
    write_mini_course(content)
    return make_app(tmp_path, content)


def _sqlite(app: Flask) -> bool:
    return app.config["DATABASE_URL"].startswith("sqlite")


def _database_locked_for_writers(app: Flask) -> bool:
    """Whether another connection is refused a write lock right now (SQLite only)."""
    path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as error:
        assert "locked" in str(error)
        return True
    else:
        other.execute("ROLLBACK")
        return False
    finally:
        other.close()


def test_a_write_after_a_read_without_the_rule_fails_loudly(app: Flask) -> None:
    if not _sqlite(app):
        pytest.skip("PostgreSQL's writers lock rows; the rule is SQLite's")
    with app.app_context():
        accounts.create_user("a@example.org", "correct horse battery", "A")
        db.session.commit()
        user = db.session.scalar(select(User))  # a reader transaction is now open
        assert user is not None
        user.display_name = "B"
        with pytest.raises(WriteTransactionRequired, match="@writes"):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(WriteTransactionRequired):
            db.session.scalar(select(User.id))
            db.session.execute(update(User).values(display_name="C"))
        db.session.rollback()
        assert db.session.scalar(select(User.display_name)) == "A"


def test_a_write_in_a_fresh_transaction_begins_as_a_writer(app: Flask) -> None:
    with app.app_context():
        db.session.add(
            User(email="f@example.org", display_name="F", password_hash="x", role="learner")
        )
        db.session.flush()
        if _sqlite(app):
            # BEGIN IMMEDIATE took the write lock at the first write, before any read.
            assert _database_locked_for_writers(app)
        db.session.commit()
        if _sqlite(app):
            assert not _database_locked_for_writers(app)
        assert db.session.scalar(select(User.email)) == "f@example.org"


def test_a_service_marked_writes_may_read_first(app: Flask) -> None:
    @writes
    def rename(name: str) -> None:
        user = db.session.scalar(select(User))
        assert user is not None
        user.display_name = name
        db.session.flush()

    with app.app_context():
        accounts.create_user("r@example.org", "correct horse battery", "R")
        db.session.commit()
        assert db.session.scalar(select(User.display_name)) == "R"  # reader open
        rename("S")  # finishes the reader, begins a writer, keeps it for the rest
        if _sqlite(app):
            assert _database_locked_for_writers(app)
        rename("T")  # already a writer: the same transaction continues
        db.session.commit()
        assert db.session.scalar(select(User.display_name)) == "T"


def test_a_signed_in_learners_eqf_choice_is_saved_through_the_rule(app: Flask) -> None:
    # The view loads the user (a read) and then writes: it goes through a @writes service.
    from tests.helpers import csrf_from, register

    client = app.test_client()
    register(client, "e@example.org")
    token = csrf_from(client, "/en/me/")
    response = client.post("/en/me/eqf", data={"level": "4", "csrf_token": token})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(User.eqf_level)) == 4


@pytest.mark.parametrize(("setting", "level"), [(None, 1), ("FULL", 2), ("normal", 1)])
def test_sqlite_flushes_to_disk_as_configured(
    tmp_path: Path, setting: str | None, level: int
) -> None:
    """WAL with synchronous=NORMAL unless ACADEMY_SQLITE_SYNCHRONOUS asks for FULL."""
    content = tmp_path / "content"
    write_mini_course(content)
    extra = {"SQLITE_SYNCHRONOUS": setting} if setting else {}
    app = make_app(tmp_path, content, **extra)
    if not _sqlite(app):
        pytest.skip("a SQLite setting")
    with app.app_context():
        connection = db.session.connection()
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == level
        db.session.rollback()


def test_an_unknown_sync_level_is_refused_at_start(tmp_path: Path) -> None:
    """A typo in ACADEMY_SQLITE_SYNCHRONOUS stops the app with a clear message."""
    from app.config import ConfigError

    with pytest.raises(ConfigError, match="ACADEMY_SQLITE_SYNCHRONOUS"):
        make_app(tmp_path, tmp_path, SQLITE_SYNCHRONOUS="OFF")


def _hold_write_lock(app: Flask) -> sqlite3.Connection:
    """Another process's writer holding SQLite's write lock until the test lets go."""
    holder = sqlite3.connect(
        app.config["DATABASE_URL"].removeprefix("sqlite:///"), isolation_level=None
    )
    holder.execute("BEGIN IMMEDIATE")
    return holder


def test_a_writer_waits_for_the_lock_and_then_writes(app: Flask) -> None:
    """A writer arriving while another holds the lock goes ahead once it is released."""
    import threading

    if not _sqlite(app):
        pytest.skip("SQLite's write lock")
    with app.app_context():
        accounts.create_user("ada@example.org", "correct horse battery", "Ada")
        db.session.commit()
    holder = _hold_write_lock(app)
    done = threading.Event()

    def writer() -> None:
        with app.app_context():
            user = db.session.scalars(select(User)).one()
            accounts.set_eqf_level(user, 4)
            db.session.commit()
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert not done.wait(0.3)  # it is waiting for the lock, not failing
    holder.execute("ROLLBACK")
    holder.close()
    thread.join(timeout=60)
    assert done.is_set()
    with app.app_context():
        assert db.session.scalars(select(User.eqf_level)).one() == 4


def test_a_lock_held_past_the_timeout_fails_as_database_is_locked(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the busy timeout the writer gets SQLAlchemy's "database is locked" error."""
    from sqlalchemy.exc import OperationalError

    from app import database

    if not _sqlite(app):
        pytest.skip("SQLite's write lock")
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 50)
    holder = _hold_write_lock(app)
    try:
        with app.app_context(), pytest.raises(OperationalError, match="database is locked"):
            database.write_transaction()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with app.app_context():  # the connection still works, with the normal timeout again
        database.write_transaction()
        db.session.rollback()
