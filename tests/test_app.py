"""The app factory, configuration and migrations."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect

from app import create_app
from app.extensions import db
from tests.conftest import CONTENT, make_app


def test_a_secret_key_is_required_outside_debug_and_tests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ACADEMY_SECRET_KEY", raising=False)
    monkeypatch.delenv("ACADEMY_DEBUG", raising=False)
    monkeypatch.setenv("ACADEMY_BASE_URL", "https://academy.example.org/")
    with pytest.raises(RuntimeError, match="ACADEMY_SECRET_KEY is not set"):
        create_app()


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ACADEMY_DEBUG", raising=False)
    monkeypatch.setenv("ACADEMY_SECRET_KEY", "k" * 64)
    monkeypatch.setenv("ACADEMY_BASE_URL", "https://academy.example.org/")
    monkeypatch.setenv("ACADEMY_CONTENT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("ACADEMY_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite3'}")
    app = create_app()
    assert app.config["CONTENT_DIR"] == tmp_path / "elsewhere"
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("x.sqlite3")
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.db
def test_migrations_upgrade_and_downgrade_a_real_database(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONTENT, migrate=False)
    runner = app.test_cli_runner()

    def tables() -> set[str]:
        with app.app_context():
            names = set(inspect(db.engine).get_table_names())
            db.engine.dispose()
            return names

    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert {"users", "statements", "module_progress", "alembic_version"} <= tables()
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert tables() <= {"alembic_version"}


def test_an_empty_content_folder_serves_an_honest_catalogue(tmp_path: Path) -> None:
    (tmp_path / "content").mkdir()
    client = make_app(tmp_path, tmp_path / "content").test_client()
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert b"No course is available yet." in response.data


@pytest.mark.db
def test_completions_from_before_certificates_get_a_verification_code(tmp_path: Path) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import text

    app = make_app(tmp_path, CONTENT, migrate=False)
    with app.app_context():
        upgrade(revision="bab3a2391434")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO course_completions (learner, course_id, completed_at)"
                    " VALUES ('u:1', 'omnichannel', CURRENT_TIMESTAMP)"
                )
            )
        upgrade()
        with db.engine.connect() as connection:
            (code,) = connection.execute(text("SELECT code FROM course_completions")).one()
        db.engine.dispose()
    assert len(code) == 16 and code.isalnum() and code.isupper()
