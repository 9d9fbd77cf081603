"""xAPI tables: learners' opaque keys, API clients, statements received, the outbox."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.accounts.models import utcnow
from app.database import UTCDateTime
from app.extensions import db


def opaque_key() -> str:
    """A random name for a learner's xAPI account: says nothing about who they are."""
    return secrets.token_hex(16)


class XapiAgent(db.Model):  # type: ignore[name-defined]
    """The stable opaque name a learner has in every statement (never the e-mail or user id)."""

    __tablename__ = "xapi_agents"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner: Mapped[str] = mapped_column(String(80), unique=True)
    key: Mapped[str] = mapped_column(String(32), unique=True, default=opaque_key)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class XapiClient(db.Model):  # type: ignore[name-defined]
    """Credentials an admin issued for one LRS client (HTTP Basic: key and secret)."""

    __tablename__ = "xapi_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(40), unique=True, index=True)
    # SHA-256 of a 256-bit random secret: a slow password hash adds nothing at that entropy
    # and would cost every API request tens of milliseconds.
    secret_hash: Mapped[str] = mapped_column(String(64))
    can_write: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(254), default="")
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReceivedStatement(db.Model):  # type: ignore[name-defined]
    """A statement another system stored here through PUT/POST /xapi/statements."""

    __tablename__ = "xapi_received_statements"
    __table_args__ = (Index("ix_xapi_received_stored", "stored", "uuid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    # The actor's identifier as one comparable string (see services.agent_ifi).
    actor_ifi: Mapped[str] = mapped_column(String(600), index=True)
    verb_id: Mapped[str] = mapped_column(String(400), index=True)
    object_id: Mapped[str] = mapped_column(String(400), index=True)
    registration: Mapped[str | None] = mapped_column(String(36), index=True)
    statement: Mapped[dict[str, Any]] = mapped_column(JSON)
    stored: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("xapi_clients.id"))


class ReceivedActivity(db.Model):  # type: ignore[name-defined]
    """Every activity a received statement names (object and context), for related_activities."""

    __tablename__ = "xapi_received_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("xapi_received_statements.id", ondelete="CASCADE"), index=True
    )
    activity_id: Mapped[str] = mapped_column(String(400), index=True)


class OutboxEntry(db.Model):  # type: ignore[name-defined]
    """A statement waiting to be forwarded to the external LRS (deleted once it is accepted)."""

    __tablename__ = "xapi_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Set while a sender has the row in hand, so no other sender takes it meanwhile.
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(500), default="")
    # The statement as first sent, kept so every resend is byte-for-byte the same statement
    # even if the course's titles changed in between (an LRS refuses a changed copy).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class VoidedStatement(db.Model):  # type: ignore[name-defined]
    """A statement voided by another (xAPI 1.0.3 §2.2.8): hidden from queries, kept for audit.

    Keyed by the target's id, so a statement of the platform's own and one received from a
    client are voided the same way, and a voiding that arrives before its target still holds.
    """

    __tablename__ = "xapi_voided"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(36), unique=True)
    voided_by: Mapped[str] = mapped_column(String(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
