"""A module's transcript: the words its audio speaks, chapter by chapter, in paragraphs.

Made from the same narration the audio build speaks (`module_chapters`), in the form the page
shows (`display`), so a learner who cannot or does not want to listen reads exactly what the
recording says. Pure functions: no Flask, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.audio.narration import PAUSE_BLOCK, Chapter


@dataclass(frozen=True)
class TranscriptChapter:
    """One chapter of the transcript."""

    id: str
    title: str
    paragraphs: tuple[str, ...]
    start: float | None = None  # seconds into the whole-module audio, when it exists


def transcript(
    chapters: Sequence[Chapter], durations: Sequence[float] | None = None
) -> tuple[TranscriptChapter, ...]:
    """The chapters as paragraphs; with the chapters' durations, each one's start time.

    A chapter's first sentence is its spoken title; a paragraph ends where the narration makes
    a block's pause (end of a paragraph, list item, table row).
    """
    out: list[TranscriptChapter] = []
    position = 0.0
    for i, chapter in enumerate(chapters):
        paragraphs: list[str] = []
        current: list[str] = []
        for sentence in chapter.sentences[1:]:
            current.append(sentence.display)
            if sentence.pause >= PAUSE_BLOCK:
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        start = position if durations is not None else None
        if durations is not None:
            position += durations[i]
        out.append(TranscriptChapter(chapter.id, chapter.title, tuple(paragraphs), start))
    return tuple(out)


def clock(seconds: float) -> str:
    """`m:ss`, or `h:mm:ss` past an hour."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def plain_text(header: Sequence[str], chapters: Sequence[TranscriptChapter]) -> str:
    """The transcript as a text file: the header lines, then each chapter (time, title, text)."""
    lines = [*header, ""]
    for chapter in chapters:
        stamp = f"[{clock(chapter.start)}] " if chapter.start is not None else ""
        title = f"{stamp}{chapter.title}"
        lines += ["", title, "=" * len(title), ""]
        for paragraph in chapter.paragraphs:
            lines += [paragraph, ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def module_audio_link(base_url: str, lang: str, course_id: str, module_id: str) -> str:
    """The module's MP3 at its lasting address (no version: it follows rebuilds)."""
    return f"{base_url}{lang}/{course_id}/{module_id}.mp3"


def transcript_link(base_url: str, lang: str, course_id: str, module_id: str) -> str:
    """The module's transcript page at its lasting address."""
    return f"{base_url}{lang}/{course_id}/{module_id}/transcript"
