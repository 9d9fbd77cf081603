"""Quiz attempts: one row per submitted attempt, keyed by learner key and content ids.

No foreign keys into content or users: a learner is "u:<user id>" or "g:<guest token>" as in
progress, and a question is its id inside the module, so editing or renumbering content
never breaks stored attempts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.database import UTCDateTime
from app.extensions import db


class QuizAttempt(db.Model):  # type: ignore[name-defined]
    """A learner's submitted answers to a module's quiz, with the grade they earned."""

    __tablename__ = "quiz_attempts"
    __table_args__ = (
        Index("ix_quiz_attempts_learner_module", "learner", "course_id", "module_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Issued with the quiz page; unique, so a form submitted twice is stored once.
    token: Mapped[str] = mapped_column(String(64), unique=True)
    learner: Mapped[str] = mapped_column(String(80), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    # The language the questions were shown in (a module may fall back to the default one).
    language: Mapped[str] = mapped_column(String(8))
    # Question ids in page order, each with its option / choice order as shown in this attempt.
    question_order: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # {question id: answer as grading.py reads it}.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # {question id: 0..1} for every graded question.
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    score: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(default=False)
    pass_mark: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_seconds: Mapped[float] = mapped_column(Float, default=0.0)


class LatestScore(db.Model):  # type: ignore[name-defined]
    """A question's score in a learner's latest attempt at a module; mastery reports read this.

    Kept per question, not per outcome: which question assesses which outcome is content,
    read when the report is drawn, so a trainer's edit to the mapping shows at once.
    """

    __tablename__ = "latest_scores"
    __table_args__ = (
        UniqueConstraint("learner", "course_id", "module_id", "question_id"),
        # Covers the mastery query: one module's rows in learner order, without the table.
        Index(
            "ix_latest_scores_course_module",
            "course_id",
            "module_id",
            "learner",
            "question_id",
            "score",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    learner: Mapped[str] = mapped_column(String(80))
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    question_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
