"""The `flask` command works with nothing set, as `make run` does; a WSGI server says what
to set."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

FLASK = Path(sys.executable).parent / "flask"


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder holding wsgi.py (so its instance/ is a temp one) and an environment without
    ACADEMY_BASE_URL or ACADEMY_SECRET_KEY."""
    shutil.copy(ROOT / "wsgi.py", tmp_path / "wsgi.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACADEMY_", "FLASK_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        ACADEMY_DATABASE_URL=f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        ACADEMY_CONTENT_DIR=str(ROOT / "tests" / "corpora"),  # any folder: no course is needed
        ACADEMY_MEDIA_DIR=str(tmp_path / "media"),
    )
    return tmp_path, env


def run(site: tuple[Path, dict[str, str]], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a command in the site folder with its environment."""
    folder, env = site
    return subprocess.run(
        args, cwd=folder, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_flask_help_and_users_create_work_without_base_url_or_secret(site) -> None:
    """Same defaults as `make run`: the local base URL, the key in instance/secret_key."""
    shown = run(site, str(FLASK), "--app", "wsgi", "--help")
    assert shown.returncode == 0, shown.stderr
    assert "users" in shown.stdout and "Traceback" not in shown.stderr
    assert run(site, str(FLASK), "--app", "wsgi", "db", "upgrade").returncode == 0
    created = run(
        site, str(FLASK), "--app", "wsgi", "users", "create", "--role", "trainer",
        "tina@example.org", "--password", "correct horse battery",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = site[0] / "instance" / "secret_key"
    assert len(key.read_text().strip()) == 64
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_a_wsgi_server_without_base_url_stops_with_one_line(site) -> None:
    """Importing wsgi outside the `flask` command has no local defaults: one clear line."""
    result = run(site, sys.executable, "-c", "import wsgi")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: ACADEMY_BASE_URL is not set. Set it to the site's public address, e.g. "
        "https://academy.example.org/ (PDFs and certificates link to it)."
    ]
