"""Learner progress: statements that only grow, and one summary row per learner and module.

Rows are keyed by a learner key ("u:<user id>" or "g:<guest token>") and by content ids
(course, module, section), never by foreign keys into content or by file positions.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.database import UTCDateTime
from app.extensions import db


class Statement(db.Model):  # type: ignore[name-defined]
    """One learner event, shaped like an xAPI 1.0.3 statement: actor, verb, object, result."""

    __tablename__ = "statements"
    __table_args__ = (
        Index("ix_statements_learner_module", "learner", "course_id", "module_id"),
        Index("ix_statements_timestamp_uuid", "timestamp", "uuid"),  # the xAPI API's order
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    learner: Mapped[str] = mapped_column(String(80))
    verb: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(400))
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str | None] = mapped_column(String(100))
    section_id: Mapped[str | None] = mapped_column(String(100))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModuleProgress(db.Model):  # type: ignore[name-defined]
    """What the statements of one learner about one module add up to; reports read this."""

    __tablename__ = "module_progress"
    __table_args__ = (UniqueConstraint("learner", "course_id", "module_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner: Mapped[str] = mapped_column(String(80), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    sections_read: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Seconds listened per section, to mark a section read at 90% of its audio.
    audio_listened: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    best_score: Mapped[float | None] = mapped_column(Float)
    quiz_passed: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_section: Mapped[str | None] = mapped_column(String(100))
    last_audio_section: Mapped[str | None] = mapped_column(String(100))
    last_audio_position: Mapped[float | None] = mapped_column(Float)
    last_language: Mapped[str | None] = mapped_column(String(8))
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime)
    statements: Mapped[int] = mapped_column(default=0)
    # "downloaded" statements about the module (its PDF): the reports' PDF channel.
    pdf_downloads: Mapped[int] = mapped_column(default=0, server_default="0")
    # Seconds of audio listened in all sections together (the sum of audio_listened).
    audio_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")


class CourseProgress(db.Model):  # type: ignore[name-defined]
    """What a learner's course-level statements add up to (the whole-course PDF downloaded)."""

    __tablename__ = "course_progress"
    __table_args__ = (UniqueConstraint("learner", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner: Mapped[str] = mapped_column(String(80), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    pdf_downloads: Mapped[int] = mapped_column(default=0, server_default="0")
    last_activity: Mapped[datetime | None] = mapped_column(UTCDateTime)


def certificate_code() -> str:
    """A verification code that cannot be guessed: 16 characters from a 32-letter alphabet."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread
    return "".join(secrets.choice(alphabet) for _ in range(16))


class CourseCompletion(db.Model):  # type: ignore[name-defined]
    """When a learner completed every module of a course; its code verifies the certificate."""

    __tablename__ = "course_completions"
    __table_args__ = (UniqueConstraint("learner", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner: Mapped[str] = mapped_column(String(80), index=True)
    course_id: Mapped[str] = mapped_column(String(100))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    code: Mapped[str] = mapped_column(String(16), unique=True, index=True, default=certificate_code)
