"""Shared fixtures: an app on a real SQLite file, its client and CLI runner, content copies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade

from app import create_app

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


def make_app(tmp_path: Path, content_dir: Path, migrate: bool = True, **extra: object) -> Flask:
    """An app for tests: its own SQLite file (migrated to head) and media folder under tmp_path."""
    app = create_app(
        {
            "TESTING": True,
            "CONTENT_DIR": str(content_dir),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'test.sqlite3'}",
            "MEDIA_DIR": str(tmp_path / "media"),
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
