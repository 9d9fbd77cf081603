"""Builds that follow edits (app/builds.py): the real queue, espeak-ng, WeasyPrint, pdftotext."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from flask import Flask

from app import tasks
from app.audio.engines import GttsEngine
from app.audio.store import Store
from app.builds import changed_versions, rebuild_audio, snapshot
from app.content.loader import load_catalogue
from app.pdf import views as pdf_views
from tests.pdf_tools import pdf_pages_text
from tests.test_audio import MODULE_EN, audio_app, manifest
from tests.test_audio_gtts import PATH, FakeGoogle, speech_mp3


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    """The fake gTTS endpoint on a loopback port, in a thread (closed afterwards)."""
    FakeGoogle.audio = speech_mp3()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGoogle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{PATH}"
    server.shutdown()
    server.server_close()


def wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def keys(app: Flask, lang: str = "en") -> dict[str, str]:
    return {c["id"]: c["key"] for c in manifest(app, lang)["chapters"]}


@pytest.mark.audio
@pytest.mark.pdf
def test_a_file_saved_on_disk_rebuilds_what_changed_while_learners_keep_the_old(
    tmp_path: Path,
) -> None:
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng")
    result = app.test_cli_runner().invoke(args=["content", "build", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "Audio: 8 section(s) built, 0 reused" in result.output
    assert "[########################] 8/8 100%" in result.output  # the progress bar
    assert "PDF: 4 built, 0 up to date, 0 failed" in result.output  # and the summaries
    before = keys(app)
    media = Path(app.config["MEDIA_DIR"])
    [old_pdf] = (media / "pdf" / "mini").glob("first.en.*.pdf")
    client = app.test_client()

    with tasks.running_worker(app, hooks=True):
        # The worker's first look records the files as they are: nothing needs building.
        wait_for(lambda: tasks.queue_for(app).read("builds:snapshot"))
        tasks.wait_idle(app)
        first_look = {job.id for job in tasks.queue_for(app).jobs()}
        assert first_look == set()  # the first look only records what is there
        source = tmp_path / "content" / "mini" / "01-first" / "en.md"
        source.write_text(
            MODULE_EN.replace("One question about channels.", "A harder question."),
            encoding="utf-8",
        )
        # Meanwhile: the old section audio and the old PDF, each marked as being updated.
        wait_for(lambda: len(tasks.queue_for(app).jobs()) > len(first_look))
        page = client.get("/en/mini/first/").get_data(as_text=True)
        assert "data-audio-stale" in page or keys(app) != before  # the rebuild may be done
        response = client.get("/en/mini/first.pdf")
        assert response.status_code == 200
        response.close()
        tasks.wait_idle(app, timeout=120)

    jobs = {job.label: job for job in tasks.queue_for(app).jobs() if job.id not in first_look}
    assert {job.state for job in jobs.values()} == {"done"}
    assert set(jobs) == {
        "audio mini/en/first",
        "course audio mini/en",
        "PDF mini/en/first",
        "PDF mini/en (course)",
    }
    after = keys(app)
    assert [k for k in after if after[k] != before[k]] == ["quiz"]  # only the edited section
    page = client.get("/en/mini/first/").get_data(as_text=True)
    assert "data-audio-stale" not in page and "data-pdf-updating" not in page
    [new_pdf] = (media / "pdf" / "mini").glob("first.en.*.pdf")
    assert new_pdf != old_pdf and not old_pdf.exists()
    assert "A harder question." in " ".join(pdf_pages_text(new_pdf))
    # The Italian version did not change: its audio and PDF were left alone.
    assert len(list((media / "pdf" / "mini").glob("first.it.*.pdf"))) == 1


@pytest.mark.pdf
def test_while_a_pdf_is_rebuilt_the_previous_one_is_served(tmp_path: Path) -> None:
    # The site's address is part of a PDF (quiz links): the worker and the page must agree.
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng", BASE_URL="http://localhost/")
    client = app.test_client()
    first = client.get("/en/mini/first.pdf")  # never built: rendered once, in the request
    first_data = first.get_data()
    first.close()
    assert first.status_code == 200 and "X-Academy-Updating" not in first.headers
    source = tmp_path / "content" / "mini" / "01-first" / "en.md"
    source.write_text(MODULE_EN.replace("First steps", "Early steps"), encoding="utf-8")
    stale = client.get("/en/mini/first.pdf")  # no worker running: the old file, a job queued
    stale_data = stale.get_data()
    stale.close()
    assert stale.status_code == 200 and stale.headers["X-Academy-Updating"] == "1"
    assert stale_data == first_data
    page = client.get("/en/mini/first/").get_data(as_text=True)
    assert "data-pdf-updating" in page
    with tasks.running_worker(app):
        tasks.wait_idle(app, timeout=60)
    assert {job.state for job in tasks.queue_for(app).jobs()} == {"done"}
    fresh = client.get("/en/mini/first.pdf")
    fresh_data = fresh.get_data()
    fresh.close()
    assert "X-Academy-Updating" not in fresh.headers and fresh_data != first_data
    (tmp_path / "fresh.pdf").write_bytes(fresh_data)
    assert "Early steps" in " ".join(pdf_pages_text(tmp_path / "fresh.pdf"))


@pytest.mark.pdf
def test_a_download_racing_the_rebuild_gets_the_new_pdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The queue worker finishes the rebuild, and removes the old file, between the request
    # finding the old PDF and opening it: the learner gets the new one, not a 500.
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng", BASE_URL="http://localhost/")
    client = app.test_client()
    client.get("/en/mini/first.pdf").close()
    source = tmp_path / "content" / "mini" / "01-first" / "en.md"
    source.write_text(MODULE_EN.replace("First steps", "Early steps"), encoding="utf-8")
    real_send = pdf_views.send_artefact
    opened: list[Path] = []

    def rebuild_then_send(path: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not opened:  # the first lookup found the old file; the rebuild it queued runs now
            with tasks.running_worker(app):
                tasks.wait_idle(app, timeout=60)
        opened.append(path)
        return real_send(path, *args, **kwargs)

    monkeypatch.setattr(pdf_views, "send_artefact", rebuild_then_send)
    response = client.get("/en/mini/first.pdf")
    data = response.get_data()
    response.close()
    assert response.status_code == 200 and "X-Academy-Updating" not in response.headers
    assert len(opened) == 2 and not opened[0].exists() and opened[1].exists()
    (tmp_path / "got.pdf").write_bytes(data)
    assert "Early steps" in " ".join(pdf_pages_text(tmp_path / "got.pdf"))


@pytest.mark.audio
def test_gtts_unreachable_gives_fallback_audio_then_retries_until_it_answers(
    tmp_path: Path,
    fake: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(GttsEngine, "THROTTLE", 0.0)  # the fake endpoint does not rate-limit
    app = audio_app(
        tmp_path, TTS_ENGINES="gtts,espeak-ng", TTS_GTTS_URL=fake, QUEUE_RETRY_FACTOR=0.05
    )
    FakeGoogle.mode = "429"  # Google refuses: the engine is down for this build
    with app.app_context():
        job_id = rebuild_audio.enqueue("mini", "en", "first")
    queue = tasks.queue_for(app)
    with tasks.running_worker(app):
        wait_for(lambda: queue.job(job_id).state == "retrying")
        job = queue.job(job_id)
        assert "first engine unreachable" in job.error
        # Learners already have audio, in the fallback voice.
        engines = {c["engine"] for c in manifest(app)["chapters"]}
        assert engines == {"espeak-ng"}
        FakeGoogle.mode = "ok"  # the network is back: the next retry gets gTTS
        wait_for(lambda: queue.job(job_id).state == "done")
    job = queue.job(job_id)
    assert job.attempts >= 2
    assert {c["engine"] for c in manifest(app)["chapters"]} == {"gtts"}
    store = Store(app.config["MEDIA_DIR"])
    assert all(store.has_section(c["key"]) for c in manifest(app)["chapters"])


def test_changed_versions_are_new_or_edited_modules_only(tmp_path: Path) -> None:
    app = audio_app(tmp_path)
    root = Path(app.config["CONTENT_DIR"])
    before = snapshot(load_catalogue(root))
    assert sorted(before) == ["mini/en/first", "mini/it/first"]
    assert changed_versions({}, before) == [("mini", "en", "first"), ("mini", "it", "first")]
    assert changed_versions(before, before) == []
    source = root / "mini" / "01-first" / "it.md"
    source.write_text(source.read_text().replace("Primi passi", "Passi"), encoding="utf-8")
    assert changed_versions(before, snapshot(load_catalogue(root))) == [("mini", "it", "first")]
    # A course-wide change (the lexicon shapes every narration) touches every version.
    course = root / "mini" / "course.yml"
    course.write_text(course.read_text().replace("for example", "for instance"), encoding="utf-8")
    assert len(changed_versions(before, snapshot(load_catalogue(root)))) == 2


@pytest.fixture(autouse=True)
def _reset_fake() -> None:
    FakeGoogle.mode = "ok"
