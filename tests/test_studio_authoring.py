"""The studio's module work: new module from the template, new translation with its ids, image
uploads (sniffed, size-limited, SVGs checked), rename and reorder keeping learners' progress,
and who may do any of it."""

from __future__ import annotations

import html
import io
import re
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from app.studio.authoring import MAX_IMAGE
from tests.helpers import beacon, csrf_from, register
from tests.test_audio import MODULE_EN
from tests.test_studio import studio_app, trainer

pytestmark = pytest.mark.db

STUDIO = "/en/trainer/studio/"
UPLOAD = "/en/trainer/studio/upload/mini/01-first/en.md"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return studio_app(tmp_path)


BASE = r'name="base" value="([0-9a-f]*)"'


def field(page: str, pattern: str) -> str:
    """The first group of a pattern that must be in the page."""
    match = re.search(pattern, page, re.S)
    assert match, pattern
    return match.group(1)


def content(app: Flask) -> Path:
    return Path(app.config["CONTENT_DIR"])


def post(client: FlaskClient, url: str, **data: object):
    token = csrf_from(client, STUDIO)
    return client.post(url, data={"csrf_token": token, **data})


def check(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
    return result.output


def picture(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 3), (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, name: str, as_json: bool = True):
    token = csrf_from(client, STUDIO)
    headers = {"Accept": "application/json"} if as_json else {}
    return client.post(
        UPLOAD,
        data={"csrf_token": token, "image": (io.BytesIO(data), name)},
        headers=headers,
        content_type="multipart/form-data",
    )


def test_a_new_module_from_the_template_passes_the_checker_and_is_visible(app: Flask) -> None:
    client = trainer(app)
    response = post(client, "/en/trainer/studio/new/mini", slug="loyalty", title='Loyalty: "why"')
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/edit/mini/02-loyalty/en.md")
    text = (content(app) / "mini" / "02-loyalty" / "en.md").read_text(encoding="utf-8")
    assert text.startswith('---\ntitle: "Loyalty: \\"why\\""\neqf: 3-5\n')
    assert "outcomes:" in text and "\n## " in text and "```quiz" in text
    output = check(app)
    assert "02-loyalty" not in output  # no error and no warning: its outcome is assessed
    page = app.test_client().get("/en/mini/loyalty/").get_data(as_text=True)
    assert 'Loyalty: "why"' in page.replace("&#34;", '"').replace("&quot;", '"')
    assert 'id="main-idea-section" data-section' in page and "/en/mini/loyalty/quiz" in page
    editor = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No errors: this file can be published." in editor
    # The same id twice, or a name that is not an id, is refused and writes nothing.
    for slug in ("loyalty", "first", "../evil", "Caps", "a" * 61, ""):
        post(client, "/en/trainer/studio/new/mini", slug=slug, title="Again")
    folders = sorted(p.name for p in (content(app) / "mini").iterdir() if p.is_dir())
    assert folders == ["01-first", "02-loyalty"]


def test_a_new_translation_starts_as_a_draft_with_the_default_files_ids(app: Flask) -> None:
    root = content(app) / "mini" / "01-first"
    # A default file with derived ids: the translation must get them written out.
    (root / "en.md").write_text(
        MODULE_EN.replace(" {#further}", "").replace(" {#channels}", ""), encoding="utf-8"
    )
    (root / "it.md").unlink()
    client = trainer(app)
    index = client.get(STUDIO).get_data(as_text=True)
    assert 'data-translate="it"' in index
    response = post(client, "/en/trainer/studio/translate/mini/first", language="it")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/edit/mini/01-first/it.md")
    assert not (root / "it.md").exists()  # a draft: learners never see the untranslated copy
    editor = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "data-draft-notice" in editor
    assert "## Channels {#channels}" in editor and "## Going further {#going-further}" in editor
    assert "Is a shop a channel? {#is-a-shop-a-channel}" in editor
    assert "Say what a CRM is {#o1}" in editor
    assert "No errors: this file can be published." in editor
    learner = app.test_client()
    assert "Un canale" not in learner.get("/it/mini/first/").get_data(as_text=True)
    # The trainer translates the words (ids kept) and publishes.
    text = html.unescape(field(editor, r"data-text>(.*?)</textarea>"))
    text = text.replace("A channel is a way to talk", "Un canale è un modo di parlare")
    form = {"csrf_token": csrf_from(client, STUDIO), "base": field(editor, BASE)}
    published = client.post(
        "/en/trainer/studio/edit/mini/01-first/it.md",
        data={**form, "text": text, "action": "publish"},
    )
    assert published.status_code == 302
    page = learner.get("/it/mini/first/").get_data(as_text=True)
    assert "Un canale è un modo di parlare" in page
    assert 'id="going-further" data-section' in page  # the same section ids as in English
    check(app)
    # Starting it again is refused: the file exists now.
    post(client, "/en/trainer/studio/translate/mini/first", language="it")
    assert "Un canale" in (root / "it.md").read_text(encoding="utf-8")


def test_pictures_are_sniffed_stored_under_a_safe_name_and_served_once_inserted(
    app: Flask,
) -> None:
    client = trainer(app)
    media = content(app) / "mini" / "01-first" / "media"
    png = picture("PNG")
    response = upload(client, png, "Shop Floor (1).txt")  # the name's extension is ignored
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {
        "name": "shop-floor-1.png",
        "markdown": "![shop floor 1](media/shop-floor-1.png)",
    }
    assert (media / "shop-floor-1.png").read_bytes() == png
    gif = upload(client, picture("GIF"), "diagram.svg").get_json()
    assert gif["name"] == "diagram.gif"  # a GIF named .svg is stored as what it is
    # Another picture under a used name gets its own name; the same bytes reuse the file.
    assert upload(client, picture("JPEG"), "shop-floor-1.jpg").get_json()["name"] == (
        "shop-floor-1.jpg"
    )
    assert upload(client, png, "shop floor 1.png").get_json()["name"] == "shop-floor-1.png"
    other = Image.new("RGB", (2, 2), (0, 0, 255))
    buffer = io.BytesIO()
    other.save(buffer, format="PNG")
    assert upload(client, buffer.getvalue(), "shop-floor-1.png").get_json()["name"] == (
        "shop-floor-1-2.png"
    )
    # Inserted in the module and published, learners get the picture from /media/.
    text = MODULE_EN.replace(
        "One question about channels.", "![shop floor 1](media/shop-floor-1.png)"
    )
    form = client.get("/en/trainer/studio/edit/mini/01-first/en.md").get_data(as_text=True)
    base = field(form, BASE)
    token = csrf_from(client, STUDIO)
    assert (
        client.post(
            "/en/trainer/studio/edit/mini/01-first/en.md",
            data={"csrf_token": token, "text": text, "base": base, "action": "publish"},
        ).status_code
        == 302
    )
    served = app.test_client().get("/media/mini/first/shop-floor-1.png")
    assert served.status_code == 200 and served.mimetype == "image/png" and served.data == png
    # Without JavaScript the editor page comes back with the line to paste.
    plain = upload(client, picture("PNG"), "plain.png", as_json=False)
    assert plain.status_code == 302
    assert "media/plain.png" in client.get(plain.headers["Location"]).get_data(as_text=True)


SVG_OK = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
    b'<rect width="5" height="5" fill="#c00"/></svg>'
)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"<html><script>alert(1)</script></html>", "not a PNG"),
        (b"GIF8" + b"\x00" * 20, "not a PNG"),
        (SVG_OK.replace(b"<rect", b"<script>alert(1)</script><rect"), "script"),
        (SVG_OK.replace(b"<rect", b'<rect onclick="alert(1)"'), "event handler"),
        (
            b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]>' + SVG_OK,
            "DOCTYPE",
        ),
        (
            SVG_OK.replace(b"<rect", b'<image href="https://example.com/x.png"/><rect'),
            "outside",
        ),
        (
            SVG_OK.replace(b"<rect", b'<image href="file:///etc/passwd"/><rect'),
            "outside",
        ),
        (
            SVG_OK.replace(b"<rect", b"<style>@import url(https://x.org/a.css);</style><rect"),
            "style",
        ),
        (
            SVG_OK.replace(b"<rect", b"<foreignObject><p>x</p></foreignObject><rect"),
            "foreignobject",
        ),
        (SVG_OK[:-6], "well-formed"),
    ],
)
def test_unsafe_or_fake_pictures_are_refused(app: Flask, data: bytes, reason: str) -> None:
    response = upload(trainer(app), data, "picture.svg")
    assert response.status_code == 422
    assert reason in response.get_json()["error"]
    assert not (content(app) / "mini" / "01-first" / "media").exists()


