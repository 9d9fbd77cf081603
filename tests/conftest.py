"""Shared fixtures: an app on a real SQLite file, its client and CLI runner, content copies."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy import create_engine

from app import create_app
from tests.report import TERMINAL_REPORT

ROOT = Path(__file__).resolve().parent.parent


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests put in TERMINAL_REPORT, even when they pass."""
    if TERMINAL_REPORT:
        terminalreporter.section("figures")
        for line in TERMINAL_REPORT:
            terminalreporter.write_line(line)


CONTENT = ROOT / "content"


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


def make_app(tmp_path: Path, content_dir: Path, migrate: bool = True, **extra: object) -> Flask:
    """An app for tests: its own database (migrated to head) and media folder under tmp_path."""
    app = create_app(
        {
            "TESTING": True,
            "CONTENT_DIR": str(content_dir),
            "DATABASE_URL": database_url(tmp_path),
            "MEDIA_DIR": str(tmp_path / "media"),
            # Each test's own task queue, never the repository's instance/ folder.
            "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.sqlite3'}",
            **extra,
        }
    )
    if migrate:
        with app.app_context():
            upgrade()
    return app


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """The app serving the real course in content/."""
    yield make_app(tmp_path, CONTENT)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for the real course."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner for the real course."""
    return app.test_cli_runner()


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """A writable copy of content/, for tests that break or edit modules."""
    target = tmp_path / "content"
    shutil.copytree(CONTENT, target)
    return target


@pytest.fixture
def copy_app(tmp_path: Path, content_copy: Path) -> Flask:
    """An app serving the writable copy of content/."""
    return make_app(tmp_path, content_copy)


@pytest.fixture(scope="session")
def sampler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """The sampler fixture course served once for all browser tests (tests/sampler.py)."""
    from tests.sampler import sampler_site

    with sampler_site(tmp_path_factory.mktemp("sampler")) as site:
        yield site
