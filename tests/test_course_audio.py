"""The whole-course MP3: built from the module MP3s, tagged, captioned, served, and rebuilt."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import miniaudio
import pytest
from flask import Flask
from mutagen.id3 import ID3

from app import tasks
from app.audio.build import build_audio
from app.audio.store import Store
from app.builds import rebuild_course_audio
from tests.conftest import make_app
from tests.helpers import PASSWORD, login
from tests.test_audio import COURSE_YML, MODULE_EN, MODULE_IT, closed_port_url

# A second module, in English only: the Italian course file plays it in English, as the
# Italian course page and PDF show it.
SECOND_EN = """\
---
title: Second look
eqf: 3
duration: 3
description: Another short module.
keywords: [shops]
outcomes:
  - Name a shop
---

The second module starts here.

## Shops {#shops}

A shop is a place to buy things.
"""

# A module with an error in its front matter: hidden from learners, and from the course file.
BROKEN_EN = SECOND_EN.replace("duration: 3", "duration: soon").replace("Second look", "Broken")


def write_course(root: Path) -> Path:
    """The course `mini`: two sound modules and a broken one."""
    folder = root / "mini"
    for name in ("01-first", "02-second", "03-broken"):
        (folder / name).mkdir(parents=True)
    (folder / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    (folder / "01-first" / "en.md").write_text(MODULE_EN, encoding="utf-8")
    (folder / "01-first" / "it.md").write_text(MODULE_IT, encoding="utf-8")
    (folder / "02-second" / "en.md").write_text(SECOND_EN, encoding="utf-8")
    (folder / "03-broken" / "en.md").write_text(BROKEN_EN, encoding="utf-8")
    return root


def course_app(tmp_path: Path, **extra: object) -> Flask:
    """An app on the course above, speaking with espeak-ng."""
    content = tmp_path / "content"
    if not content.exists():
        write_course(content)
    return make_app(tmp_path, content, **{"TTS_ENGINES": "espeak-ng", **extra})


def store(app: Flask) -> Store:
    return Store(app.config["MEDIA_DIR"])


def course_file(app: Flask, lang: str) -> Path:
    return store(app).course_path(store(app).read_course_manifest("mini", lang)["whole"]["key"])


def module_seconds(app: Flask, lang: str, module_id: str) -> float:
    return float(store(app).read_manifest("mini", lang, module_id)["whole"]["duration"])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The course built once: its sections, module files and course files."""
    tmp_path = tmp_path_factory.mktemp("course-audio")
    app = course_app(tmp_path)
    lines: list[str] = []
    report = build_audio(app, echo=lines.append, workers=2)
    return app, report, lines


def copy_of(built, tmp_path: Path, **extra: object) -> Flask:  # type: ignore[no-untyped-def]
    """A fresh app on a copy of the built course and its audio, for a test that changes them."""
    app = built[0]
    shutil.copytree(app.config["CONTENT_DIR"], tmp_path / "content")
    shutil.copytree(app.config["MEDIA_DIR"], tmp_path / "media")
    return course_app(tmp_path, **extra)


@pytest.mark.audio
def test_the_course_file_is_the_visible_modules_in_order_with_chapters(built) -> None:
    app, report, lines = built
    assert report.ok
    assert sorted((c.where, c.status, c.modules) for c in report.courses) == [
        ("mini/en", "built", 2),
        ("mini/it", "built", 2),
    ]
    assert any("2 course file(s) built, 0 reused" in line for line in lines)
    assert any(line.startswith("Course file mini/en: built, 2 module(s)") for line in lines)
    path = course_file(app, "en")
    decoded = miniaudio.decode(path.read_bytes(), nchannels=1, sample_rate=22050)
    seconds = decoded.num_frames / decoded.sample_rate
    first, second = module_seconds(app, "en", "first"), module_seconds(app, "en", "second")
    assert seconds == pytest.approx(first + second, abs=0.1)  # the broken module is not in it

    tags = ID3(path)
    assert str(tags["TIT2"]) == "Mini course" and str(tags["TALB"]) == "Mini course"
    assert str(tags["TPE1"]) == "Omnichannel Academy" and str(tags["TLAN"]) == "en"
    tocs = {toc.element_id: toc for toc in tags.getall("CTOC")}
    assert tocs["toc"].child_element_ids == ["first", "second"]  # a module per entry
    assert str(tocs["second"].sub_frames["TIT2"]) == "Second look"
    assert tocs["first"].child_element_ids == [
        "first/intro",
        "first/channels",
        "first/further",
        "first/quiz",
    ]
    chapters = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [c.element_id for c in chapters] == (
        tocs["first"].child_element_ids + tocs["second"].child_element_ids
    )
    assert chapters[0].start_time == 0
    for before, after in zip(chapters, chapters[1:], strict=False):
        assert before.start_time < before.end_time == after.start_time
    # The second module starts where the first module's file ends.
    start = next(c for c in chapters if c.element_id == "second/intro").start_time
    assert start / 1000 == pytest.approx(first, abs=0.002)
    assert str(chapters[len(tocs["first"].child_element_ids)].sub_frames["TIT2"]) == "Second look"
    assert chapters[-1].end_time / 1000 == pytest.approx(seconds, abs=0.05)

    # Italian: the first module in Italian, the second (no Italian file) in English.
    italian = ID3(course_file(app, "it"))
    assert str(italian["TIT2"]) == "Corso mini"
    titles = [
        str(c.sub_frames["TIT2"])
        for c in sorted(italian.getall("CHAP"), key=lambda c: c.start_time)
    ]
    assert titles[0] == "Primi passi" and "Second look" in titles
    manifest = store(app).read_course_manifest("mini", "it")
    assert [(m["id"], m["language"]) for m in manifest["modules"]] == [
        ("first", "it"),
        ("second", "en"),
    ]


