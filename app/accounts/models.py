"""User accounts: the people who learn, teach and administer."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from app.database import UTCDateTime
from app.extensions import db

ROLES = ("learner", "trainer", "admin")


def utcnow() -> datetime:
    """Current time in UTC, called per row (never computed at import)."""
    return datetime.now(UTC)


class User(UserMixin, db.Model):  # type: ignore[name-defined]
    """A registered person; progress and attempts refer to users by their learner key."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="learner")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # EQF level (3, 4 or 5) the learner studies at; None means no preference.
    eqf_level: Mapped[int | None] = mapped_column(default=None)
    # Changes when the password changes, so "remember me" cookies of the old password stop working.
    session_token: Mapped[str] = mapped_column(String(64), default="")
    # A disabled account cannot sign in and its sessions end; its data stays until deleted.
    disabled: Mapped[bool] = mapped_column(default=False, server_default=false())

    @property
    def learner_key(self) -> str:
        """The key progress, attempts and statements are stored under."""
        return f"u:{self.id}"

    @property
    def is_trainer(self) -> bool:
        """Trainers and admins may see trainer pages."""
        return self.role in ("trainer", "admin")

    def get_id(self) -> str:
        """Flask-Login's id: user id plus session token, so a password change logs others out."""
        return f"{self.id}:{self.session_token}"


class PasswordReset(db.Model):  # type: ignore[name-defined]
    """A one-time password reset link; only a hash of its token is stored."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
