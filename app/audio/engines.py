"""Speech engines behind one small interface: text in, 16-bit mono PCM out.

- `gtts`: Google Translate's voice through gTTS (needs the network; explicit timeout, a pause
  between requests, and a clear message for each way it fails).
- `espeak-ng`: Debian's espeak-ng, offline, run as a separate process.

Every engine returns PCM at RATE, so sentences from any engine can be timed and joined the
same way, and encoded once to MP3 (app.audio.mp3).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

RATE = 22050  # Hz, mono, 16-bit: espeak-ng's own rate, plenty for speech

KNOWN_ENGINES = ("gtts", "espeak-ng")


@dataclass(frozen=True)
class Pcm:
    """Signed 16-bit little-endian mono samples at `rate` Hz."""

    data: bytes
    rate: int = RATE

    @property
    def samples(self) -> int:
        """How many samples."""
        return len(self.data) // 2

    @property
    def seconds(self) -> float:
        """Length in seconds."""
        return self.samples / self.rate


def silence(seconds: float, rate: int = RATE) -> bytes:
    """PCM silence of a given length."""
    return b"\x00\x00" * int(round(seconds * rate))


class EngineError(Exception):
    """An engine could not speak a text; `down` means it will not work for the rest of a build."""

    def __init__(self, engine: str, message: str, *, down: bool = False) -> None:
        super().__init__(f"{engine}: {message}")
        self.engine = engine
        self.message = message
        self.down = down


class Engine(Protocol):
    """What the build needs from a speech engine."""

    name: str

    def voice(self, language: str) -> str:
        """The voice used for a language (part of every artefact's key)."""
        ...

    def synthesize(self, text: str, language: str) -> Pcm:
        """Speak one sentence; raise EngineError when it cannot."""
        ...


class EspeakEngine:
    """Debian's espeak-ng, run as a subprocess that writes a WAV to stdout."""

    name = "espeak-ng"
    VOICES = {"it": "it", "en": "en-gb", "fr": "fr", "de": "de", "es": "es"}
    WORDS_PER_MINUTE = 160  # a little slower than espeak's 175: easier to follow
    TIMEOUT = 60  # seconds for one sentence; espeak-ng needs a few milliseconds

    def __init__(self, command: str = "espeak-ng") -> None:
        self.command = command

    def voice(self, language: str) -> str:
        """espeak-ng's voice name for a language code."""
        return self.VOICES.get(language, language)

    def synthesize(self, text: str, language: str) -> Pcm:
        """Run espeak-ng on one sentence (text through stdin, so it is never an option)."""
        if shutil.which(self.command) is None:
            raise EngineError(
                self.name, "espeak-ng is not installed (apt-get install espeak-ng)", down=True
            )
        args = [self.command, "-v", self.voice(language), "-s", str(self.WORDS_PER_MINUTE)]
        try:
            result = subprocess.run(
                [*args, "-b", "1", "--stdout"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(self.name, f"no answer within {self.TIMEOUT} s") from exc
        if result.returncode != 0 or not result.stdout:
            detail = result.stderr.decode("utf-8", "replace").strip() or "no audio"
            raise EngineError(self.name, f"exit {result.returncode}: {detail}")
        return wav_to_pcm(result.stdout)


def wav_to_pcm(wav: bytes) -> Pcm:
    """The samples of a 16-bit mono WAV, at RATE.

    espeak-ng writes to a pipe, so its header sizes are not filled in: the data runs to the
    end of the stream rather than to the declared size.
    """
    if wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
        raise EngineError("espeak-ng", "the output is not a WAV file")
    pos, rate, channels, bits = 12, RATE, 1, 16
    while pos + 8 <= len(wav):
        chunk, size = wav[pos : pos + 4], struct.unpack("<I", wav[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", wav[pos + 8 : pos + 24])
        elif chunk == b"data":
            data = wav[pos + 8 :]
            if channels != 1 or bits != 16:
                raise EngineError("espeak-ng", f"unexpected WAV format {channels}ch/{bits}bit")
            data = data[: len(data) // 2 * 2]
            return Pcm(data, rate) if rate == RATE else resample(Pcm(data, rate))
        pos += 8 + size + (size & 1)
    raise EngineError("espeak-ng", "the WAV output has no data")


def resample(pcm: Pcm, rate: int = RATE) -> Pcm:
    """Convert PCM to another sample rate (miniaudio's resampler)."""
    import miniaudio

    converted = miniaudio.convert_frames(
        miniaudio.SampleFormat.SIGNED16,
        1,
        pcm.rate,
        pcm.data,
        miniaudio.SampleFormat.SIGNED16,
        1,
        rate,
    )
    return Pcm(bytes(converted), rate)


def mp3_to_pcm(data: bytes, rate: int = RATE) -> Pcm:
    """Decode MP3 bytes to mono PCM at `rate` (miniaudio's decoder)."""
    import miniaudio

    decoded = miniaudio.decode(
        data,
        output_format=miniaudio.SampleFormat.SIGNED16,
        nchannels=1,
        sample_rate=rate,
    )
    return Pcm(decoded.samples.tobytes(), rate)


class GttsEngine:
    """Google Translate's speech through gTTS: timeout, throttle, clear errors."""

    name = "gtts"
    TIMEOUT = (5.0, 20.0)  # (connect, read) seconds for each request
    THROTTLE = 0.5  # seconds between two requests from this process, not to be rate-limited

    _lock = threading.Lock()
    _last_request = 0.0

    def __init__(self, url: str = "", tld: str = "com") -> None:
        # `url` replaces Google's endpoint (a proxy, or the local fake the tests use).
        self.url = url
        self.tld = tld

    def voice(self, language: str) -> str:
        """gTTS has one voice per language (and Google domain)."""
        return f"{language}@translate.google.{self.tld}"

    def _throttle(self) -> None:
        """Leave THROTTLE seconds between requests made by this process."""
        with GttsEngine._lock:
            wait = GttsEngine._last_request + self.THROTTLE - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            GttsEngine._last_request = time.monotonic()

    def synthesize(self, text: str, language: str) -> Pcm:
        """Ask Google for one sentence and decode its MP3."""
        try:
            from gtts import gTTS, gTTSError
        except ImportError as exc:  # pragma: no cover - gTTS is a dependency
            raise EngineError(self.name, "gTTS is not installed", down=True) from exc

        endpoint = self.url

        class _Client(gTTS):
            """gTTS posting to our endpoint, when one is configured."""

            def _prepare_requests(self):  # type: ignore[no-untyped-def]
                prepared = super()._prepare_requests()
                if endpoint:
                    for request in prepared:
                        request.prepare_url(endpoint, None)
                return prepared

        self._throttle()
        try:
            client = _Client(
                text, lang=language, tld=self.tld, lang_check=False, timeout=self.TIMEOUT
            )
            data = b"".join(client.stream())
        except gTTSError as exc:
            raise self._explain(exc) from exc
        except Exception as exc:  # noqa: BLE001 - an upstream change can raise anything
            raise EngineError(
                self.name, f"unexpected failure ({type(exc).__name__}: {exc}); upstream changed?"
            ) from exc
        if not data:
            raise EngineError(self.name, "the answer held no audio: upstream changed?")
        try:
            return mp3_to_pcm(data)
        except Exception as exc:  # noqa: BLE001 - miniaudio raises its own DecodeError
            raise EngineError(self.name, f"the audio could not be decoded ({exc})") from exc

    def _explain(self, exc: Exception) -> EngineError:
        """A gTTS error as a message that says what happened and what to do."""
        response = getattr(exc, "rsp", None)
        host = self.url or f"translate.google.{self.tld}"
        if response is None:
            cause = exc.__cause__ or exc.__context__
            detail = f" ({type(cause).__name__})" if cause else ""
            import requests

            if isinstance(cause, requests.exceptions.ReadTimeout):
                return EngineError(
                    self.name,
                    f"no answer from {host} within {self.TIMEOUT[1]:g} s (timeout): "
                    "slow network or upstream trouble",
                    down=True,
                )
            return EngineError(
                self.name,
                f"no network: could not reach {host} within {self.TIMEOUT[0]:g}+"
                f"{self.TIMEOUT[1]:g} s{detail}",
                down=True,
            )
        status = response.status_code
        if status == 429:
            return EngineError(
                self.name, "HTTP 429 Too Many Requests: rate-limited, try again later", down=True
            )
        if status in (403, 404) or status == 200:
            return EngineError(
                self.name, f"HTTP {status} from {host}: the upstream API changed?", down=True
            )
        return EngineError(self.name, f"HTTP {status} from {host}: {exc}")


def create_engines(names: Sequence[str], *, gtts_url: str = "") -> list[Engine]:
    """The engines named in `names`, in that order; unknown names are a configuration error."""
    engines: list[Engine] = []
    for name in names:
        if name == "gtts":
            engines.append(GttsEngine(url=gtts_url))
        elif name == "espeak-ng":
            engines.append(EspeakEngine())
        else:
            known = ", ".join(KNOWN_ENGINES)
            raise ValueError(f"unknown TTS engine {name!r} in ACADEMY_TTS_ENGINES (known: {known})")
    if not engines:
        raise ValueError("ACADEMY_TTS_ENGINES names no engine")
    return engines


def engine_names(setting: str | Sequence[str]) -> tuple[str, ...]:
    """Parse the TTS_ENGINES setting ("gtts,espeak-ng") into names."""
    if isinstance(setting, str):
        return tuple(n.strip() for n in setting.split(",") if n.strip())
    return tuple(setting)
