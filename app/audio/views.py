"""Serve the built audio (MP3 per section and per module, WebVTT) and feed the player panel.

A URL's ids are looked up in the catalogue, then in the module's manifest; only the artefact
key found there (a hex digest) becomes a path. Files are sent with Range support (206), an
ETag, and a year of caching when the URL carries the artefact's version (`?v=`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, abort, current_app, request, send_file, url_for
from flask.typing import ResponseReturnValue

from app.audio.narration import Chapter, module_chapters
from app.audio.store import Store
from app.content.model import Course, Module
from app.web import module_or_404

bp = Blueprint("audio", __name__)

YEAR = 365 * 24 * 3600


@dataclass(frozen=True)
class ChapterAudio:
    """One chapter as the player sees it."""

    id: str
    title: str
    key: str  # empty when there is no audio for this chapter at all
    duration: float
    engine: str
    stale: bool = False  # built for an earlier text: served until the rebuild replaces it

    @property
    def available(self) -> bool:
        """Whether this chapter can be played."""
        return bool(self.key)


@dataclass(frozen=True)
class ModuleAudio:
    """A module's audio: its chapters and the whole-module file."""

    chapters: tuple[ChapterAudio, ...]
    whole_key: str = ""
    whole_duration: float = 0.0
    whole_stale: bool = False

    @property
    def available(self) -> bool:
        """Whether any chapter can be played."""
        return any(c.available for c in self.chapters)

    @property
    def updating(self) -> bool:
        """Whether some of this audio is from before the last edit (a rebuild will replace it)."""
        return self.whole_stale or any(c.stale for c in self.chapters)

    def chapter(self, chapter_id: str) -> ChapterAudio | None:
        """Find a chapter by id."""
        return next((c for c in self.chapters if c.id == chapter_id), None)


def _store() -> Store:
    return Store(current_app.config["MEDIA_DIR"])


def _chapters(course: Course, module: Module) -> tuple[Chapter, ...]:
    """A module's narration, cached by its file's hash and the course lexicon."""
    cache: dict[tuple[str, ...], tuple[Chapter, ...]] = current_app.extensions.setdefault(
        "academy.audio.chapters", {}
    )
    lexicon = json.dumps(course.lexicon.get(module.language, {}), sort_keys=True)
    key = (course.id, module.language, module.id, module.content_hash, lexicon)
    if key not in cache:
        if len(cache) > 512:  # old versions of edited modules: drop them all, rebuild lazily
            cache.clear()
        cache[key] = module_chapters(course, module)
    return cache[key]


def module_audio(course: Course, module: Module) -> ModuleAudio:
    """What audio exists for the module: current artefacts, else the previous ones (stale).

    After an edit the manifest still names the audio of the earlier text until the queue's
    rebuild replaces it; learners keep hearing it, marked as being updated, never a 404.
    """
    store = _store()
    manifest = store.read_manifest(course.id, module.language, module.id)
    built = {c.get("id"): c for c in manifest.get("chapters", []) if isinstance(c, dict)}
    chapters = []
    for chapter in _chapters(course, module):
        entry = built.get(chapter.id) or {}
        key = str(entry.get("key") or "")
        try:
            present = bool(key) and store.has_section(key)
        except ValueError:
            present = False
        chapters.append(
            ChapterAudio(
                id=chapter.id,
                title=chapter.title,
                key=key if present else "",
                duration=float(entry.get("duration") or 0.0) if present else 0.0,
                engine=str(entry.get("engine") or "") if present else "",
                stale=present and entry.get("digest") != chapter.digest,
            )
        )
    whole = manifest.get("whole") or {}
    whole_key = str(whole.get("key") or "")
    try:
        whole_ok = bool(whole_key) and store.module_path(whole_key).is_file()
    except ValueError:
        whole_ok = False
    stale = bool(whole.get("stale")) or any(c.stale for c in chapters)
    return ModuleAudio(
        chapters=tuple(chapters),
        whole_key=whole_key if whole_ok else "",
        whole_duration=float(whole.get("duration") or 0.0) if whole_ok else 0.0,
        whole_stale=whole_ok and stale,
    )


@bp.app_template_global("audio_for")
def audio_for(course: Course, module: Module) -> ModuleAudio:
    """The module's audio, for the player panel."""
    return module_audio(course, module)


def _send(path: Path, mimetype: str, version: str, name: str) -> ResponseReturnValue:
    """Send an artefact: ranges, ETag, and long caching only for a versioned URL."""
    if not path.is_file():
        abort(404)
    response = send_file(
        path,
        mimetype=mimetype,
        conditional=True,
        etag=True,
        download_name=name,
        max_age=0,
    )
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
    path = _store().section_path(chapter.key, ".mp3")
    return _send(path, "audio/mpeg", version_of(chapter.key), f"{module.id}-{chapter.id}.mp3")


@bp.get("/<lang:lang>/<course_id>/<module_id>/audio/<section_id>.vtt")
def section_vtt(lang: str, course_id: str, module_id: str, section_id: str) -> ResponseReturnValue:
    """One section's WebVTT captions (one cue per sentence)."""
    module, chapter = _chapter_or_404(lang, course_id, module_id, section_id)
    path = _store().section_path(chapter.key, ".vtt")
    return _send(path, "text/vtt", version_of(chapter.key), f"{module.id}-{chapter.id}.vtt")


@bp.get("/<lang:lang>/<course_id>/<module_id>.mp3")
def module_mp3(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The whole module as one MP3 with ID3 chapters."""
    course, module = module_or_404(lang, course_id, module_id)
    audio = module_audio(course, module)
    if not audio.whole_key:
        abort(404)
    path = _store().module_path(audio.whole_key)
    return _send(path, "audio/mpeg", version_of(audio.whole_key), f"{module.id}.mp3")


@bp.app_template_global("audio_url")
def audio_url(
    kind: str, lang: str, course: Course, module: Module, key: str, section: str = ""
) -> str:
    """A versioned URL for a section's mp3/vtt or the module's mp3."""
    version = version_of(key)
    if kind == "module":
        return url_for(
            "audio.module_mp3", lang=lang, course_id=course.id, module_id=module.id, v=version
        )
    endpoint = "audio.section_mp3" if kind == "mp3" else "audio.section_vtt"
    return url_for(
        endpoint, lang=lang, course_id=course.id, module_id=module.id, section_id=section, v=version
    )


@bp.app_template_global("audio_progress_url")
def audio_progress_url(lang: str, course: Course, module: Module) -> str:
    """Where the player reports listening, if the progress service is installed."""
    if "progress.beacon" not in current_app.view_functions:
        return ""
    return url_for("progress.beacon", lang=lang, course_id=course.id, module_id=module.id)