def test_a_clean_svg_is_kept_and_an_oversized_file_is_refused(app: Flask) -> None:
    client = trainer(app)
    assert upload(client, SVG_OK, "chart.png").get_json()["name"] == "chart.svg"
    big = picture("PNG") + b"\x00" * (MAX_IMAGE + 10)
    response = upload(client, big, "big.png")
    assert response.status_code == 422 and "2 MB" in response.get_json()["error"]
    # Far beyond the limit, the request itself is refused before it is read.
    huge = upload(client, big + b"\x00" * 100_000, "huge.png")
    assert huge.status_code == 413 and "2 MB" in huge.get_json()["error"]
    # Under the limit but over the site's 1 MB for other requests: accepted.
    assert upload(client, picture("PNG") + b"\x00" * 1_500_000, "large.png").status_code == 200
    assert not (content(app) / "mini" / "01-first" / "media" / "big.png").exists()


@pytest.mark.parametrize(
    "name",
    [
        "../evil.png",
        "../../etc/cron.d/x.png",
        "a/b.png",
        "..\\x.png",
        ".htaccess",
        "x\x00.png",
        "n" * 300,
    ],
)
def test_upload_names_that_try_to_leave_the_folder_are_refused(app: Flask, name: str) -> None:
    response = upload(trainer(app), picture("PNG"), name)
    assert response.status_code in (400, 422)
    root = content(app)
    assert not (root / "mini" / "01-first" / "media").exists()
    assert not list(root.parent.rglob("evil*")) and not list(root.parent.rglob("*.htaccess"))


