"""Shared fixtures: an app on a real SQLite file, its client and CLI runner, content copies."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Engine, create_engine, event

from app import create_app
from app.extensions import db
from tests.report import TERMINAL_REPORT

ROOT = Path(__file__).resolve().parent.parent


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist, hand this worker's figures to the controller that prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["figures"] = list(TERMINAL_REPORT)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """Collect a finished xdist worker's figures (only called in the controller)."""
    TERMINAL_REPORT.extend(getattr(node, "workeroutput", {}).get("figures", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests put in TERMINAL_REPORT, even when they pass."""
    if TERMINAL_REPORT:
        terminalreporter.section("figures")
        for line in TERMINAL_REPORT:
            terminalreporter.write_line(line)


# Every SQLAlchemy engine that connected during the test session. The apps tests make are thrown
# away with their pooled connections still open; psycopg warns (ResourceWarning) when the garbage
# collector finds one, and with warnings as errors that fails whichever test runs then. Each test
# closes the pooled connections it leaves behind, on SQLite and PostgreSQL alike.
_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


@event.listens_for(Engine, "engine_connect")
def _remember_engine(connection: object) -> None:
    _ENGINES.add(connection.engine)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _close_pooled_connections() -> Iterator[None]:
    """After each test, close the idle pooled connections of every engine (they reconnect)."""
    yield
    for engine in list(_ENGINES):
        # Out of the set once disposed: an engine joins again when it next connects, so each
        # test closes what it used, not every engine the collector has not yet freed.
        _ENGINES.discard(engine)
        engine.dispose()


#: The fixture course the code tests run on (tests/content/README.md).
CONTENT = ROOT / "tests" / "content"
#: The real course: only the course-quality tests (tests/test_course.py) read it.
COURSE_CONTENT = ROOT / "content"


def database_url(tmp_path: Path) -> str:
    """SQLite in tmp_path, or the PostgreSQL that ACADEMY_DATABASE_URL names, emptied first.

    `make test` runs the database tests a second time with ACADEMY_DATABASE_URL pointing at a
    throwaway PostgreSQL cluster (scripts/test-postgres.sh).
    """
    url = os.environ.get("ACADEMY_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


#: The password hash the test apps use (the PASSWORD_HASH setting).
TEST_PASSWORD_HASH = "scrypt:1024:8:1"

_MIGRATED: dict[str, Path] = {}


def migrated_sqlite() -> Path:
    """A SQLite file migrated to head once per test process, for tests to start from a copy.

    Running the migrations is the same for every test; copying the result is much cheaper.
    """
    if "path" not in _MIGRATED:
        folder = Path(tempfile.mkdtemp(prefix="academy-migrated-"))
        template = folder / "head.sqlite3"
        app = create_app(
            {
                "TESTING": True,
                "CONTENT_DIR": str(CONTENT),
                "DATABASE_URL": f"sqlite:///{template}",
                "MEDIA_DIR": str(folder / "media"),
            }
        )
        with app.app_context():
            upgrade()
            db.engine.dispose()
        # Everything into the main file, so that a copy of that one file is the whole database
        # (the WAL journal mode is recorded in the file and carries over to each copy).
        connection = sqlite3.connect(template)
        try:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()
        assert not (folder / "head.sqlite3-wal").exists(), "the migrated template kept a WAL"
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _MIGRATED["path"] = template
    return _MIGRATED["path"]


class SharedTemplateCode(BytecodeCache):
    """Compiled templates shared by the test apps of one process (Jinja's bytecode cache API).

    Every test builds its own app, and each app's Jinja environment would compile the same
    templates from source again. Every test app has the same Jinja settings, so the code of a
    template depends only on its source: it is kept by name and source checksum (an edited
    template compiles anew) and each app runs the same code, as it would after compiling it.
    """

    def __init__(self) -> None:
        self._code: dict[tuple[str, str], CodeType] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        """The code of this template and source, when an app of this process compiled it."""
        bucket.code = self._code.get((bucket.key, bucket.checksum))

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep what an app has just compiled."""
        if bucket.code is not None:
            self._code[(bucket.key, bucket.checksum)] = bucket.code


TEMPLATE_CODE = SharedTemplateCode()


class ClosingClient(FlaskClient):
    """A test client that reads each response whole and closes it and its request body.

    Without it a file response (send_file: PDFs, MP3s, media) stays open until garbage collection,
    and with warnings as errors its ResourceWarning fails whichever test happens to run then.
    """

    def open(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def, override]
        """Like FlaskClient.open, buffered unless a test asks for the stream."""
        kwargs.setdefault("buffered", True)
        response = super().open(*args, **kwargs)  # type: ignore[arg-type]
        # Werkzeug spools a large request body (an upload over 500 KB) to a temporary file and
        # never closes it: close the body once the request is answered.
        body = response.request.environ.get("wsgi.input")
        if body is not None:
            body.close()
        return response


def make_app(tmp_path: Path, content_dir: Path, migrate: bool = True, **extra: object) -> Flask:
    """An app for tests: its own database (migrated to head) and media folder under tmp_path."""
    url = database_url(tmp_path)
    copied = False
    if migrate and url.startswith("sqlite:///"):
        # A file copy of the checkpointed template (0.4 ms; sqlite3's backup API took 20 ms).
        shutil.copyfile(migrated_sqlite(), url[10:])
        copied = True
    app = create_app(
        {
            "TESTING": True,
            "CONTENT_DIR": str(content_dir),
            "DATABASE_URL": url,
            "MEDIA_DIR": str(tmp_path / "media"),
            # Each test's own task queue, never the repository's instance/ folder.
            "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
            # Still scrypt, hashed and verified, at 1/32 of the production cost: tests create and
            # sign in hundreds of accounts, and at full cost the hashing was a quarter of the run.
            "PASSWORD_HASH": TEST_PASSWORD_HASH,
            **extra,
        }
    )
    app.test_client_class = ClosingClient
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    if migrate and not copied:
        with app.app_context():
            upgrade()
    return app


def second_server(app: Flask, content_dir: Path, tmp_path: Path) -> Flask:
    """Another app server on `app`'s database with its secret: a second host behind nginx."""
    other = create_app(
        {
            "TESTING": True,
            "CONTENT_DIR": str(content_dir),
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "MEDIA_DIR": str(tmp_path / "media"),
            "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
            "SECRET_KEY": app.config["SECRET_KEY"],
        }
    )
    other.test_client_class = ClosingClient
    return other


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app serving the fixture course in tests/content/."""
    yield make_app(tmp_path, CONTENT)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the fixture course."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the fixture course."""
    return app.test_cli_runner()


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of the fixture course, for tests that break or edit modules."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


@pytest.fixture
def copy_app(tmp_path: Path, content_copy: Path) -> Flask:
    """An app serving the writable copy of the fixture course."""
    return make_app(tmp_path, content_copy)


@pytest.fixture(scope="session")
def sampler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """The sampler fixture course served once for all browser tests (tests/sampler.py)."""
    from tests.sampler import sampler_site

    with sampler_site(tmp_path_factory.mktemp("sampler")) as site:
        yield site
