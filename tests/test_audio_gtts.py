"""The gTTS adapter against a local fake of Google's endpoint (the tests never use the network)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.audio import engines, mp3
from app.audio.build import build_audio
from app.audio.engines import EngineError, EspeakEngine, GttsEngine
from tests.test_audio import audio_app, closed_port_url

pytestmark = pytest.mark.audio

PATH = "/_/TranslateWebserverUi/data/batchexecute"


def speech_mp3() -> bytes:
    """A real MP3 of speech, as Google would send back."""
    return mp3.encode(EspeakEngine().synthesize("Hello from the fake endpoint.", "en"))


class FakeGoogle(BaseHTTPRequestHandler):
    """Answers like translate.google.com's batchexecute, or fails as told."""

    mode = "ok"
    audio = b""
    requests: list[dict[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length", 0))
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        rpc = json.loads(form["f.req"][0])
        text = json.loads(rpc[0][0][1])[0]
        FakeGoogle.requests.append({"path": self.path, "text": text})
        if self.mode == "slow":
            time.sleep(1.5)
        if self.mode == "429":
            self.send_response(429, "Too Many Requests")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        if self.mode == "changed":
            self.wfile.write(b')]}\'\n\n[["wrb.fr","jQ1olc",null]]\n')
            return
        payload = base64.b64encode(self.audio).decode("ascii")
        self.wfile.write(f')]}}\'\n\n[["wrb.fr","jQ1olc","[\\"{payload}\\"]",null]]\n'.encode())

    def log_message(self, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    """The fake endpoint on a loopback port, in a thread."""
    FakeGoogle.audio = speech_mp3()
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeGoogle)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{PATH}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def reset() -> None:
    FakeGoogle.mode = "ok"
    FakeGoogle.requests = []


def test_gtts_speaks_through_the_endpoint(fake: str) -> None:
    pcm = GttsEngine(url=fake).synthesize("Hello there.", "en")
    assert pcm.rate == engines.RATE and pcm.seconds > 0.5
    assert FakeGoogle.requests == [{"path": PATH, "text": "Hello there."}]


def test_gtts_rate_limit_is_a_clear_error(fake: str) -> None:
    FakeGoogle.mode = "429"
    with pytest.raises(EngineError) as error:
        GttsEngine(url=fake).synthesize("Hello.", "en")
    assert "HTTP 429 Too Many Requests: rate-limited" in str(error.value)
    assert error.value.down  # no point asking again in this build


def test_gtts_upstream_change_is_a_clear_error(fake: str) -> None:
    FakeGoogle.mode = "changed"
    with pytest.raises(EngineError) as error:
        GttsEngine(url=fake).synthesize("Hello.", "en")
    assert "upstream API changed?" in str(error.value)


def test_gtts_timeout_is_explicit(fake: str) -> None:
    FakeGoogle.mode = "slow"
    engine = GttsEngine(url=fake)
    engine.TIMEOUT = (0.5, 0.3)
    with pytest.raises(EngineError) as error:
        engine.synthesize("Hello.", "en")
    assert "no answer from" in str(error.value) and "within 0.3 s" in str(error.value)


def test_gtts_without_network_is_a_clear_error() -> None:
    with pytest.raises(EngineError) as error:
        GttsEngine(url=closed_port_url()).synthesize("Hello.", "en")
    assert str(error.value).startswith("gtts: no network: could not reach")
    assert error.value.down


def test_gtts_waits_between_requests(fake: str, monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []
    monkeypatch.setattr(engines.time, "sleep", waits.append)
    engine = GttsEngine(url=fake)
    engine.synthesize("One.", "en")
    engine.synthesize("Two.", "en")
    assert waits and 0 < waits[-1] <= GttsEngine.THROTTLE


def test_build_with_gtts_first_uses_it_when_it_answers(
    fake: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GttsEngine, "THROTTLE", 0.0)  # a local fake cannot rate-limit us
    app = audio_app(tmp_path, TTS_GTTS_URL=fake)
    report = build_audio(app, echo=lambda line: None, workers=1)
    assert report.ok and {s.engine for s in report.built} == {"gtts"}
    assert not any(s.reason for s in report.built)
    # One request per sentence: the read-along needs each sentence's own start and end.
    spoken = [r["text"] for r in FakeGoogle.requests]
    assert "A channel is a way to talk, for example a shop." in spoken