def test_rename_and_reorder_keep_the_ids_and_learners_progress(tmp_path: Path) -> None:
    app = studio_app(tmp_path, git=True)
    client = trainer(app)
    assert (
        post(client, "/en/trainer/studio/new/mini", slug="second", title="Second").status_code
        == 302
    )
    learner = app.test_client()
    register(learner, "lea@example.org")
    read = beacon(
        learner,
        "/en/mini/first/progress",
        {"verb": "section-read", "section": "channels", "seconds": 600},
    )
    assert read.get_json()["read"] == ["channels"]

    assert post(client, "/en/trainer/studio/rename/mini/first", slug="basics").status_code == 302
    assert post(client, "/en/trainer/studio/move/mini/first", direction="down").status_code == 302
    root = content(app) / "mini"
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["01-second", "02-basics"]
    assert (root / "02-basics" / "en.md").read_text(encoding="utf-8").startswith("---\nid: first\n")
    check(app)
    # Same URL, same id: the learner's progress is all there, in the new order.
    again = beacon(
        learner,
        "/en/mini/first/progress",
        {"verb": "section-read", "section": "further", "seconds": 600},
    )
    assert again.get_json()["read"] == ["channels", "further"]
    course = app.test_client().get("/en/mini/").get_data(as_text=True)
    assert course.index("/en/mini/second/") < course.index("/en/mini/first/")
    # One commit per change, by the trainer; history follows the file through the rename.
    log = subprocess.run(
        ["git", "-C", str(content(app)), "log", "--format=%an|%s"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert log[:3] == [
        "Tina|Move 01-basics to 02-basics",
        "Tina|Rename 01-first to 01-basics",
        "Tina|New module 02-second",
    ]
    history = client.get("/en/trainer/studio/history/mini/02-basics/en.md").get_data(as_text=True)
    ids = re.findall(r'data-revision="([0-9a-f]{40})"', history)
    assert len(ids) == 3  # the course's first commit, the rename, the move
    diff = client.get(
        "/en/trainer/studio/history/mini/02-basics/en.md", query_string={"a": ids[-1], "b": ids[0]}
    ).get_data(as_text=True)
    assert '<span class="diff-add">+id: first</span>' in diff
    status = subprocess.run(
        ["git", "-C", str(content(app)), "status", "--porcelain"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert status == ""
    # Names that are not ids, or that another module has, are refused and move nothing.
    for slug in ("../x", "second", "Big", ""):
        post(client, "/en/trainer/studio/rename/mini/first", slug=slug)
    post(client, "/en/trainer/studio/move/mini/first", direction="down")  # already last
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["01-second", "02-basics"]


def test_platform_revisions_and_drafts_move_with_the_folder(app: Flask) -> None:
    client = trainer(app)
    token = csrf_from(client, STUDIO)
    editor = client.get("/en/trainer/studio/edit/mini/01-first/en.md").get_data(as_text=True)
    base = field(editor, BASE)
    edited = MODULE_EN.replace("First steps", "Edited steps")
    client.post(
        "/en/trainer/studio/edit/mini/01-first/en.md",
        data={"csrf_token": token, "text": edited, "base": base, "action": "publish"},
    )
    client.post(
        "/en/trainer/studio/edit/mini/01-first/it.md",
        data={"csrf_token": token, "text": "draft text", "base": "", "action": "draft"},
    )
    post(client, "/en/trainer/studio/rename/mini/first", slug="basics")
    history = client.get("/en/trainer/studio/history/mini/01-basics/en.md").get_data(as_text=True)
    assert re.findall(r'data-revision="(\d{6})"', history) == ["000002", "000001"]
    assert "draft text" in client.get("/en/trainer/studio/edit/mini/01-basics/it.md").get_data(
        as_text=True
    )


def fresh(data: dict[str, object]) -> dict[str, object]:
    """The form again, with a new upload stream (a posted stream is consumed)."""
    return {
        k: (io.BytesIO(picture("PNG")), "p.png") if k == "image" else v for k, v in data.items()
    }


def test_learners_other_trainers_and_forged_forms_cannot_use_them(app: Flask) -> None:
    course_yml = content(app) / "mini" / "course.yml"
    course_yml.write_text(
        course_yml.read_text(encoding="utf-8") + "trainers: [tina@example.org]\n", encoding="utf-8"
    )
    routes = {
        "/en/trainer/studio/new/mini": {"slug": "x", "title": "X"},
        "/en/trainer/studio/translate/mini/first": {"language": "it"},
        "/en/trainer/studio/rename/mini/first": {"slug": "y"},
        "/en/trainer/studio/move/mini/first": {"direction": "down"},
        UPLOAD: {"image": None},
    }
    before = sorted(str(p.relative_to(content(app))) for p in content(app).rglob("*"))

    learner = app.test_client()
    register(learner, "lea@example.org")
    token = csrf_from(learner, "/en/")
    for url, data in routes.items():
        assert learner.post(url, data={"csrf_token": token, **fresh(data)}).status_code == 403

    toni = trainer(app, "toni@example.org")  # a trainer, but not of this course
    assert 'data-course="mini"' not in toni.get(STUDIO).get_data(as_text=True)
    token = csrf_from(toni, STUDIO)
    for url, data in routes.items():
        assert toni.post(url, data={"csrf_token": token, **fresh(data)}).status_code == 404
    assert toni.get("/en/trainer/studio/edit/mini/01-first/en.md").status_code == 404

    tina = trainer(app)
    for url, data in routes.items():
        assert tina.post(url, data=fresh(data)).status_code == 400  # no CSRF token
    assert sorted(str(p.relative_to(content(app))) for p in content(app).rglob("*")) == before
    assert 'data-course="mini"' in tina.get(STUDIO).get_data(as_text=True)
