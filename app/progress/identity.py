"""A learner's data as a whole, by learner key: a guest's progress adopted by the account they
sign in to, exported for the learner, or erased.

A learner key is "u:<user id>" for an account and "g:<token>" for a guest (the token lives in
the guest's session, put there with their first CSRF token; `app.web.current_learner` gives the
key of a request). A guest's key stores nothing by itself: their rows start with the first thing
they record, and only those move to the account they sign in to (then exported or erased with it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update

from app.accounts.models import utcnow
from app.content.model import Course
from app.database import rowcount, writes
from app.extensions import db
from app.progress.models import CourseCompletion, CourseProgress, ModuleProgress, Statement
from app.progress.statements import (
    complete_course_if_done,
    complete_module_if_done,
    count_course_downloads,
    locked_row,
    rebuild,
    store_summary,
)

ACCOUNT_PREFIX = "u:"


def account_id(learner: str) -> int | None:
    """The user id in an account's learner key ("u:42" -> 42); None for a guest's key."""
    rest = learner[len(ACCOUNT_PREFIX) :] if learner.startswith(ACCOUNT_PREFIX) else ""
    return int(rest) if rest.isdigit() else None


@writes
def adopt_guest_progress(guest: str, learner: str, courses: dict[str, Course]) -> int:
    """Move a guest's statements to an account and rebuild the account's summaries.

    :param guest: the guest's learner key ("g:...").
    :param learner: the account's learner key ("u:...").
    :param courses: the loaded courses, to check completion against current content.
    :returns: how many statements moved.
    """
    touched = {
        (course_id, module_id)
        for course_id, module_id in db.session.execute(
            select(Statement.course_id, Statement.module_id)
            .where(Statement.learner == guest, Statement.module_id.is_not(None))
            .distinct()
        )
        if module_id is not None
    }
    moved = rowcount(
        db.session.execute(
            update(Statement).where(Statement.learner == guest).values(learner=learner)
        )
    )
    db.session.execute(delete(ModuleProgress).where(ModuleProgress.learner == guest))
    for course_progress in db.session.scalars(
        select(CourseProgress).where(CourseProgress.learner == guest)
    ).all():
        count_course_downloads(
            learner, course_progress.course_id, course_progress.last_activity,
            course_progress.pdf_downloads,
        )  # fmt: skip
        db.session.delete(course_progress)
    guest_completions = db.session.scalars(
        select(CourseCompletion).where(CourseCompletion.learner == guest)
    ).all()
    for completion in guest_completions:
        db.session.delete(completion)
    db.session.flush()

    for course_id, module_id in sorted(touched):
        row = locked_row(learner, course_id, module_id)
        summary = rebuild(learner, course_id, module_id)
        course = courses.get(course_id)
        found = course.module(module_id, course.default_language) if course else None
        if course and found:
            # Reads from both sessions together may complete a module neither completed alone.
            context = {"channel": "web", "language": summary.last_language or ""}
            complete_module_if_done(learner, course, found[0], summary, context, utcnow())
        store_summary(row, summary)
    for completion in guest_completions:
        course = courses.get(completion.course_id)
        if course:
            complete_course_if_done(
                learner, course, {"channel": "web", "language": ""}, completion.completed_at
            )
    db.session.flush()
    return moved


@writes
def delete_learner_data(learner: str) -> None:
    """Remove every statement, summary and completion of a learner."""
    db.session.execute(delete(Statement).where(Statement.learner == learner))
    db.session.execute(delete(ModuleProgress).where(ModuleProgress.learner == learner))
    db.session.execute(delete(CourseCompletion).where(CourseCompletion.learner == learner))
    db.session.execute(delete(CourseProgress).where(CourseProgress.learner == learner))
    db.session.flush()


def export_summaries(learner: str) -> list[dict[str, Any]]:
    """The learner's per-module summaries and course completions, JSON-ready."""
    rows = db.session.scalars(
        select(ModuleProgress)
        .where(ModuleProgress.learner == learner)
        .order_by(ModuleProgress.course_id, ModuleProgress.module_id)
    )
    out: list[dict[str, Any]] = [
        {
            "course": row.course_id,
            "module": row.module_id,
            "sections_read": list(row.sections_read or []),
            "audio_seconds_listened": dict(row.audio_listened or {}),
            "best_score": row.best_score,
            "quiz_passed": row.quiz_passed,
            "pdf_downloads": row.pdf_downloads,
            "completed_at": row.completed_at.isoformat() if row.completed_at else None,
            "last_activity": row.last_activity.isoformat() if row.last_activity else None,
        }
        for row in rows
    ]
    completions = db.session.scalars(
        select(CourseCompletion).where(CourseCompletion.learner == learner)
    )
    out += [
        {"course": c.course_id, "course_completed_at": c.completed_at.isoformat()}
        for c in completions
    ]
    return out
