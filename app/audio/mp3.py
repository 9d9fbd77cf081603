"""MP3 helpers: encode PCM (lameenc), count frames, join files, write ID3 tags and chapters.

Every MP3 we make comes from the same encoder settings, so whole-module files are the
section files' frames one after the other (no second lossy encoding) and their chapter times
are the sums of the sections' exact frame durations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.audio.engines import RATE, Pcm

BITRATE = 48  # kbit/s: clear speech at 22.05 kHz mono, about 21 MB per hour
QUALITY = 3  # LAME's algorithm quality, 0 (best, slowest) .. 9: near-best at twice q0's speed
# LAME's delay before the first real sample (encoder 576 + decoder 529 samples): sentence
# times are shifted by it so read-along matches what the listener hears.
ENCODER_DELAY = (576 + 529) / RATE

# MPEG audio frame header tables (ISO 11172-3, 13818-3).
_BITRATES = {
    (1, 3): [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
    (2, 3): [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
}
_RATES = {1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 25: [11025, 12000, 8000]}


def encode(pcm: Pcm) -> bytes:
    """Encode mono PCM to a constant-bitrate MP3 (no WAV is ever written)."""
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(BITRATE)
    encoder.set_in_sample_rate(pcm.rate)
    encoder.set_out_sample_rate(pcm.rate)
    encoder.set_channels(1)
    encoder.set_quality(QUALITY)
    return bytes(encoder.encode(pcm.data) + encoder.flush())


@dataclass(frozen=True)
class Frame:
    """One MPEG audio frame: where it is and how long it plays."""

    offset: int
    length: int
    samples: int
    rate: int


def _skip_id3(data: bytes) -> int:
    """Offset of the first byte after a leading ID3v2 tag."""
    if data[:3] != b"ID3" or len(data) < 10:
        return 0
    size = 0
    for byte in data[6:10]:
        size = (size << 7) | (byte & 0x7F)
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def frames(data: bytes) -> list[Frame]:
    """Every MPEG layer III frame in `data`, skipping ID3 tags around them."""
    out: list[Frame] = []
    pos = _skip_id3(data)
    end = len(data)
    if end >= 128 and data[end - 128 : end - 125] == b"TAG":  # ID3v1 at the end
        end -= 128
    while pos + 4 <= end:
        b1, b2 = data[pos + 1], data[pos + 2]
        if data[pos] != 0xFF or (b1 & 0xE0) != 0xE0:
            pos += 1  # not a frame header: resynchronise
            continue
        version_bits, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
        bitrate_index, rate_index = b2 >> 4, (b2 >> 2) & 3
        if version_bits == 1 or layer_bits != 1 or bitrate_index in (0, 15) or rate_index == 3:
            pos += 1
            continue
        version = {3: 1, 2: 2, 0: 25}[version_bits]
        bitrate = _BITRATES[(1 if version == 1 else 2, 3)][bitrate_index] * 1000
        rate = _RATES[version][rate_index]
        padding = (b2 >> 1) & 1
        samples = 1152 if version == 1 else 576
        length = samples // 8 * bitrate // rate + padding
        if pos + length > end:
            break
        out.append(Frame(pos, length, samples, rate))
        pos += length
    return out


def duration(data: bytes) -> float:
    """Exact playing time of an MP3 in seconds, from its frames."""
    return sum(f.samples / f.rate for f in frames(data))


def audio_frames(data: bytes) -> bytes:
    """The MP3's frames without any tag, ready to be joined to others."""
    found = frames(data)
    if not found:
        return b""
    return data[found[0].offset : found[-1].offset + found[-1].length]


def frames_and_duration(data: bytes) -> tuple[bytes, float]:
    """The MP3's frames without any tag and their playing time, from one pass over the frames."""
    found = frames(data)
    if not found:
        return b"", 0.0
    seconds = sum(f.samples / f.rate for f in found)
    return data[found[0].offset : found[-1].offset + found[-1].length], seconds


def join(parts: Sequence[bytes]) -> bytes:
    """Join MP3 files made with the same settings into one stream."""
    return b"".join(audio_frames(part) for part in parts)


@dataclass(frozen=True)
class ChapterMark:
    """A chapter of a whole-module file, for the ID3 CHAP/CTOC frames."""

    id: str
    title: str
    start: float  # seconds
    end: float


@dataclass(frozen=True)
class ChapterGroup:
    """A level of the table of contents above chapters: a module inside a course file."""

    id: str
    title: str
    chapter_ids: tuple[str, ...]


def write_tags(
    path: Path,
    *,
    title: str,
    album: str,
    artist: str,
    language: str,
    track: str = "",
    chapters: Sequence[ChapterMark] = (),
    groups: Sequence[ChapterGroup] = (),
) -> None:
    """Write ID3v2.4 tags: title, album (course), artist (platform), chapters if any.

    With `groups` the table of contents has two levels (ID3 chapter spec, section 3.2): the
    top-level CTOC lists one CTOC per group, and each of those lists its chapters. Players
    that read the CHAP frames alone still get every chapter, in order, without overlaps.
    """
    from mutagen.id3 import CHAP, CTOC, ID3, TALB, TIT2, TLAN, TPE1, TRCK, CTOCFlags

    tags = ID3()
    tags.add(TIT2(encoding=3, text=title))
    tags.add(TALB(encoding=3, text=album))
    tags.add(TPE1(encoding=3, text=artist))
    tags.add(TLAN(encoding=3, text=language))
    if track:
        tags.add(TRCK(encoding=3, text=track))
    if chapters:
        tags.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=[g.id for g in groups] or [c.id for c in chapters],
                sub_frames=[TIT2(encoding=3, text=title)],
            )
        )
        for group in groups:
            tags.add(
                CTOC(
                    element_id=group.id,
                    flags=CTOCFlags.ORDERED,
                    child_element_ids=list(group.chapter_ids),
                    sub_frames=[TIT2(encoding=3, text=group.title)],
                )
            )
        for chapter in chapters:
            tags.add(
                CHAP(
                    element_id=chapter.id,
                    start_time=int(round(chapter.start * 1000)),
                    end_time=int(round(chapter.end * 1000)),
                    sub_frames=[TIT2(encoding=3, text=chapter.title)],
                )
            )
    tags.save(str(path), v2_version=4)
