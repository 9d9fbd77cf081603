"""Captions and transcripts: a WebVTT track on every audio, a transcript to read and download.

On the sampler course with its audio really built by espeak-ng: the captions files parse as
WebVTT and their cues lie inside the decoded MP3s (miniaudio), the whole-module captions follow
the module file's ID3 chapters, Chromium loads the tracks' cues, and the transcript and the PDF
say where the audio is.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import miniaudio
import pytest
from flask import Flask
from mutagen.id3 import ID3

from app.audio.store import Store
from tests.browser import chromium
from tests.pdf_tools import flat, pdf_pages_text

MODULE = "/{lang}/sampler/every-block/"
LANGUAGES = ["en", "it"]
CUE_TIMING = re.compile(
    r"^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3}) --> (?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$"
)


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """WebVTT as the spec reads it: signature, blank line, blocks of id, timing, payload."""
    assert text.startswith("WEBVTT\n\n"), text[:40]
    cues: list[tuple[float, float, str]] = []
    for block in text.split("\n\n")[1:]:
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        timing = next(i for i, line in enumerate(lines) if "-->" in line)
        assert timing <= 1, f"a cue has more than an id before its timing: {block!r}"
        found = CUE_TIMING.match(lines[timing])
        assert found, lines[timing]
        h1, m1, s1, ms1, h2, m2, s2, ms2 = (int(g or 0) for g in found.groups())
        start = h1 * 3600 + m1 * 60 + s1 + ms1 / 1000
        end = h2 * 3600 + m2 * 60 + s2 + ms2 / 1000
        payload = " ".join(lines[timing + 1 :])
        assert payload and "-->" not in payload
        cues.append((start, end, payload))
    return cues


def decoded_seconds(data: bytes) -> float:
    """How long an MP3 plays, decoded for real."""
    decoded = miniaudio.decode(data, nchannels=1, sample_rate=22050)
    return decoded.num_frames / decoded.sample_rate


def manifest(app: Flask, lang: str) -> dict[str, Any]:
    """The sampler module's audio manifest."""
    return Store(app.config["MEDIA_DIR"]).read_manifest("sampler", lang, "every-block")


def versioned(html: str, pattern: str) -> str:
    """The first URL in a page matching a pattern (with its ?v= version)."""
    found = re.search(pattern, html)
    assert found, pattern
    return found.group(0).replace("&amp;", "&")


@pytest.mark.audio  # on the sampler's audio, synthesised by espeak-ng and encoded to MP3
@pytest.mark.parametrize("lang", LANGUAGES)
def test_section_and_module_captions_lie_inside_the_decoded_audio(
    sampler: tuple[Flask, str], lang: str
) -> None:
    app, _url = sampler
    client = app.test_client()
    page = client.get(MODULE.format(lang=lang)).get_data(as_text=True)
    data = manifest(app, lang)
    # Section captions: the player's track starts on the first chapter's VTT.
    track = re.search(r'<track kind="captions" srclang="(\w+)"[^>]*src="([^"]+)"', page, re.S)
    assert track and track.group(1) == lang
    first = data["chapters"][0]
    assert f"/audio/{first['id']}.vtt?v=" in track.group(2)
    for chapter in data["chapters"]:
        base = f"/{lang}/sampler/every-block/audio/{chapter['id']}"
        cues = parse_vtt(client.get(base + ".vtt").get_data(as_text=True))
        seconds = decoded_seconds(client.get(base + ".mp3").data)
        assert cues and cues[0][0] >= 0
        for (start, end, _text), following in zip(cues, [*cues[1:], None], strict=True):
            assert start < end <= seconds + 0.01
            if following:
                assert end <= following[0]
        assert seconds - cues[-1][1] < 1.5  # the last words end the file, less a final pause

    # Whole-module captions: every section's cues, shifted to where its chapter starts.
    response = client.get(f"/{lang}/sampler/every-block.vtt")
    assert response.status_code == 200 and response.mimetype == "text/vtt"
    cues = parse_vtt(response.get_data(as_text=True))
    mp3 = client.get(f"/{lang}/sampler/every-block.mp3").data
    seconds = decoded_seconds(mp3)
    assert cues[-1][1] <= seconds + 0.01 and seconds - cues[-1][1] < 1.5
    path = Store(app.config["MEDIA_DIR"]).module_path(data["whole"]["key"])
    chapters = sorted(ID3(path).getall("CHAP"), key=lambda c: c.start_time)
    store = Store(app.config["MEDIA_DIR"])
    expected = sum(len(store.read_timings(c["key"])["sentences"]) for c in data["chapters"])
    assert len(cues) == expected
    at = 0
    for chap in chapters:
        sentences = store.read_timings(
            next(c["key"] for c in data["chapters"] if c["id"] == chap.element_id)
        )["sentences"]
        mine = cues[at : at + len(sentences)]
        at += len(sentences)
        # Each chapter's cues fall inside that chapter of the file, and say its sentences.
        assert chap.start_time / 1000 - 0.01 <= mine[0][0]
        assert mine[-1][1] <= chap.end_time / 1000 + 0.01
        assert [text for _s, _e, text in mine][0] == sentences[0]["display"]


