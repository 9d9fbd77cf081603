"""Authoring in one's own editor: `flask content serve --watch` (a real process) pushes every
save to open pages by Server-Sent Events and shows errors at file:line; `flask content hooks
install` writes a git pre-commit hook that refuses a commit whose staged files have errors."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import chromium
from tests.conftest import ROOT, make_app, migrated_sqlite
from tests.test_audio import MODULE_EN, write_course

MODULE = "mini/01-first/en.md"
BROKEN = MODULE_EN.replace("duration: 5", "duration: soon")


class Preview:
    """`flask content serve --watch --port 0` in its own process, on a temporary course."""

    def __init__(self, tmp: Path) -> None:
        self.content = write_course(tmp / "content")
        self.log = tmp / "serve.log"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp),
            "FLASK_APP": "wsgi",
            "ACADEMY_SECRET_KEY": "test-preview",
            "ACADEMY_BASE_URL": "http://127.0.0.1/",  # (the port is the server's choice)
            "ACADEMY_DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
            "ACADEMY_CONTENT_DIR": str(self.content),
            "ACADEMY_MEDIA_DIR": str(tmp / "media"),
            "ACADEMY_SECURE_COOKIES": "0",
            "ACADEMY_QUEUE_URL": f"sqlite:///{tmp / 'queue.sqlite3'}",
            "ACADEMY_QUEUE_WORKER": "off",  # this test is about pages, not builds
        }
        run = [sys.executable, "-m", "flask"]
        # The schema `flask db upgrade` makes, copied from the tests' migrated template.
        shutil.copyfile(migrated_sqlite(), tmp / "db.sqlite3")
        self.errors = self.log.open("wb")
        self.process = subprocess.Popen(
            [*run, "content", "serve", "--watch", "--port", "0"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.errors,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # "Serving ... on http://127.0.0.1:PORT/"
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, line + self.log.read_text()
        self.url = found.group(0).rstrip("/")
        self.port = int(found.group(1))

    def write(self, text: str) -> None:
        (self.content / MODULE).write_text(text, encoding="utf-8")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self.errors.close()


@pytest.fixture(scope="module")
def preview(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Preview]:
    server = Preview(tmp_path_factory.mktemp("preview"))
    try:
        yield server
    finally:
        server.write(MODULE_EN)
        server.stop()


def events(preview: Preview) -> Iterator[tuple[str, dict]]:
    """The server's event stream, one (name, data) at a time (comments skipped)."""
    connection = http.client.HTTPConnection("127.0.0.1", preview.port, timeout=120)
    connection.request("GET", "/__preview/events")
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    name, data = "", ""
    try:
        while True:
            line = response.readline().decode("utf-8").rstrip("\n")
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and name:
                yield name, json.loads(data)
                name, data = "", ""
    finally:
        connection.close()


def test_every_save_is_pushed_with_the_errors_at_file_and_line(preview: Preview) -> None:
    stream = events(preview)
    name, state = next(stream)
    assert name == "state" and state["problems"] == []
    preview.write(BROKEN)
    name, change = next(stream)
    assert name == "change" and change["version"] > state["version"]
    assert any(path.endswith(MODULE) for path in change["changed"])
    [problem] = change["problems"]
    assert problem["where"].endswith(f"{MODULE}:4") and "duration" in problem["message"]
    preview.write(MODULE_EN)
    name, fixed = next(stream)
    assert name == "change" and fixed["problems"] == []
    stream.close()


