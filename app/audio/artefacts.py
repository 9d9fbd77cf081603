"""Which built audio matches a module's current text: what the player and the routes serve.

Read from the module's manifest in MEDIA_DIR (the app's config), so it sits in the web layer:
the audio routes, the module page's player panel and the studio's status all ask here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask import current_app

from app.audio.narration import Chapter, module_chapters
from app.audio.store import Store
from app.content.model import Course, Module
from app.pages import Panel
from app.web import folder_stamp


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
    whole_captions: bool = False  # the whole-module file's WebVTT exists

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


def store() -> Store:
    """The app's audio artefact store."""
    return Store(current_app.config["MEDIA_DIR"])


def narration(course: Course, module: Module) -> tuple[Chapter, ...]:
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
    artefacts = store()
    manifest = artefacts.read_manifest(course.id, module.language, module.id)
    built = {c.get("id"): c for c in manifest.get("chapters", []) if isinstance(c, dict)}
    chapters = []
    for chapter in narration(course, module):
        entry = built.get(chapter.id) or {}
        key = str(entry.get("key") or "")
        try:
            present = bool(key) and artefacts.has_section(key)
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
        whole_ok = bool(whole_key) and artefacts.module_path(whole_key).is_file()
    except ValueError:
        whole_ok = False
    stale = bool(whole.get("stale")) or any(c.stale for c in chapters)
    return ModuleAudio(
        chapters=tuple(chapters),
        whole_key=whole_key if whole_ok else "",
        whole_duration=float(whole.get("duration") or 0.0) if whole_ok else 0.0,
        whole_stale=whole_ok and stale,
        whole_captions=whole_ok and artefacts.module_path(whole_key, ".vtt").is_file(),
    )


def audio_panel(course: Course, module: Module) -> Panel:
    """The module page's player panel: the audio, stamped by its manifests' folder."""
    index = current_app.config["MEDIA_DIR"] / "audio" / "index" / course.id / module.language
    return Panel(stamp=folder_stamp(index), load=lambda: module_audio(course, module))


# --- the whole course ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseModuleMark:
    """Where one module starts in the course file, and where each of its sections is."""

    id: str
    title: str
    start: float  # seconds
    # (section id, start, end) in the file, for the sections learners' progress counts
    sections: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True)
class CourseAudio:
    """A course's whole-course MP3 in one language, as its page and its route see it."""

    key: str = ""  # empty before the first course file was made
    duration: float = 0.0
    size: int = 0  # bytes
    captions: bool = False  # its WebVTT exists
    stale: bool = False  # made before the last edit: served until the rebuild replaces it
    modules: tuple[CourseModuleMark, ...] = ()

    @property
    def available(self) -> bool:
        """Whether there is a course file to play."""
        return bool(self.key)


def course_audio(course: Course, lang: str) -> CourseAudio:
    """The course file for `lang`, marked stale when it no longer matches the modules' audio.

    After an edit the course manifest still names the file joined from the earlier module
    files until the queue's rebuild replaces it: learners keep getting it, never a 404.
    """
    artefacts = store()
    manifest = artefacts.read_course_manifest(course.id, lang)
    whole = manifest.get("whole") or {}
    key = str(whole.get("key") or "")
    try:
        present = bool(key) and artefacts.course_path(key).is_file()
    except ValueError:
        present = False
    if not present:
        return CourseAudio()
    recorded = [m for m in manifest.get("modules", []) if isinstance(m, dict)]
    current = []
    # Sections a listening report may name (the introduction's chapter is not a section).
    reportable: dict[str, set[str]] = {}
    stale = bool(whole.get("stale"))
    for entry in course.visible:
        found = course.module(entry.id, lang)
        if found is None:
            continue
        module = found[0]
        current.append((module.id, module.language))
        reportable[module.id] = {section.id for section in module.sections}
        module_manifest = artefacts.read_manifest(course.id, module.language, module.id)
        module_key = (module_manifest.get("whole") or {}).get("key")
        mark = next((m for m in recorded if m.get("id") == module.id), None)
        if mark is None or mark.get("key") != module_key or module_audio(course, module).updating:
            stale = True
    if current != [(m.get("id"), m.get("language")) for m in recorded]:
        stale = True  # a module added, removed, hidden or moved since the file was made
    return CourseAudio(
        key=key,
        duration=float(whole.get("duration") or 0.0),
        size=int(whole.get("size") or artefacts.course_path(key).stat().st_size),
        captions=artefacts.course_path(key, ".vtt").is_file(),
        stale=stale,
        modules=tuple(
            CourseModuleMark(
                str(m.get("id")),
                str(m.get("title")),
                float(m.get("start") or 0),
                tuple(
                    (str(c["id"]), float(c["start"]), float(c["end"]))
                    for c in m.get("chapters") or []
                    if isinstance(c, dict) and c.get("id") in reportable.get(str(m.get("id")), ())
                ),
            )
            for m in recorded
        ),
    )