@pytest.mark.audio
def test_the_course_captions_are_every_sentence_timed_on_the_course_file(built) -> None:
    app, _, _ = built
    key = store(app).read_course_manifest("mini", "en")["whole"]["key"]
    vtt = store(app).course_path(key, ".vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT")
    starts = [
        int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000
        for h, m, s, ms in re.findall(r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> ", vtt, re.M)
    ]
    assert starts == sorted(starts)
    assert "The second module starts here." in vtt
    # The second module's first sentence is timed after the whole first module.
    cues = vtt.split("\n\n")
    second = next(c for c in cues if "The second module starts here." in c)
    h, m, s, ms = re.search(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) -->", second).groups()
    assert int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000 > module_seconds(
        app, "en", "first"
    )


@pytest.mark.audio
def test_the_course_file_is_served_with_ranges_and_linked_from_the_course_page(built) -> None:
    app, _, _ = built
    client = app.test_client()
    page = client.get("/en/mini/").get_data(as_text=True)
    link = re.search(r'href="(/en/mini\.mp3\?v=[0-9a-f]{16})" download', page).group(1)
    assert "data-course-audio-player" in page and "Download the whole course (MP3" in page
    assert 'src="/en/mini.vtt?v=' in page and "data-course-audio-updating" not in page
    assert "Second look" in page[page.index("data-course-audio") :]
    # Where each section is in the file, for the listening reports (sections only, no intro).
    first = re.search(
        r'data-course-module="first" data-progress-url="/en/mini/first/progress" '
        r"data-sections='([^']+)'",
        page,
    )
    assert [s[0] for s in json.loads(html.unescape(first.group(1)))] == [
        "channels",
        "further",
        "quiz",
    ]
    whole = client.get(link)
    assert whole.status_code == 200 and whole.mimetype == "audio/mpeg"
    assert whole.data == course_file(app, "en").read_bytes()
    assert "immutable" in whole.headers["Cache-Control"] and whole.headers["ETag"]
    assert "X-Academy-Updating" not in whole.headers
    body = whole.data
    part = client.get(link, headers={"Range": "bytes=2000-4999"})
    assert part.status_code == 206 and part.data == body[2000:5000]
    assert part.headers["Content-Range"] == f"bytes 2000-4999/{len(body)}"
    assert client.get(link, headers={"If-None-Match": whole.headers["ETag"]}).status_code == 304
    plain = client.get("/en/mini.mp3")
    assert plain.status_code == 200 and "no-cache" in plain.headers["Cache-Control"]
    vtt = client.get("/en/mini.vtt")
    assert vtt.status_code == 200 and vtt.mimetype == "text/vtt"

    italian = client.get("/it/mini/").get_data(as_text=True)
    assert 'href="/it/mini.mp3?v=' in italian and "Scarica il corso intero" in italian
    assert client.get("/it/mini.mp3").data == course_file(app, "it").read_bytes()
    for url in ("/en/nope.mp3", "/xx/mini.mp3", "/en/nope.vtt", "/en/..%2Fmini.mp3"):
        assert client.get(url).status_code == 404, url

    # A second build makes nothing new and keeps the manifests (cached pages stay valid).
    stamp = (Path(app.config["MEDIA_DIR"]) / "audio" / "index" / "mini").stat().st_mtime_ns
    again = build_audio(app, echo=lambda line: None, workers=1)
    assert [c.status for c in again.courses] == ["reused", "reused"] and not again.built
    assert (Path(app.config["MEDIA_DIR"]) / "audio" / "index" / "mini").stat().st_mtime_ns == stamp


def test_a_course_without_audio_says_so_and_its_file_is_404(tmp_path: Path) -> None:
    app = course_app(tmp_path)
    client = app.test_client()
    page = client.get("/en/mini/").get_data(as_text=True)
    assert "The audio version of the whole course is not ready yet." in page
    assert "/en/mini.mp3" not in page
    assert client.get("/en/mini.mp3").status_code == 404


@pytest.mark.audio
@pytest.mark.pdf  # the save queues the PDFs too, and the worker renders them
def test_a_studio_save_queues_the_course_file_after_the_module_and_the_old_one_is_served(
    built, tmp_path: Path
) -> None:
    app = copy_of(built, tmp_path)
    old, old_it = course_file(app, "en").read_bytes(), course_file(app, "it")
    app.test_cli_runner().invoke(
        args=["users", "create", "--role", "trainer", "tina@example.org"]
        + ["--password", PASSWORD, "--name", "Tina"]
    )
    tina = app.test_client()
    assert login(tina, "tina@example.org").status_code == 302
    edit = "/en/trainer/studio/edit/mini/02-second/en.md"
    page = tina.get(edit).get_data(as_text=True)
    form = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),
        "base": re.search(r'name="base" value="([0-9a-f]*)"', page).group(1),
        "text": SECOND_EN.replace("a place to buy things", "where we buy"),
        "action": "publish",
    }
    assert tina.post(edit, data=form).status_code == 302

    queue = tasks.queue_for(app)
    labels = [job.label for job in sorted(queue.jobs(), key=lambda j: j.updated)]
    # The Italian course file plays this English module too (no Italian file): both queued,
    # once each, right after the module's audio.
    assert labels == [
        "audio mini/en/second",
        "course audio mini/en",
        "course audio mini/it",
        "PDF mini/en/second",
        "PDF mini/en (course)",
    ]
    # Until the queue has run: the previous course file, marked as being updated, never a 404.
    learner = app.test_client()
    stale = learner.get("/en/mini.mp3")
    assert stale.status_code == 200 and stale.data == old
    assert stale.headers["X-Academy-Updating"] == "1"
    assert "data-course-audio-updating" in learner.get("/en/mini/").get_data(as_text=True)
    studio = tina.get("/en/trainer/studio/").get_data(as_text=True)
    assert 'data-state="course-audio-outdated" data-course-audio-lang="en"' in studio

    with tasks.running_worker(app, workers=2):
        tasks.wait_idle(app, timeout=180)
    jobs = {job.label: job for job in queue.jobs()}
    assert {job.state for job in jobs.values()} == {"done"}, jobs
    assert len(jobs) == 5  # the module job's own re-queue was folded into the waiting one
    # Two workers, and still each course file was joined after the module file was rebuilt.
    second_key = store(app).read_manifest("mini", "en", "second")["whole"]["key"]
    for lang in ("en", "it"):
        modules = store(app).read_course_manifest("mini", lang)["modules"]
        assert [m["key"] for m in modules if m["id"] == "second"] == [second_key]
    fresh = learner.get("/en/mini.mp3")
    assert fresh.status_code == 200 and fresh.data != old
    assert "X-Academy-Updating" not in fresh.headers
    assert course_file(app, "it") != old_it
    assert "data-course-audio-updating" not in learner.get("/en/mini/").get_data(as_text=True)
    studio = tina.get("/en/trainer/studio/").get_data(as_text=True)
    assert studio.count('data-state="course-audio-current"') == 2
    with app.app_context():
        assert rebuild_course_audio.enqueue("mini", "en")
        assert rebuild_course_audio.enqueue("mini", "en") == ""  # one is already waiting


