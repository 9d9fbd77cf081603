"""Audio versions: narration, real espeak-ng MP3s, tags, chapters, serving, rebuilds, fallback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import threading
import time
from pathlib import Path

import miniaudio
import pytest
from flask import Flask
from mutagen.id3 import ID3

from app.audio import mp3
from app.audio.build import build_audio
from app.audio.narration import apply_lexicon, module_chapters, speakable, split_sentences
from app.audio.store import Store
from app.content.loader import load_catalogue
from tests.conftest import CONTENT, make_app

COURSE_YML = """\
id: mini
default_language: en
languages: [en, it]
title: {en: "Mini course", it: "Corso mini"}
description: {en: "A tiny course.", it: "Un corso minuscolo."}
eqf: 3-5
pass_mark: 70
lexicon:
  en: {CRM: "C R M", "e.g.": "for example"}
  it: {CRM: "ci erre emme"}
"""

MODULE_EN = """\
---
title: First steps
eqf: 3-5
duration: 5
description: A short module.
keywords: [channels]
outcomes:
  - Say what a CRM is
  - Name two channels
---

A short introduction. It has **two** sentences.

## Channels {#channels}

A channel is a way to talk, e.g. a shop. Read [the guide](https://example.com/guide) or https://example.com/raw.

1. the shop;
2. the website.

::: tip
Keep the `CRM` up to date.
:::

| | Shop | Web |
|---|---|---|
| Open | 9-18 | Always |

## Going further {#further}

::: eqf 5 Data
Data flows from one channel to the next.
:::

## Check yourself {#quiz}

One question about channels.

```quiz
1. Is a shop a channel?
   - (x) Yes
   - ( ) No
```
"""

MODULE_IT = (
    MODULE_EN.replace("First steps", "Primi passi")
    .replace("A short introduction. It has **two** sentences.", "Una breve introduzione.")
    .replace("A channel is a way to talk, e.g. a shop.", "Un canale è un modo di parlare.")
)


def write_course(root: Path) -> Path:
    """A small course with one module (en, it): short sections, fast to synthesise."""
    folder = root / "mini"
    (folder / "01-first").mkdir(parents=True)
    (folder / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    (folder / "01-first" / "en.md").write_text(MODULE_EN, encoding="utf-8")
    (folder / "01-first" / "it.md").write_text(MODULE_IT, encoding="utf-8")
    return root


def closed_port_url() -> str:
    """A loopback URL nobody listens on: a real connection failure, without the internet."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/_/TranslateWebserverUi/data/batchexecute"


def audio_app(tmp_path: Path, **extra: object) -> Flask:
    """An app on the small course; gTTS first, pointed at a closed port (no network here)."""
    content = tmp_path / "content"
    if not content.exists():
        write_course(content)
    settings: dict[str, object] = {
        "TTS_ENGINES": "gtts,espeak-ng",
        "TTS_GTTS_URL": closed_port_url(),
    }
    settings.update(extra)
    return make_app(tmp_path, content, **settings)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """The small course built once, on both cores, with gTTS failing first."""
    tmp_path = tmp_path_factory.mktemp("audio")
    app = audio_app(tmp_path)
    lines: list[str] = []
    report = build_audio(app, echo=lines.append, workers=2)
    return app, report, lines


def manifest(app: Flask, lang: str = "en") -> dict:
    return Store(app.config["MEDIA_DIR"]).read_manifest("mini", lang, "first")


def mini_module(app: Flask, lang: str = "en"):
    course = load_catalogue(Path(app.config["CONTENT_DIR"])).courses["mini"]
    return course, course.module("first", lang)[0]


# --- narration ------------------------------------------------------------------------------


def test_narration_reads_like_speech_not_markdown(tmp_path: Path) -> None:
    course = load_catalogue(write_course(tmp_path)).courses["mini"]
    chapters = module_chapters(course, course.module("first", "en")[0])
    assert [c.id for c in chapters] == ["intro", "channels", "further", "quiz"]
    intro, channels, further, quiz = chapters
    spoken = [s.text for s in intro.sentences]
    assert spoken[:3] == [
        "First steps",
        "Learning outcomes.",
        "By the end of this module you will be able to:",
    ]
    assert "Say what a C R M is." in spoken and "Name two channels." in spoken
    assert spoken[-2:] == ["A short introduction.", "It has two sentences."]

    text = " ".join(s.text for c in chapters for s in c.sentences)
    for symbol in ("**", "`", "http", "example.com", "#", "|", "[", "](", ":::"):
        assert symbol not in text
    channel_text = [s.text for s in channels.sentences]
    assert channel_text[0] == "Channels"  # the heading opens the chapter
    assert "A channel is a way to talk, for example a shop." in channel_text
    assert "Read the guide or link." in channel_text
    assert "1. the shop." in channel_text and "2. the website." in channel_text  # a list
    assert "Tip." in channel_text  # callouts are announced
    assert "Keep the C R M up to date." in channel_text
    assert "Table." in channel_text and "Open: Shop: 9-18; Web: Always." in channel_text
    assert [s.text for s in further.sentences][1] == "Going deeper, for EQF level 5: Data."
    # The quiz section narrates its introduction only: the questions are for the quiz page.
    assert [s.text for s in quiz.sentences] == ["Check yourself", "One question about channels."]
    assert channels.lexicon == (("CRM", "C R M"), ("e.g.", "for example"))
    # The display form keeps the page's words, for captions and read-along.
    assert any(s.display == "Keep the CRM up to date." for s in channels.sentences)


def test_sentences_lexicon_and_symbols() -> None:
    assert split_sentences(
        "Use a CRM, e.g. Salesforce. Then stop! Ok? P. C. Verhoef wrote it."
    ) == [
        "Use a CRM, e.g. Salesforce.",
        "Then stop!",
        "Ok?",
        "P. C. Verhoef wrote it.",
    ]
    assert split_sentences("Fine ecc. Poi basta.") == ["Fine ecc. Poi basta."]
    lexicon = {"FAQ": "F A Q", "FAQs": "F A Qs", "ecc.": "eccetera"}
    assert apply_lexicon("FAQs and FAQ, not FAQX.", lexicon) == "F A Qs and F A Q, not FAQX."
    assert apply_lexicon("negozi, app ecc.", lexicon) == "negozi, app eccetera"
    assert speakable("Shop & web → click/collect: www.example.com", "en") == (
        "Shop and web, click or collect: link"
    )
    assert speakable("Negozio & sito «isola»", "it") == "Negozio e sito isola"


def test_digest_changes_only_for_the_edited_chapter(tmp_path: Path) -> None:
    root = write_course(tmp_path)
    before = module_chapters(*_course_module(root))
    path = root / "mini" / "01-first" / "en.md"
    path.write_text(MODULE_EN.replace("Keep the `CRM`", "Always keep the `CRM`"), encoding="utf-8")
    after = module_chapters(*_course_module(root))
    changed = [b.id for b, a in zip(before, after, strict=True) if b.digest != a.digest]
    assert changed == ["channels"]


def _course_module(root: Path):
    course = load_catalogue(root).courses["mini"]
    return course, course.module("first", "en")[0]


# --- the build, on real files ---------------------------------------------------------------


@pytest.mark.audio
def test_build_falls_back_to_espeak_and_says_so(built) -> None:
    app, report, lines = built
    assert report.ok
    assert len(report.built) == 8 and not report.reused and not report.failed  # 4 x (en, it)
    assert all(s.engine == "espeak-ng" for s in report.built)
    assert all(s.reason.startswith("gtts: no network") for s in report.built)
    assert report.modules_built == 2
    summary = "\n".join(lines)
    assert "8 section(s) built, 0 reused, 0 failed (8 by espeak-ng)" in summary
    assert "fallback for 8 section(s): gtts: no network" in summary
    # The progress bar names module, section and engine, with an ETA.
    assert re.search(
        r"\[#+-*\] \d+/8 +\d+% mini/(en|it)/first › \w+ \(espeak-ng\) ETA \d+m\d\ds", summary
    )
    assert [c["engine"] for c in manifest(app)["chapters"]] == ["espeak-ng"] * 4


@pytest.mark.audio
def test_section_mp3s_decode_with_sentence_timings_and_valid_vtt(built) -> None:
    app, _, _ = built
    store = Store(app.config["MEDIA_DIR"])
    for chapter in manifest(app)["chapters"]:
        data = store.section_path(chapter["key"], ".mp3").read_bytes()
        decoded = miniaudio.decode(data, nchannels=1, sample_rate=22050)
        seconds = decoded.num_frames / decoded.sample_rate
        assert seconds > 0.5
        assert seconds == pytest.approx(mp3.duration(data), abs=0.05)
        assert chapter["duration"] == pytest.approx(seconds, abs=0.05)
        tags = ID3(store.section_path(chapter["key"], ".mp3"))
        assert str(tags["TALB"]) == "Mini course" and str(tags["TPE1"]) == "Omnichannel Academy"

        timings = store.read_timings(chapter["key"])
        sentences = timings["sentences"]
        assert sentences and timings["engine"] == "espeak-ng"
        previous_end = 0.0
        for sentence in sentences:
            assert previous_end <= sentence["start"] < sentence["end"] <= seconds
            previous_end = sentence["end"]

        vtt = store.section_path(chapter["key"], ".vtt").read_text(encoding="utf-8")
        assert vtt.startswith("WEBVTT\n\n")
        cues = re.findall(
            r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$", vtt, re.M
        )
        assert len(cues) == len(sentences)
        for cue, sentence in zip(cues, sentences, strict=True):
            h, m, s, ms, h2, m2, s2, ms2 = map(int, cue)
            assert (h * 3600 + m * 60 + s + ms / 1000) == pytest.approx(
                sentence["start"], abs=0.002
            )
            assert (h2 * 3600 + m2 * 60 + s2 + ms2 / 1000) == pytest.approx(
                sentence["end"], abs=0.002
            )
        assert sentences[0]["display"] in vtt


@pytest.mark.audio
def test_whole_module_mp3_has_tags_and_ordered_chapters(built) -> None:
    app, _, _ = built
    data = manifest(app)
    path = Store(app.config["MEDIA_DIR"]).module_path(data["whole"]["key"])
    decoded = miniaudio.decode(path.read_bytes(), nchannels=1, sample_rate=22050)
    seconds = decoded.num_frames / decoded.sample_rate
    assert seconds == pytest.approx(sum(c["duration"] for c in data["chapters"]), abs=0.1)
    tags = ID3(path)
    assert str(tags["TIT2"]) == "First steps"
    assert str(tags["TALB"]) == "Mini course"
    assert str(tags["TPE1"]) == "Omnichannel Academy"
    toc = tags.getall("CTOC")[0]
    assert toc.child_element_ids == ["intro", "channels", "further", "quiz"]
    chapters = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
    assert [c.element_id for c in chapters] == toc.child_element_ids
    assert chapters[0].start_time == 0
    for before, after in zip(chapters, chapters[1:], strict=False):
        assert before.start_time < before.end_time == after.start_time
    assert chapters[-1].end_time / 1000 == pytest.approx(seconds, abs=0.05)
    assert str(chapters[1].sub_frames["TIT2"]) == "Channels"
    italian = ID3(Store(app.config["MEDIA_DIR"]).module_path(manifest(app, "it")["whole"]["key"]))
    assert str(italian["TIT2"]) == "Primi passi" and str(italian["TALB"]) == "Corso mini"


@pytest.mark.audio
def test_second_build_synthesises_nothing(built) -> None:
    app, _, _ = built
    lines: list[str] = []
    report = build_audio(app, echo=lines.append)
    assert report.ok and not report.built and len(report.reused) == 8
    assert report.modules_reused == 2 and report.modules_built == 0
    assert "0 section(s) built, 8 reused" in "\n".join(lines)


@pytest.mark.audio
def test_editing_one_section_resynthesises_only_that_section(tmp_path: Path) -> None:
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng")
    first = build_audio(app, echo=lambda line: None, workers=1)
    old = {c["id"]: c["key"] for c in manifest(app)["chapters"]}
    client = app.test_client()
    url = "/en/mini/first/"
    path = tmp_path / "content" / "mini" / "01-first" / "en.md"
    path.write_text(MODULE_EN.replace("One question", "Just one question"), encoding="utf-8")
    # Before the rebuild learners keep the previous audio, marked as being updated (no 404).
    page = client.get(url).get_data(as_text=True)
    assert page.count("data-audio-stale") == 1 and "data-audio-updating" in page
    assert "no audio for this section yet" not in page
    stale = client.get("/en/mini/first/audio/quiz.mp3")
    assert (
        stale.status_code == 200
        and stale.data
        == Store(app.config["MEDIA_DIR"]).section_path(old["quiz"], ".mp3").read_bytes()
    )
    assert client.get("/en/mini/first.mp3").status_code == 200

    second = build_audio(app, echo=lambda line: None, workers=1)
    assert [(s.language, s.section) for s in second.built] == [("en", "quiz")]
    assert len(second.reused) == len(first.built) - 1
    assert second.modules_built == 1 and second.modules_reused == 1
    new = {c["id"]: c["key"] for c in manifest(app)["chapters"]}
    assert [k for k in new if new[k] != old[k]] == ["quiz"]
    assert client.get("/en/mini/first/audio/quiz.mp3").status_code == 200
    assert "data-audio-stale" not in client.get(url).get_data(as_text=True)


@pytest.mark.audio
def test_a_build_where_every_engine_fails_reports_it_and_exits_non_zero(tmp_path: Path) -> None:
    app = audio_app(tmp_path, TTS_ENGINES="gtts")
    result = app.test_cli_runner().invoke(args=["audio", "build", "--workers", "1"])
    assert result.exit_code == 1
    assert "0 section(s) built, 0 reused, 8 failed" in result.output
    assert "FAILED mini/en/first › channels: gtts: no network" in result.output
    page = app.test_client().get("/en/mini/first/").get_data(as_text=True)
    assert "The audio version of this module is not ready yet." in page
    assert "<audio" not in page

    bad = audio_app(tmp_path, TTS_ENGINES="espeak-ng,festival")
    result = bad.test_cli_runner().invoke(args=["audio", "build"])
    assert result.exit_code == 1 and "unknown TTS engine 'festival'" in result.output


@pytest.mark.audio
def test_cli_build_succeeds(tmp_path: Path) -> None:
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng")
    result = app.test_cli_runner().invoke(args=["audio", "build", "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "8 section(s) built, 0 reused, 0 failed (8 by espeak-ng)" in result.output


# --- serving --------------------------------------------------------------------------------


@pytest.mark.audio
def test_range_requests_etag_and_caching(built) -> None:
    app, _, _ = built
    client = app.test_client()
    page = client.get("/en/mini/first/").get_data(as_text=True)
    src = re.search(r'data-src="([^"]+channels\.mp3\?v=[0-9a-f]+)"', page).group(1)
    whole = client.get(src)
    assert whole.status_code == 200 and whole.mimetype == "audio/mpeg"
    assert "immutable" in whole.headers["Cache-Control"]
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.headers["ETag"]
    body = whole.data

    part = client.get(src, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.data == body[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(body)}"
    tail = client.get(src, headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.data == body[-100:]

    again = client.get(src, headers={"If-None-Match": whole.headers["ETag"]})
    assert again.status_code == 304
    # Without the version the same URL may change after an edit: revalidate every time.
    plain = client.get("/en/mini/first/audio/channels.mp3")
    assert plain.status_code == 200 and "no-cache" in plain.headers["Cache-Control"]

    vtt = client.get("/en/mini/first/audio/channels.vtt")
    assert vtt.status_code == 200 and vtt.mimetype == "text/vtt"
    assert vtt.get_data(as_text=True).startswith("WEBVTT")
    module = client.get("/it/mini/first.mp3")
    assert module.status_code == 200 and module.data[:3] == b"ID3"


@pytest.mark.audio
def test_urls_reach_only_catalogued_artefacts(built) -> None:
    app, _, _ = built
    client = app.test_client()
    for url in (
        "/en/mini/first/audio/nope.mp3",
        "/en/mini/first/audio/..%2F..%2Fsecret.mp3",
        "/en/mini/first/audio/%2e%2e.vtt",
        "/en/mini/nope/audio/intro.mp3",
        "/en/nope/first.mp3",
        "/xx/mini/first.mp3",
        "/en/mini/..%2Fmini.mp3",
    ):
        assert client.get(url).status_code == 404, url


@pytest.mark.audio
def test_player_panel_lists_chapters_and_progress_hooks(built) -> None:
    app, _, _ = built
    client = app.test_client()
    page = client.get("/it/mini/first/").get_data(as_text=True)
    assert "data-audio-player" in page and "<audio" in page
    chapters = re.findall(r'<li data-chapter="([^"]+)" data-src=', page)
    assert chapters == ["intro", "channels", "further", "quiz"]
    assert "Introduzione e risultati d" in page  # the interface speaks Italian
    assert 'href="/it/mini/first.mp3?v=' in page
    if "progress.beacon" in app.view_functions:
        assert 'data-progress-url="/it/mini/first/' in page
    assert "static/js/audio.js" in page


def test_page_without_audio_says_so(client) -> None:
    page = client.get("/en/trial/first-steps/").get_data(as_text=True)
    assert "The audio version of this module is not ready yet." in page
    assert "<audio" not in page


@pytest.mark.audio
def test_one_real_module_builds(tmp_path: Path) -> None:
    content = tmp_path / "content" / "trial"
    content.mkdir(parents=True)
    shutil.copy(CONTENT / "trial" / "course.yml", content)
    module = next(p for p in (CONTENT / "trial").iterdir() if p.name.startswith("01-"))
    (content / module.name).mkdir()
    # The default language only (a missing translation falls back to it): one module, one file.
    shutil.copy(module / "it.md", content / module.name / "it.md")
    app = make_app(tmp_path, tmp_path / "content", TTS_ENGINES="espeak-ng")
    report = build_audio(app, echo=lambda line: None, workers=2)
    assert report.ok and report.modules_built == 1
    course = load_catalogue(tmp_path / "content").courses["trial"]
    real = course.module(course.visible[0].id, "it")[0]
    assert [s.section for s in report.built] == ["intro", *[s.id for s in real.sections]]
    store = Store(app.config["MEDIA_DIR"])
    data = store.read_manifest("trial", "it", real.id)
    # The course lexicon is spoken: "CRM" is read as its Italian letters.
    timings = [store.read_timings(c["key"]) for c in data["chapters"]]
    spoken = " ".join(s["text"] for t in timings for s in t["sentences"])
    assert "ci erre emme" in spoken and "CRM" not in spoken
    assert data["whole"]["duration"] > 60


def _pool_workers() -> list[int]:
    """This process's grandchildren: the build pool's workers (children of the forkserver)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[1])
    children = {pid for pid, parent in parents.items() if parent == os.getpid()}
    return [pid for pid, parent in parents.items() if parent in children]


@pytest.mark.audio
def test_a_worker_process_that_dies_fails_its_sections_not_the_build(tmp_path: Path) -> None:
    """A pool worker killed mid-build: each section it left undone is reported, none lost."""
    app = audio_app(tmp_path, TTS_ENGINES="espeak-ng")
    killed: list[int] = []

    def kill_the_first_worker() -> None:
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for pid in _pool_workers():
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                break
            time.sleep(0.005)

    killer = threading.Thread(target=kill_the_first_worker)
    killer.start()
    lines: list[str] = []
    steps: list[tuple[int, int]] = []
    report = build_audio(
        app, echo=lines.append, progress=lambda s: steps.append((s.done, s.total)), workers=2
    )
    killer.join()
    assert killed, "no pool worker seen"
    assert not report.ok and report.failed
    assert len(report.built) + len(report.failed) == 8
    assert all("worker process died" in s.reason for s in report.failed)
    assert any(line.startswith("  FAILED mini/") for line in lines)
    # The progress bar still counts every section once, up to the total.
    assert steps == [(n, 8) for n in range(1, 9)]

    again = build_audio(app, echo=lambda line: None, workers=2)
    assert again.ok and len(again.built) == len(report.failed)
    assert len(again.reused) == len(report.built)
    assert again.modules_built == 2
