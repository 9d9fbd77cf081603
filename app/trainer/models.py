"""Groups: a trainer's class for one course, the learners who joined it, its co-trainers.

Unlike progress, these rows do refer to users by foreign key: a deleted account must leave
every group at once (ON DELETE CASCADE), so no report can still list it.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User, utcnow
from app.database import UTCDateTime
from app.extensions import db

# No 0/O or 1/I: codes are read aloud in class and typed from a projector.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8


def join_code() -> str:
    """A fresh join code: 8 characters, about 40 bits, too many to guess by trying."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Group(db.Model):  # type: ignore[name-defined]
    """A trainer's group of learners following one course in one language."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    course_id: Mapped[str] = mapped_column(String(100), index=True)
    language: Mapped[str] = mapped_column(String(8))
    code: Mapped[str] = mapped_column(String(16), unique=True, index=True, default=join_code)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # After this moment the group accepts no new members (members already in it stay).
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    owner: Mapped[User] = relationship(User, lazy="joined")

    def is_closed(self, now: datetime | None = None) -> bool:
        """Whether the closing date has passed."""
        return self.closes_at is not None and (now or utcnow()) >= self.closes_at


class GroupTrainer(db.Model):  # type: ignore[name-defined]
    """A co-trainer: someone the owner shares the group and its reports with."""

    __tablename__ = "group_trainers"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(User, lazy="joined")


class GroupMember(db.Model):  # type: ignore[name-defined]
    """A learner in a group, from the moment they joined until they leave."""

    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
