"""The course page's audio panel: the whole-course MP3, its player, captions and download.

Asked for by the course view; the page cache keys the page by this panel's stamp (the audio
manifests' folders and whether a rebuild of the course file is due), so a rebuilt course file,
or one being queued, shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from app.audio.artefacts import CourseAudio, course_audio
from app.builds import course_audio_key
from app.content.model import Course
from app.pages import Panel
from app.tasks import queue_for
from app.web import folder_stamp


@dataclass(frozen=True)
class CourseAudioPanel:
    """What the course page shows of the course file."""

    audio: CourseAudio
    updating: bool  # older than the modules' audio, or a rebuild is due: the old file meanwhile


def course_updating(course: Course, lang: str, audio: CourseAudio) -> bool:
    """Whether the course file served now is the previous one (a rebuild will replace it)."""
    return audio.available and (
        audio.stale or queue_for(current_app).busy(course_audio_key(course.id, lang))
    )


def course_audio_panel(course: Course, lang: str) -> Panel:
    """The course file's panel, stamped by the manifests' folders and the queue."""
    index = current_app.config["MEDIA_DIR"] / "audio" / "index" / course.id
    busy = queue_for(current_app).busy(course_audio_key(course.id, lang))
    stamp = (
        folder_stamp(index),
        tuple(folder_stamp(index / language) for language in course.languages),
        busy,
    )

    def load() -> CourseAudioPanel:
        audio = course_audio(course, lang)
        return CourseAudioPanel(audio, audio.available and (audio.stale or busy))

    return Panel(stamp=stamp, load=load)
