"""User accounts: the people who learn, teach and administer."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

ROLES = ("learner", "trainer", "admin")


def utcnow() -> datetime:
    """Current time in UTC, called per row (never computed at import)."""
    return datetime.now(UTC)


class User(db.Model):  # type: ignore[name-defined]
    """A registered person; progress and attempts refer to users by id."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
