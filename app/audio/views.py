"""Serve the built audio (MP3 per section, module and course, WebVTT) and feed the player panel.

A URL's ids are looked up in the catalogue, then in the module's manifest; only the artefact
key found there (a hex digest) becomes a path. Files are sent with Range support (206), an
ETag, and a year of caching when the URL carries the artefact's version (`?v=`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from app.audio.artefacts import (
    ChapterAudio,
    CourseAudio,
    ModuleAudio,
    course_audio,
    module_audio,
    narration,
    store,
)
from app.audio.course_panel import course_updating
from app.audio.transcript import (
    TranscriptChapter,
    clock,
    module_audio_link,
    plain_text,
    transcript,
    transcript_link,
)
from app.content.model import Course, Module
from app.web import course_or_404, module_or_404, send_artefact, site_base_url

bp = Blueprint("audio", __name__)

YEAR = 365 * 24 * 3600


def _send(path: Path, mimetype: str, version: str, name: str) -> Response:
    """Send an artefact: ranges, ETag, and long caching only for a versioned URL."""
    if not path.is_file():
        abort(404)
    response = send_artefact(path, mimetype, name)
    if request.args.get("v") == version:
        # The URL names this exact artefact: it can never change.
        response.cache_control.max_age = YEAR
        response.cache_control.public = True
        response.cache_control.immutable = True
        response.cache_control.no_cache = None
    else:
        # Same URL, new audio after an edit: browsers revalidate with the ETag.
        response.cache_control.no_cache = True
    response.headers["Accept-Ranges"] = "bytes"
    return response


def version_of(key: str) -> str:
    """The short artefact version put in URLs (`?v=`)."""
    return key[:16]


def _chapter_or_404(
    lang: str, course_id: str, module_id: str, section_id: str
) -> tuple[Module, ChapterAudio]:
    """A section's built audio, looked up by ids in the catalogue and the manifest."""
    course, module = module_or_404(lang, course_id, module_id)
    chapter = module_audio(course, module).chapter(section_id)
    if chapter is None or not chapter.available:
        abort(404)
    return module, chapter


@bp.get("/<lang:lang>/<course_id>/<module_id>/audio/<section_id>.mp3")
def section_mp3(lang: str, course_id: str, module_id: str, section_id: str) -> ResponseReturnValue:
    """One section's MP3."""
    module, chapter = _chapter_or_404(lang, course_id, module_id, section_id)
    path = store().section_path(chapter.key, ".mp3")
    return _send(path, "audio/mpeg", version_of(chapter.key), f"{module.id}-{chapter.id}.mp3")


@bp.get("/<lang:lang>/<course_id>/<module_id>/audio/<section_id>.vtt")
def section_vtt(lang: str, course_id: str, module_id: str, section_id: str) -> ResponseReturnValue:
    """One section's WebVTT captions (one cue per sentence)."""
    module, chapter = _chapter_or_404(lang, course_id, module_id, section_id)
    path = store().section_path(chapter.key, ".vtt")
    return _send(path, "text/vtt", version_of(chapter.key), f"{module.id}-{chapter.id}.vtt")