@pytest.mark.audio  # the transcript of the sampler's synthesised audio, timed from its files
@pytest.mark.parametrize("lang", LANGUAGES)
def test_transcript_is_the_narration_with_where_the_audio_is(
    sampler: tuple[Flask, str], lang: str
) -> None:
    app, _url = sampler
    client = app.test_client()
    module_page = client.get(MODULE.format(lang=lang)).get_data(as_text=True)
    assert f'href="/{lang}/sampler/every-block/transcript"' in module_page

    response = client.get(f"/{lang}/sampler/every-block/transcript.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    text = response.get_data(as_text=True)
    audio_at = f"http://localhost/{lang}/sampler/every-block.mp3"
    assert audio_at in text
    assert f"http://localhost/{lang}/sampler/every-block/transcript" in text
    # Every sentence the audio speaks is in the transcript, in order, as the page shows it.
    store = Store(app.config["MEDIA_DIR"])
    position = 0
    for chapter in manifest(app, lang)["chapters"]:
        for sentence in store.read_timings(chapter["key"])["sentences"][1:]:
            found = text.find(sentence["display"], position)
            assert found >= 0, sentence["display"]
            position = found
    # Chapter headings carry their start time in the module file: the first at 0:00.
    assert re.search(r"^\[0:00\] ", text, re.M)
    assert len(re.findall(r"^\[\d+:\d\d\] ", text, re.M)) == len(manifest(app, lang)["chapters"])

    page = client.get(f"/{lang}/sampler/every-block/transcript").get_data(as_text=True)
    assert audio_at in page
    assert re.search(r'<track kind="captions" srclang="' + lang + r'"[^>]*every-block\.vtt', page)
    assert f'href="/{lang}/sampler/every-block/transcript.txt"' in page


def test_transcript_of_a_module_without_audio_says_so(tmp_path: Path) -> None:
    from tests.conftest import make_app
    from tests.sampler import SAMPLER

    app = make_app(tmp_path, SAMPLER)  # nothing built
    client = app.test_client()
    text = client.get("/en/sampler/every-block/transcript.txt").get_data(as_text=True)
    assert "The audio version of this module is not ready yet." in text
    assert not re.search(r"^\[\d+:\d\d\] ", text, re.M)  # no times without a file to time
    assert client.get("/en/sampler/every-block.vtt").status_code == 404
    page = client.get("/it/sampler/every-block/transcript").get_data(as_text=True)
    assert "<audio" not in page and "La versione audio di questo modulo" in page


@pytest.mark.audio
@pytest.mark.pdf  # renders the module's PDF with WeasyPrint, beside its synthesised audio
def test_pdf_says_where_the_audio_and_transcript_are(sampler: tuple[Flask, str]) -> None:
    app, _url = sampler
    response = app.test_client().get("/it/sampler/every-block.pdf")
    assert response.status_code == 200
    path = Path(app.config["MEDIA_DIR"]).parent / "every-block-it.pdf"
    path.write_bytes(response.data)
    text = flat(" ".join(pdf_pages_text(path)))
    assert "Versione audio di questo modulo (MP3 con capitoli):" in text
    assert "http://localhost/it/sampler/every-block.mp3" in text.replace(" ", "")
    assert "http://localhost/it/sampler/every-block/transcript" in text.replace(" ", "")


@pytest.mark.browser
@pytest.mark.parametrize("lang", LANGUAGES)
def test_chromium_loads_the_captions_of_the_section_playing_and_of_the_module(
    sampler: tuple[Flask, str], lang: str
) -> None:
    app, url = sampler
    with chromium("--autoplay-policy=no-user-gesture-required") as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=url)
        page = context.new_page()
        page.goto(MODULE.format(lang=lang))
        cues_of_track = """() => {
            const track = document.querySelector('audio[data-audio]').textTracks[0];
            return track && track.cues && track.cues.length
              ? { kind: track.kind, language: track.language, mode: track.mode,
                  first: track.cues[0].text, count: track.cues.length }
              : null;
        }"""
        page.wait_for_function(cues_of_track, timeout=30_000)
        store = Store(app.config["MEDIA_DIR"])
        chapters = manifest(app, lang)["chapters"]
        shown = page.evaluate(cues_of_track)
        first = store.read_timings(chapters[0]["key"])["sentences"]
        assert shown == {
            "kind": "captions",
            "language": lang,
            "mode": "showing",
            "first": first[0]["display"],
            "count": len(first),
        }
        # Next section: the track now holds that section's cues.
        page.locator("[data-audio-next]").click()
        second = store.read_timings(chapters[1]["key"])["sentences"]
        page.wait_for_function(
            f"() => {{ const t = document.querySelector('audio[data-audio]').textTracks[0];"
            f" return t && t.cues && t.cues.length === {len(second)}"
            f" && t.cues[0].text === {second[0]['display']!r}; }}",
            timeout=30_000,
        )
        assert page.evaluate("document.querySelectorAll('audio[data-audio] track').length") == 1

        # The transcript page's whole-module audio carries the module's captions.
        page.goto(f"/{lang}/sampler/every-block/transcript")
        count = sum(len(store.read_timings(c["key"])["sentences"]) for c in chapters)
        page.wait_for_function(
            "(n) => { const t = document.querySelector('[data-transcript-audio]').textTracks[0];"
            " return t && t.cues && t.cues.length === n; }",
            arg=count,
            timeout=30_000,
        )
        context.close()
