"""LTI tables: registered platforms, launched accounts, nonces, and where scores go back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.database import UTCDateTime
from app.extensions import db


class LtiPlatform(db.Model):  # type: ignore[name-defined]
    """One LMS registration (issuer + client id) an admin made, with its endpoints."""

    __tablename__ = "lti_platforms"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    issuer: Mapped[str] = mapped_column(String(255), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(500))
    auth_token_url: Mapped[str] = mapped_column(String(500))
    auth_audience: Mapped[str] = mapped_column(String(500), default="")
    key_set_url: Mapped[str] = mapped_column(String(500))
    deployment_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiAccount(db.Model):  # type: ignore[name-defined]
    """The account a platform's user (its `sub`) is mapped to; made at their first launch."""

    __tablename__ = "lti_accounts"
    __table_args__ = (UniqueConstraint("platform_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(
        ForeignKey("lti_platforms.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_launch_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LtiNonce(db.Model):  # type: ignore[name-defined]
    """A nonce the OIDC login issued: good for one launch before it expires, never twice."""

    __tablename__ = "lti_nonces"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(128), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class LtiGradeLink(db.Model):  # type: ignore[name-defined]
    """Where a launched learner's score for a module goes: the AGS line item of the link."""

    __tablename__ = "lti_grade_links"
    __table_args__ = (UniqueConstraint("account_id", "lineitem"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("lti_accounts.id", ondelete="CASCADE"), index=True
    )
    course_id: Mapped[str] = mapped_column(String(100))
    module_id: Mapped[str] = mapped_column(String(100))
    lineitem: Mapped[str] = mapped_column(String(500))
    service: Mapped[dict[str, Any]] = mapped_column(JSON)  # the launch's AGS endpoint claim
    # The last score the platform acknowledged (0..1), so an unchanged best is not resent.
    sent_score: Mapped[float | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(String(500), default="")
