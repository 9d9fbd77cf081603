"""The studio (app/studio/): roles, editing, preview, drafts, publishing, conflicts, revisions."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import tasks
from app.studio import services
from app.studio.files import PathRefused, safe_path
from tests.conftest import make_app
from tests.helpers import PASSWORD, csrf_from, login, register
from tests.test_audio import MODULE_EN, write_course

pytestmark = pytest.mark.db

EN = "mini/01-first/en.md"
EDIT = f"/en/trainer/studio/edit/{EN}"
PREVIEW = f"/en/trainer/studio/preview/{EN}"
HISTORY = f"/en/trainer/studio/history/{EN}"


def studio_app(tmp_path: Path, git: bool = False) -> Flask:
    content = tmp_path / "content"
    write_course(content)
    if git:
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Setup",
            "GIT_AUTHOR_EMAIL": "setup@example.org",
            "GIT_COMMITTER_NAME": "Setup",
            "GIT_COMMITTER_EMAIL": "setup@example.org",
        }
        for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "Course"]):
            subprocess.run(["git", "-C", str(content), *args], check=True, env=env)
    app = make_app(tmp_path, content, TTS_ENGINES="espeak-ng")
    runner = app.test_cli_runner()
    for email, name in (("tina@example.org", "Tina"), ("toni@example.org", "Toni")):
        runner.invoke(
            args=[
                "users",
                "create",
                "--role",
                "trainer",
                email,
                "--password",
                PASSWORD,
                "--name",
                name,
            ]
        )
    return app


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return studio_app(tmp_path)


def trainer(app: Flask, email: str = "tina@example.org") -> FlaskClient:
    client = app.test_client()
    assert login(client, email).status_code == 302
    return client


def form_of(client: FlaskClient, url: str = EDIT) -> dict[str, str]:
    page = client.get(url).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    base = re.search(r'name="base" value="([0-9a-f]*)"', page).group(1)
    return {"csrf_token": token, "base": base}


def publish(client: FlaskClient, text: str, form: dict[str, str] | None = None, **extra: str):
    data = {**(form or form_of(client)), "text": text, "action": "publish", **extra}
    return client.post(EDIT, data=data)


def source(app: Flask) -> Path:
    return Path(app.config["CONTENT_DIR"]) / EN


def test_only_trainers_reach_the_studio(app: Flask) -> None:
    guest = app.test_client()
    for url in ("/en/trainer/studio/", EDIT, HISTORY):
        response = guest.get(url)
        assert response.status_code == 302 and "/en/login" in response.headers["Location"]
    learner = app.test_client()
    register(learner, "lea@example.org")
    token = csrf_from(learner, "/en/")
    for url in ("/en/trainer/studio/", EDIT, HISTORY):
        assert learner.get(url).status_code == 403
    assert (
        learner.post(PREVIEW, json={"text": "x"}, headers={"X-CSRFToken": token}).status_code == 403
    )
    response = learner.post(EDIT, data={"csrf_token": token, "text": "x", "action": "publish"})
    assert response.status_code == 403 and source(app).read_text() == MODULE_EN
    # The trainers' content page links to the studio.
    assert "/en/trainer/studio/" in trainer(app).get("/en/trainer/content/").get_data(as_text=True)


def test_the_list_shows_each_file_with_its_state(app: Flask) -> None:
    root = Path(app.config["CONTENT_DIR"]) / "mini"
    (root / "02-second").mkdir()
    (root / "02-second" / "en.md").write_text(
        MODULE_EN.replace("duration: 5", "duration: soon"), encoding="utf-8"
    )
    page = trainer(app).get("/en/trainer/studio/").get_data(as_text=True)
    first = page[page.index('data-module="first"') : page.index('data-module="second"')]
    second = page[page.index('data-module="second"') :]
    assert 'data-state="audio-missing"' in first and 'data-state="pdf-missing"' in first
    assert 'data-state="errors"' in second and "1 error" in second
    assert 'data-state="missing-translation"' in second  # no it.md for the second module


def test_the_editor_previews_like_learners_see_it_with_the_answer_key(app: Flask) -> None:
    page = trainer(app).get(EDIT).get_data(as_text=True)
    assert "A short introduction. It has **two** sentences." in page  # the Markdown, editable
    preview = page[page.index("data-preview") :]
    assert "<strong>two</strong>" in preview and 'data-section="channels"' in preview
    assert "Is a shop a channel?" in preview
    assert re.search(r'data-answer="[^"]+"><dt>1</dt><dd>Yes</dd>', preview)
    assert "No errors: this file can be published." in page
    assert "<script>" not in preview


def test_preview_reports_errors_at_their_lines_and_sanitises(app: Flask) -> None:
    client = trainer(app)
    token = csrf_from(client, EDIT)
    broken = MODULE_EN.replace("duration: 5", "duration: soon") + "\n<script>alert(1)</script>\n"
    response = client.post(PREVIEW, json={"text": broken}, headers={"X-CSRFToken": token})
    assert response.status_code == 200
    problems = response.get_json()["problems"]
    assert problems and problems[0]["line"] == 4 and "duration" in problems[0]["message"]
    fine = MODULE_EN + "\n<script>alert(1)</script>\n"
    html = client.post(PREVIEW, json={"text": fine}, headers={"X-CSRFToken": token}).get_json()
    assert "<script>" not in html["html"] and html["problems"] == []
    # Without the CSRF header the preview is refused.
    assert client.post(PREVIEW, json={"text": fine}).status_code == 400


def test_publishing_writes_the_file_records_a_revision_and_queues_the_rebuild(app: Flask) -> None:
    client = trainer(app)
    edited = MODULE_EN.replace("One question about channels.", "Two questions, one shown.")
    response = publish(client, edited, message="Clearer quiz intro")
    assert response.status_code == 302
    assert source(app).read_text() == edited
    page = app.test_client().get("/en/mini/first/").get_data(as_text=True)
    assert "Two questions, one shown." in page  # learners see it on their next page
    history = client.get(HISTORY).get_data(as_text=True)
    assert "Clearer quiz intro" in history and "Tina" in history
    labels = {job.label for job in tasks.queue_for(app).jobs()}
    assert labels == {
        "audio mini/en/first",
        "course audio mini/en",
        "PDF mini/en/first",
        "PDF mini/en (course)",
    }


def test_errors_refuse_publishing_but_a_draft_is_kept_and_learners_never_see_it(
    app: Flask,
) -> None:
    client = trainer(app)
    broken = MODULE_EN.replace("duration: 5", "duration: soon").replace("First steps", "DRAFT")
    response = publish(client, broken)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Not published: the file has errors" in page and 'data-line="4"' in page
    assert "DRAFT" in page  # the trainer's text is still in the editor
    assert source(app).read_text() == MODULE_EN
    draft = client.post(EDIT, data={**form_of(client), "text": broken, "action": "draft"})
    assert draft.status_code == 302
    assert "DRAFT" in client.get(EDIT).get_data(as_text=True)  # the editor reopens the draft
    assert "data-draft-notice" in client.get(EDIT).get_data(as_text=True)
    learner = app.test_client()
    assert "DRAFT" not in learner.get("/en/mini/first/").get_data(as_text=True)
    assert source(app).read_text() == MODULE_EN
    # Publishing a fixed version removes the draft.
    fixed = broken.replace("duration: soon", "duration: 5")
    assert publish(client, fixed).status_code == 302
    assert "data-draft-notice" not in client.get(EDIT).get_data(as_text=True)
    assert "DRAFT" in learner.get("/en/mini/first/").get_data(as_text=True)


def test_a_conflicting_save_is_refused_with_both_versions_and_loses_nothing(app: Flask) -> None:
    tina, toni = trainer(app), trainer(app, "toni@example.org")
    tina_form, toni_form = form_of(tina), form_of(toni)
    assert (
        publish(tina, MODULE_EN.replace("First steps", "Tina's steps"), tina_form).status_code
        == 302
    )
    toni_text = MODULE_EN.replace("A short introduction.", "Toni's introduction.")
    response = publish(toni, toni_text, toni_form)
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    theirs = page[page.index("data-theirs") : page.index("</textarea>", page.index("data-theirs"))]
    assert "Tina&#39;s steps" in theirs  # their version, shown
    assert "Toni&#39;s introduction." in page[page.index('id="studio-text"') :]  # his, kept
    assert "Tina's steps" in source(app).read_text()  # nothing overwritten
    # Toni merges both and publishes on top of Tina's version.
    new_base = re.search(r'name="base" value="([0-9a-f]+)"', page).group(1)
    merged = toni_text.replace("First steps", "Tina's steps")
    again = publish(toni, merged, {**toni_form, "base": new_base})
    assert again.status_code == 302 and source(app).read_text() == merged


def test_history_diff_and_restore_on_platform_revisions(app: Flask) -> None:
    client = trainer(app)
    first = MODULE_EN.replace("First steps", "Version one")
    second = MODULE_EN.replace("First steps", "Version two")
    publish(client, first)
    publish(client, second)
    page = client.get(HISTORY).get_data(as_text=True)
    ids = re.findall(r'data-revision="(\d{6})"', page)
    # The file as it was before the studio first saved it is kept too.
    assert ids == ["000003", "000002", "000001"]
    assert "before its first edit in the studio" in page
    assert services.revision_text(source(app).parents[2], EN, "000001") == MODULE_EN
    ids = ids[:2]
    diff = client.get(HISTORY, query_string={"a": ids[1], "b": ids[0]}).get_data(as_text=True)
    assert '<span class="diff-del">-title: Version one</span>' in diff
    assert '<span class="diff-add">+title: Version two</span>' in diff
    token = csrf_from(client, HISTORY)
    response = client.post(
        f"/en/trainer/studio/restore/{EN}", data={"csrf_token": token, "revision": ids[1]}
    )
    assert response.status_code == 302 and source(app).read_text() == first
    assert len(re.findall(r'data-revision="', client.get(HISTORY).get_data(as_text=True))) == 4
    # A restore without the CSRF token is refused.
    assert (
        client.post(f"/en/trainer/studio/restore/{EN}", data={"revision": ids[0]}).status_code
        == 400
    )


def test_in_a_git_content_folder_every_publish_is_a_commit_by_the_trainer(tmp_path: Path) -> None:
    app = studio_app(tmp_path, git=True)
    client = trainer(app)
    edited = MODULE_EN.replace("First steps", "Committed steps")
    assert publish(client, edited, message="Rename the module").status_code == 302
    content = Path(app.config["CONTENT_DIR"])
    log = subprocess.run(
        ["git", "-C", str(content), "log", "-2", "--format=%an <%ae>|%cn|%s", "--", EN],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert log[0] == "Tina <tina@example.org>|Omnichannel Academy studio|Rename the module"
    status = subprocess.run(
        ["git", "-C", str(content), "status", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == ""  # drafts and locks in .studio/ stay out of git
    page = client.get(HISTORY).get_data(as_text=True)
    ids = re.findall(r'data-revision="([0-9a-f]{40})"', page)
    assert len(ids) == 2 and "Rename the module" in page
    token = csrf_from(client, HISTORY)
    client.post(f"/en/trainer/studio/restore/{EN}", data={"csrf_token": token, "revision": ids[1]})
    assert source(app).read_text() == MODULE_EN


@pytest.mark.parametrize(
    "relative",
    [
        "mini/../mini/01-first/en.md",
        "../content/mini/01-first/en.md",
        "mini/01-first/../../../../etc/passwd",
        "/etc/passwd",
        "mini/01-first/en.md%00.txt",
        "mini/" + "x" * 300 + "/en.md",
        "mini/01-first/de.md",
        "mini/course.yml",
        ".studio/drafts/mini/01-first/en.md",
    ],
)
def test_urls_never_reach_files_outside_module_files(app: Flask, relative: str) -> None:
    client = trainer(app)
    token = csrf_from(client, "/en/trainer/studio/")
    # (Werkzeug first redirects '//' to '/': follow it, the end is still a 404.)
    edit = client.get(f"/en/trainer/studio/edit/{relative}", follow_redirects=True)
    assert edit.status_code == 404
    response = client.post(
        f"/en/trainer/studio/edit/{relative}",
        data={"csrf_token": token, "text": "pwned", "action": "publish", "base": ""},
        follow_redirects=True,
    )
    assert response.status_code == 404
    history = client.get(f"/en/trainer/studio/history/{relative}", follow_redirects=True)
    assert history.status_code == 404
    assert not list(Path(app.config["CONTENT_DIR"]).parent.rglob("passwd"))


def test_a_symlinked_module_file_is_refused(app: Flask, tmp_path: Path) -> None:
    outside = tmp_path / "outside.md"
    outside.write_text(MODULE_EN, encoding="utf-8")
    target = Path(app.config["CONTENT_DIR"]) / "mini" / "01-first" / "it.md"
    target.unlink()
    target.symlink_to(outside)
    client = trainer(app)
    assert client.get("/en/trainer/studio/edit/mini/01-first/it.md").status_code == 404
    assert outside.read_text() == MODULE_EN


def test_safe_path_rules(tmp_path: Path) -> None:
    (tmp_path / "ok").mkdir()
    assert safe_path(tmp_path, "ok/a.md") == tmp_path.resolve() / "ok" / "a.md"
    for bad in [
        "",
        "..",
        "a/../b",
        "/abs",
        "a//b",
        "a\\b",
        "a\x00b",
        "x" * 101,
        ".hidden",
        "C:/x",
        "a/" * 201,
    ]:
        with pytest.raises(PathRefused):
            safe_path(tmp_path, bad)
    (tmp_path / "link").symlink_to(tmp_path / "ok")
    with pytest.raises(PathRefused):
        safe_path(tmp_path, "link/a.md")
    assert safe_path(tmp_path, ".studio/x", allow_studio=True).name == "x"