@pytest.mark.audio
def test_a_module_whose_audio_failed_leaves_the_previous_course_file(built, tmp_path: Path) -> None:
    app = copy_of(built, tmp_path)
    old = course_file(app, "en").read_bytes()
    source = tmp_path / "content" / "mini" / "02-second" / "en.md"
    source.write_text(SECOND_EN.replace("a place to buy things", "where we buy"), "utf-8")
    # No engine can speak now: the edited section fails, and so does the course file.
    failing = make_app(
        tmp_path, tmp_path / "content", TTS_ENGINES="gtts", TTS_GTTS_URL=closed_port_url()
    )
    result = failing.test_cli_runner().invoke(args=["audio", "build", "--workers", "1"])
    assert result.exit_code == 1
    assert (
        "no course file for mini/en (the previous one is served meanwhile): "
        "module second (en): section 'shops': gtts: no network"
    ) in result.output
    assert "Course file mini/en: not built" in result.output
    response = failing.test_client().get("/en/mini.mp3")
    assert response.status_code == 200 and response.data == old
    assert response.headers["X-Academy-Updating"] == "1"
    page = failing.test_client().get("/en/mini/").get_data(as_text=True)
    assert "data-course-audio-updating" in page
    # Without that module (removed), the next build joins the others into a new file.
    shutil.rmtree(tmp_path / "content" / "mini" / "02-second")
    again = build_audio(app, echo=lambda line: None, workers=1)
    assert again.ok and [c.modules for c in again.courses] == [1, 1]
    assert course_file(app, "en").read_bytes() != old


@pytest.mark.audio
def test_behind_nginx_the_app_names_the_course_file_and_sends_no_bytes(
    built, tmp_path: Path
) -> None:
    app = copy_of(built, tmp_path, ACCEL_REDIRECT="/_accel/media/")
    key = store(app).read_course_manifest("mini", "en")["whole"]["key"]
    response = app.test_client().get(f"/en/mini.mp3?v={key[:16]}")
    assert response.status_code == 200 and response.data == b""
    assert (
        response.headers["X-Accel-Redirect"] == f"/_accel/media/audio/courses/{key[:2]}/{key}.mp3"
    )
    assert response.mimetype == "audio/mpeg" and "immutable" in response.headers["Cache-Control"]
    assert response.headers["Content-Disposition"] == "inline; filename=mini-en.mp3"