@pytest.mark.browser
def test_an_open_page_reloads_on_save_and_shows_errors_in_place(preview: Preview) -> None:
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(f"{preview.url}/en/mini/first/")
        page.wait_for_selector("html[data-preview-connected]")
        page.evaluate("() => { window.notReloaded = true; }")

        preview.write(MODULE_EN.replace("A short introduction.", "Saved in my own editor."))
        page.wait_for_function("() => document.body.textContent.includes('in my own editor.')")
        assert page.evaluate("() => window.notReloaded === undefined")  # a real reload

        page.wait_for_selector("html[data-preview-connected]")
        preview.write(BROKEN)
        panel = page.wait_for_selector("[data-preview-problems]:not([hidden])")
        text = panel.inner_text()
        assert f"{MODULE}:4" in text and "duration" in text

        page.wait_for_selector("html[data-preview-connected]")
        preview.write(MODULE_EN)
        page.wait_for_function("() => document.body.textContent.includes('A short introduction.')")
        page.wait_for_selector("html[data-preview-connected]")
        assert page.locator("[data-preview-problems]:not([hidden])").count() == 0
        assert [e for e in errors if "404" not in e] == [], errors


def test_the_platforms_own_pages_carry_no_preview_script(tmp_path: Path) -> None:
    app = make_app(tmp_path, write_course(tmp_path / "content"))
    page = app.test_client().get("/en/mini/first/").get_data(as_text=True)
    assert "preview.js" not in page
    assert app.test_client().get("/__preview/events").status_code == 404


# --- the pre-commit hook ------------------------------------------------------------------------


GIT_ENV = {
    "GIT_AUTHOR_NAME": "Tina",
    "GIT_AUTHOR_EMAIL": "tina@example.org",
    "GIT_COMMITTER_NAME": "Tina",
    "GIT_COMMITTER_EMAIL": "tina@example.org",
}


def git(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        check=False,
        timeout=120,
    )


def test_the_pre_commit_hook_refuses_staged_errors_at_file_and_line(tmp_path: Path) -> None:
    repo = tmp_path / "course-repo"
    content = write_course(repo / "content")
    git(repo, "init", "-q")
    app = make_app(tmp_path, content)
    result = app.test_cli_runner().invoke(args=["content", "hooks", "install"])
    assert result.exit_code == 0, result.output
    hook = repo / ".git" / "hooks" / "pre-commit"
    assert os.access(hook, os.X_OK)

    git(repo, "add", ".")
    first = git(repo, "commit", "-q", "-m", "Course")
    assert first.returncode == 0, first.stderr

    (content / MODULE).write_text(BROKEN, encoding="utf-8")
    git(repo, "add", ".")
    refused = git(repo, "commit", "-q", "-m", "Broken")
    assert refused.returncode != 0
    assert f"content/{MODULE}:4:" in refused.stdout + refused.stderr
    assert "Commit refused: 1 error(s)" in refused.stderr
    assert git(repo, "log", "--format=%s").stdout.split() == ["Course"]

    # The file fixed on disk but not staged: the commit still holds the error, still refused.
    (content / MODULE).write_text(MODULE_EN.replace("First steps", "Fixed"), encoding="utf-8")
    assert git(repo, "commit", "-q", "-m", "Broken").returncode != 0
    git(repo, "add", ".")
    fixed = git(repo, "commit", "-q", "-m", "Fixed")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert git(repo, "log", "--format=%s").stdout.split() == ["Fixed", "Course"]

    # Installing again replaces our own hook; another hook is kept unless --force.
    assert app.test_cli_runner().invoke(args=["content", "hooks", "install"]).exit_code == 0
    hook.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    again = app.test_cli_runner().invoke(args=["content", "hooks", "install"])
    assert again.exit_code != 0 and "--force" in again.output
    assert hook.read_text() == "#!/bin/sh\nexit 0\n"
    forced = app.test_cli_runner().invoke(args=["content", "hooks", "install", "--force"])
    assert forced.exit_code == 0
    assert (hook.parent / "pre-commit.backup").read_text() == "#!/bin/sh\nexit 0\n"


def test_hooks_install_outside_a_git_repository_says_so(tmp_path: Path) -> None:
    app = make_app(tmp_path, write_course(tmp_path / "content"))
    result = app.test_cli_runner().invoke(args=["content", "hooks", "install"])
    assert result.exit_code != 0 and "git init" in result.output
    assert not list(tmp_path.rglob("pre-commit"))
