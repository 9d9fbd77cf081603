"""Pure progress rules: how one statement changes a learner's summary of a module.

The same function serves live recording and replay (rebuilding a summary from the statement
log), so the summary is always exactly what the statements imply.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Short verb names stored in the table, with the xAPI verb IRI each stands for.
VERBS: dict[str, str] = {
    "experienced": "http://adlnet.gov/expapi/verbs/experienced",
    "progressed": "http://adlnet.gov/expapi/verbs/progressed",
    "downloaded": "http://id.tincanapi.com/verb/downloaded",
    "attempted": "http://adlnet.gov/expapi/verbs/attempted",
    "passed": "http://adlnet.gov/expapi/verbs/passed",
    "failed": "http://adlnet.gov/expapi/verbs/failed",
    "completed": "http://adlnet.gov/expapi/verbs/completed",
}
CHANNELS = ("web", "audio", "pdf")
# Listening to this share of a section's audio counts as reading it.
AUDIO_READ_SHARE = 0.9
# A word of running text: letters or digits, with inner apostrophes or hyphens ("l'offerta").
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
_TAG = re.compile(r"<[^>]*>")


def words_in(html: str) -> int:
    """How many words a learner reads in a section's rendered HTML (tags not counted)."""
    return len(_WORD.findall(_TAG.sub(" ", html)))


def reading_seconds(words: int, words_per_minute: float, share: float, minimum: float) -> int:
    """Whole seconds a section must stay on screen to count as read.

    The time a reader at `words_per_minute` needs for `words`, of which `share` must pass, and
    never less than `minimum` (a two-line section is still not read at a glance).
    """
    needed = words / words_per_minute * 60.0 * share if words_per_minute > 0 else 0.0
    return math.ceil(max(needed, minimum))


@dataclass
class Summary:
    """A learner's progress in one module, as the statements so far imply."""

    sections_read: list[str] = field(default_factory=list)
    audio_listened: dict[str, float] = field(default_factory=dict)
    best_score: float | None = None
    quiz_passed: bool = False
    completed_at: datetime | None = None
    last_section: str | None = None
    last_audio_section: str | None = None
    last_audio_position: float | None = None
    last_language: str | None = None
    last_activity: datetime | None = None
    statements: int = 0
    pdf_downloads: int = 0


@dataclass(frozen=True)
class Event:
    """The part of a statement the rules read."""

    verb: str
    section_id: str | None
    result: dict[str, Any] | None
    context: dict[str, Any]
    timestamp: datetime


@dataclass(frozen=True)
class ModuleShape:
    """What completing a module asks for, from its current content."""

    sections: tuple[str, ...]  # sections to read (the quiz's own section excluded)
    has_quiz: bool


def _number(value: object) -> float | None:
    """A finite, non-negative float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def apply(summary: Summary, event: Event) -> Summary:
    """Fold one module-level statement into the summary (mutates and returns it)."""
    summary.statements += 1
    summary.last_activity = max(filter(None, (summary.last_activity, event.timestamp)))
    language = event.context.get("language")
    if isinstance(language, str):
        summary.last_language = language
    result = event.result or {}
    section = event.section_id

    if event.verb == "experienced" and section:
        _mark_read(summary, section)
        summary.last_section = section
    elif event.verb == "progressed" and section:
        listened = _number(result.get("listened")) or 0.0
        duration = _number(result.get("duration"))
        position = _number(result.get("position"))
        total = summary.audio_listened.get(section, 0.0) + listened
        if duration:
            total = min(total, duration)
        summary.audio_listened[section] = round(total, 3)
        summary.last_audio_section = section
        summary.last_audio_position = position
        summary.last_section = section
        if duration and total >= AUDIO_READ_SHARE * duration:
            _mark_read(summary, section)
    elif event.verb == "downloaded":
        summary.pdf_downloads += 1
    elif event.verb in ("passed", "failed"):
        score = _number(result.get("score"))
        if score is not None:
            summary.best_score = max(score, summary.best_score or 0.0)
        if event.verb == "passed":
            summary.quiz_passed = True
    elif event.verb == "completed" and summary.completed_at is None:
        summary.completed_at = event.timestamp
    return summary


def _mark_read(summary: Summary, section: str) -> None:
    """Add a section to the read list once."""
    if section not in summary.sections_read:
        summary.sections_read.append(section)


def is_complete(summary: Summary, shape: ModuleShape) -> bool:
    """Every current section read and, if the module has a quiz, the quiz passed."""
    read = set(summary.sections_read)
    return all(s in read for s in shape.sections) and (summary.quiz_passed or not shape.has_quiz)


def replay(events: list[Event]) -> Summary:
    """Rebuild a summary from a module's statements, in the order they were stored."""
    summary = Summary()
    for event in events:
        apply(summary, event)
    return summary