@bp.get("/<lang:lang>/<course_id>/<module_id>.mp3")
def module_mp3(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The whole module as one MP3 with ID3 chapters."""
    course, module = module_or_404(lang, course_id, module_id)
    audio = module_audio(course, module)
    if not audio.whole_key:
        abort(404)
    path = store().module_path(audio.whole_key)
    return _send(path, "audio/mpeg", version_of(audio.whole_key), f"{module.id}.mp3")


@bp.get("/<lang:lang>/<course_id>/<module_id>.vtt")
def module_vtt(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The whole module's WebVTT captions, timed on the whole-module MP3."""
    course, module = module_or_404(lang, course_id, module_id)
    audio = module_audio(course, module)
    if not audio.whole_captions:
        abort(404)
    path = store().module_path(audio.whole_key, ".vtt")
    return _send(path, "text/vtt", version_of(audio.whole_key), f"{module.id}.vtt")


def _course_audio_or_404(lang: str, course_id: str) -> tuple[Course, CourseAudio]:
    """A visible course's course file in `lang` (the previous one while it is rebuilt)."""
    course = course_or_404(lang, course_id)
    audio = course_audio(course, lang)
    if not audio.available:
        abort(404)
    return course, audio


def _course_file_name(course: Course, lang: str, suffix: str) -> str:
    return f"{course.id}-{lang}{suffix}"


@bp.get("/<lang:lang>/<course_id>.mp3")
def course_mp3(lang: str, course_id: str) -> ResponseReturnValue:
    """The whole course as one MP3: its visible modules in order, ID3 chapters per section."""
    course, audio = _course_audio_or_404(lang, course_id)
    path = store().course_path(audio.key)
    response = _send(
        path, "audio/mpeg", version_of(audio.key), _course_file_name(course, lang, ".mp3")
    )
    if course_updating(course, lang, audio):
        response.headers["X-Academy-Updating"] = "1"
    return response


@bp.get("/<lang:lang>/<course_id>.vtt")
def course_vtt(lang: str, course_id: str) -> ResponseReturnValue:
    """The whole course's WebVTT captions, timed on the course MP3."""
    course, audio = _course_audio_or_404(lang, course_id)
    if not audio.captions:
        abort(404)
    path = store().course_path(audio.key, ".vtt")
    return _send(path, "text/vtt", version_of(audio.key), _course_file_name(course, lang, ".vtt"))


def _transcript(
    course: Course, module: Module, audio: ModuleAudio
) -> tuple[TranscriptChapter, ...]:
    """The module's transcript; chapter start times when the whole-module file matches it."""
    timed = audio.whole_key and not audio.whole_stale and all(c.available for c in audio.chapters)
    durations = [c.duration for c in audio.chapters] if timed else None
    return transcript(narration(course, module), durations)


@bp.get("/<lang:lang>/<course_id>/<module_id>/transcript")
def transcript_page(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The module's transcript as a page, with the whole-module audio and its captions."""
    course, module = module_or_404(lang, course_id, module_id)
    audio = module_audio(course, module)
    base = site_base_url()
    return render_template(
        "audio/transcript.html",
        course=course,
        module=module,
        lang=lang,
        audio=audio,
        chapters=_transcript(course, module, audio),
        clock=clock,
        audio_link=module_audio_link(base, lang, course.id, module.id),
    )


@bp.get("/<lang:lang>/<course_id>/<module_id>/transcript.txt")
def transcript_txt(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The module's transcript as a plain-text file to download."""
    course, module = module_or_404(lang, course_id, module_id)
    audio = module_audio(course, module)
    base = site_base_url()
    mp3_link = module_audio_link(base, lang, course.id, module.id)
    page_link = transcript_link(base, lang, course.id, module.id)
    header = [
        module.title,
        f"{course.text(course.title, lang)} · {_('Transcript of the audio version')}",
        "",
        _("Audio of this module (MP3 with chapters): %(url)s", url=mp3_link),
        _("This transcript online: %(url)s", url=page_link),
    ]
    if not audio.whole_key:
        header.append(_("The audio version of this module is not ready yet."))
    body = plain_text(header, _transcript(course, module, audio))
    response = Response(body, mimetype="text/plain")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{module.id}-{module.language}-transcript.txt"'
    )
    return response


@bp.app_template_global("audio_url")
def audio_url(
    kind: str, lang: str, course: Course, module: Module, key: str, section: str = ""
) -> str:
    """A versioned URL for a section's mp3/vtt or the module's mp3/vtt."""
    version = version_of(key)
    if kind in ("module", "module-vtt"):
        endpoint = "audio.module_mp3" if kind == "module" else "audio.module_vtt"
        return url_for(endpoint, lang=lang, course_id=course.id, module_id=module.id, v=version)
    endpoint = "audio.section_mp3" if kind == "mp3" else "audio.section_vtt"
    return url_for(
        endpoint, lang=lang, course_id=course.id, module_id=module.id, section_id=section, v=version
    )


@bp.app_template_global("course_audio_url")
def course_audio_url(kind: str, lang: str, course: Course, key: str) -> str:
    """A versioned URL for the course's MP3 (`mp3`) or its captions (`vtt`)."""
    endpoint = "audio.course_mp3" if kind == "mp3" else "audio.course_vtt"
    return url_for(endpoint, lang=lang, course_id=course.id, v=version_of(key))


@bp.app_template_global("audio_progress_url")
def audio_progress_url(lang: str, course: Course, module: Module) -> str:
    """Where the player reports listening, if the progress service is installed."""
    if "progress.beacon" not in current_app.view_functions:
        return ""
    return url_for("progress.beacon", lang=lang, course_id=course.id, module_id=module.id)
