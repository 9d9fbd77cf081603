"""The state of every module file for the studio's list: errors, translations, drafts, artefacts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from app.content.errors import Problem
from app.content.model import Catalogue, Course
from app.studio.services import read_draft


@dataclass
class FileState:
    """One language of one module."""

    language: str
    relative: str
    exists: bool
    problems: list[Problem] = field(default_factory=list)
    draft: bool = False
    visible: bool = False
    audio: str = ""  # "current", "outdated", "missing" or "" (not visible)
    pdf: str = ""  # "current", "outdated", "missing" or ""


@dataclass
class ModuleState:
    """One module folder with its files."""

    id: str
    folder: str
    position: int
    files: list[FileState]
    problems: list[Problem]

    @property
    def missing(self) -> list[str]:
        """Languages of the course without a file for this module."""
        return [f.language for f in self.files if not f.exists]


@dataclass(frozen=True)
class CourseAudioState:
    """The course MP3 of one language, for the studio's list."""

    language: str
    state: str  # "current", "outdated" or "missing"
    reason: str = ""  # why the last build could not make it (a module without audio)


@dataclass
class CourseState:
    """A course and its modules."""

    course: Course
    modules: list[ModuleState]
    course_audio: list[CourseAudioState] = field(default_factory=list)


def _audio_state(course: Course, module: object) -> str:
    from app.audio.artefacts import module_audio

    audio = module_audio(course, module)  # type: ignore[arg-type]
    if not audio.available:
        return "missing"
    if audio.updating or not all(c.available for c in audio.chapters) or not audio.whole_key:
        return "outdated"
    return "current"


def _course_audio_states(course: Course, media_dir: Path) -> list[CourseAudioState]:
    from app.audio.artefacts import course_audio
    from app.audio.store import Store

    if not course.visible:
        return []
    states = []
    for lang in course.languages:
        audio = course_audio(course, lang)
        reason = str(Store(media_dir).read_course_manifest(course.id, lang).get("error") or "")
        state = "missing" if not audio.available else "outdated" if audio.stale else "current"
        states.append(CourseAudioState(lang, state, reason))
    return states


def _pdf_state(media_dir: Path, course: Course, module_id: str, lang: str, source: Path) -> str:
    """Outdated when the newest PDF is older than the module's file (cheap: no rendering)."""
    from app.pdf.build import latest_artefact

    artefact = latest_artefact(course.id, module_id, lang, media_dir)
    if artefact is None:
        return "missing"
    try:
        if artefact.path.stat().st_mtime < source.stat().st_mtime:
            return "outdated"
    except OSError:
        return "missing"
    return "current"


def course_states(root: Path, catalogue: Catalogue, media_dir: Path) -> list[CourseState]:
    """Every course's modules and languages, with what needs attention."""
    by_path: dict[str, list[Problem]] = {}
    for problem in catalogue.problems:
        by_path.setdefault(problem.path, []).append(problem)
    states = []
    for course in catalogue.courses.values():
        modules = []
        for entry in course.entries:
            files = []
            for lang in course.languages:
                relative = f"{course.folder}/{entry.folder}/{lang}.md"
                source = root / relative
                state = FileState(
                    language=lang,
                    relative=relative,
                    exists=source.is_file(),
                    problems=by_path.get(relative, []),
                    draft=read_draft(root, relative) is not None,
                )
                module = entry.versions.get(lang)
                if module is not None and entry.ok:
                    state.visible = True
                    state.audio = _audio_state(course, module)
                    state.pdf = _pdf_state(Path(media_dir), course, entry.id, lang, source)
                files.append(state)
            folder_problems = by_path.get(f"{course.folder}/{entry.folder}", [])
            modules.append(
                ModuleState(entry.id, entry.folder, entry.position, files, folder_problems)
            )
        states.append(CourseState(course, modules, _course_audio_states(course, Path(media_dir))))
    return states
