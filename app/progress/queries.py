"""What a learner's progress looks like now: module statuses, the resume point, completions.

Read-only queries over the summaries that `app.progress.statements` keeps, measured against
the course's current content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam, select

from app.accounts.models import User
from app.content.model import Course, Module
from app.extensions import db
from app.progress.identity import account_id
from app.progress.models import CourseCompletion, ModuleProgress


@dataclass(frozen=True)
class ModuleStatus:
    """A learner's progress in one module, measured against its current content."""

    module_id: str
    read: frozenset[str]
    total: int
    best_score: float | None
    quiz_passed: bool
    completed_at: datetime | None
    last_section: str | None
    last_audio_section: str | None
    last_audio_position: float | None
    last_activity: datetime | None

    @property
    def read_count(self) -> int:
        """Sections read that still exist (removed sections stop counting)."""
        return len(self.read)

    @property
    def percent(self) -> int:
        """Share of the module done, for progress bars."""
        if self.completed_at:
            return 100
        return round(100 * self.read_count / self.total) if self.total else 0


# Built once, columns only: a module or course page reads its learner's summaries on every
# view after a write, and building the ORM query and its objects was most of that read.
_SUMMARIES = ModuleProgress.__table__
_STATUS_ROWS = select(
    _SUMMARIES.c.module_id,
    _SUMMARIES.c.sections_read,
    _SUMMARIES.c.best_score,
    _SUMMARIES.c.quiz_passed,
    _SUMMARIES.c.completed_at,
    _SUMMARIES.c.last_section,
    _SUMMARIES.c.last_audio_section,
    _SUMMARIES.c.last_audio_position,
    _SUMMARIES.c.last_activity,
).where(
    _SUMMARIES.c.learner == bindparam("learner"),
    _SUMMARIES.c.course_id == bindparam("course_id"),
)


def module_statuses(learner: str | None, course: Course, language: str) -> dict[str, ModuleStatus]:
    """Progress of a learner in every visible module of a course (missing = not started)."""
    if learner is None:
        return {}
    rows = db.session.execute(_STATUS_ROWS, {"learner": learner, "course_id": course.id})
    return statuses_of(rows, course, language)


def statuses_of(
    rows: Iterable[_StoredSummary], course: Course, language: str
) -> dict[str, ModuleStatus]:
    """Statuses of the visible modules of a course from the learner's summary rows of it."""
    statuses: dict[str, ModuleStatus] = {}
    for row in rows:
        found = course.module(row.module_id, language)
        if found is not None:
            statuses[row.module_id] = module_status(found[0], row)
    return statuses


class _SummaryLike(Protocol):
    """What a status is made from: a stored summary row (object or columns) or a fresh one."""

    @property
    def sections_read(self) -> Any: ...
    @property
    def best_score(self) -> float | None: ...
    @property
    def quiz_passed(self) -> bool: ...
    @property
    def completed_at(self) -> datetime | None: ...
    @property
    def last_section(self) -> str | None: ...
    @property
    def last_audio_section(self) -> str | None: ...
    @property
    def last_audio_position(self) -> float | None: ...
    @property
    def last_activity(self) -> datetime | None: ...


class _StoredSummary(_SummaryLike, Protocol):
    """A stored summary row: its module's id too."""

    @property
    def module_id(self) -> str: ...


def module_status(module: Module, summary: _SummaryLike) -> ModuleStatus:
    """A learner's progress in a module from their summary (a stored row or a fresh one)."""
    current = {s.id for s in module.reading_sections}
    return ModuleStatus(
        module_id=module.id,
        read=frozenset(s for s in summary.sections_read or [] if s in current),
        total=len(current),
        best_score=summary.best_score,
        quiz_passed=summary.quiz_passed,
        completed_at=summary.completed_at,
        last_section=summary.last_section,
        last_audio_section=summary.last_audio_section,
        last_audio_position=summary.last_audio_position,
        last_activity=summary.last_activity,
    )


def resume_point(statuses: dict[str, ModuleStatus]) -> ModuleStatus | None:
    """The module the learner touched last, to continue where they left off."""
    touched = [s for s in statuses.values() if s.last_activity is not None]
    return max(touched, key=lambda s: s.last_activity) if touched else None  # type: ignore[arg-type, return-value]


def course_completion(learner: str, course_id: str) -> CourseCompletion | None:
    """The learner's completion record of a course, with its certificate code."""
    return db.session.scalar(
        select(CourseCompletion).where(
            CourseCompletion.learner == learner, CourseCompletion.course_id == course_id
        )
    )


def completion_by_code(code: str) -> tuple[CourseCompletion, str] | None:
    """A completion and the learner's display name, from a certificate's verification code."""
    completion = db.session.scalar(select(CourseCompletion).where(CourseCompletion.code == code))
    if completion is None or (user_id := account_id(completion.learner)) is None:
        return None  # no such code, or a guest's completion (guests get no certificate)
    user = db.session.get(User, user_id)
    return (completion, user.display_name) if user else None


def course_completed_at(learner: str | None, course_id: str) -> datetime | None:
    """When the learner completed the course, if they have."""
    if learner is None:
        return None
    return db.session.scalar(
        select(CourseCompletion.completed_at).where(
            CourseCompletion.learner == learner, CourseCompletion.course_id == course_id
        )
    )
