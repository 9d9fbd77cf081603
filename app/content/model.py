"""What the loader makes of a course folder: frozen dataclasses, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.content.errors import Problem


@dataclass(frozen=True)
class EqfRange:
    """An EQF level or range within 3..5, e.g. 4 or 3-5."""

    low: int
    high: int

    def __str__(self) -> str:
        """Show `4` for one level, `3-5` for a range."""
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"

    def __contains__(self, level: object) -> bool:
        """Tell whether a level lies inside the range."""
        return isinstance(level, int) and self.low <= level <= self.high


@dataclass(frozen=True)
class Section:
    """One `##` section: a collapsible block, an outline entry, a unit of reading progress."""

    id: str
    title: str
    html: str
    line: int
    text: str  # the section's Markdown source, for narration and search
    eqf_levels: tuple[int, ...] = ()  # levels of the deepening blocks it contains
    has_quiz: bool = False  # holds quiz blocks: passing the quiz, not reading, completes it
    explicit_id: bool = False  # written as `{#id}`; otherwise derived from the title


@dataclass(frozen=True)
class Outcome:
    """A learning outcome: a stable id (explicit `{#id}` or positional o1, o2...), its text."""

    id: str
    text: str
    line: int


@dataclass(frozen=True)
class QuizSettings:
    """Per-module quiz options from front matter, with the course default filled in."""

    pass_mark: int
    shuffle: bool


@dataclass(frozen=True)
class Module:
    """One module in one language, rendered and ready to serve."""

    id: str
    course_id: str
    language: str
    folder: str
    path: str  # the file it came from, relative to the content root
    title: str
    eqf: EqfRange
    duration: int
    description: str
    keywords: tuple[str, ...]
    outcomes: tuple[str, ...]
    bibliography: tuple[str, ...]
    intro_html: str
    sections: tuple[Section, ...]
    quiz: QuizSettings
    questions: tuple[Any, ...] = ()  # app.content.questions.Question, parsed from quiz blocks
    quiz_blocks: tuple[tuple[str, str, int], ...] = ()  # (kind, source, first file line)
    media_dir: Path | None = None
    content_hash: str = ""
    learning_outcomes: tuple[Outcome, ...] = ()  # `outcomes` with their ids, in order
    warnings: tuple[Problem, ...] = ()  # worth fixing, but the module stays visible

    def outcome(self, outcome_id: str) -> Outcome | None:
        """Find a learning outcome by id."""
        return next((o for o in self.learning_outcomes if o.id == outcome_id), None)

    @property
    def reading_sections(self) -> tuple[Section, ...]:
        """Sections a learner reads to complete the module (the quiz's section is passed)."""
        return tuple(s for s in self.sections if not (s.has_quiz and self.questions))

    def section(self, section_id: str) -> Section | None:
        """Find a section by id."""
        return next((s for s in self.sections if s.id == section_id), None)


@dataclass(frozen=True)
class ModuleEntry:
    """A module across languages: its files, in order, with what failed to load."""

    id: str
    folder: str
    position: int
    versions: dict[str, Module]  # language -> module, only the versions without errors
    problems: tuple[Problem, ...] = ()  # errors that hide the module in every language
    # Errors of translations only: each hides its own language, whose learners get the default.
    translation_problems: tuple[Problem, ...] = ()

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Warnings of every language version, in file order."""
        return tuple(w for module in self.versions.values() for w in module.warnings)

    @property
    def ok(self) -> bool:
        """Visible to learners: the default-language file and the module as a whole are sound."""
        return not self.problems and bool(self.versions)

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        """Every error of the module and of its translations, in file and line order."""
        return tuple(sorted({*self.problems, *self.translation_problems}))

    @property
    def hidden_languages(self) -> tuple[str, ...]:
        """Languages whose file has errors (learners of them read the default language)."""
        names = {Path(p.path).stem for p in self.translation_problems}
        return tuple(sorted(names - set(self.versions)))


@dataclass(frozen=True)
class Course:
    """A course folder: course.yml plus its modules in order."""

    id: str
    folder: str
    default_language: str
    languages: tuple[str, ...]
    title: dict[str, str]
    description: dict[str, str]
    eqf: EqfRange
    pass_mark: int
    lexicon: dict[str, dict[str, str]]
    entries: tuple[ModuleEntry, ...] = ()
    problems: tuple[Problem, ...] = ()
    # E-mail addresses of the trainers who edit it in the studio; empty: every trainer.
    trainers: tuple[str, ...] = ()

    def text(self, mapping: dict[str, str], language: str) -> str:
        """Pick a translated course text, falling back to the default language."""
        return mapping.get(language) or mapping.get(self.default_language) or ""

    @property
    def visible(self) -> tuple[ModuleEntry, ...]:
        """The modules learners can open: those without errors."""
        return tuple(entry for entry in self.entries if entry.ok)

    def module(self, module_id: str, language: str) -> tuple[Module, bool] | None:
        """Return a visible module in `language`, or its default-language fallback.

        The flag is True when the module is shown in the default language because the
        requested translation is missing.
        """
        for entry in self.visible:
            if entry.id != module_id:
                continue
            if language in entry.versions:
                return entry.versions[language], False
            fallback = entry.versions.get(self.default_language)
            return (fallback, True) if fallback else None
        return None

    def neighbours(self, module_id: str) -> tuple[ModuleEntry | None, ModuleEntry | None]:
        """The visible modules before and after `module_id`."""
        visible = self.visible
        for i, entry in enumerate(visible):
            if entry.id == module_id:
                before = visible[i - 1] if i > 0 else None
                after = visible[i + 1] if i + 1 < len(visible) else None
                return before, after
        return None, None

    def total_duration(self, language: str) -> int:
        """Minutes for all visible modules in `language` (or their fallback)."""
        total = 0
        for entry in self.visible:
            module = entry.versions.get(language) or entry.versions.get(self.default_language)
            total += module.duration if module else 0
        return total


@dataclass(frozen=True)
class Catalogue:
    """Everything under the content root: courses by id, and every problem found."""

    courses: dict[str, Course] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()  # reported by the checker; nothing is hidden for them

    def course(self, course_id: str) -> Course | None:
        """Find a course by id."""
        return self.courses.get(course_id)
