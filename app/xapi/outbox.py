"""Forwarding statements to an external LRS through an outbox table.

Every statement stored while forwarding is configured gets an outbox row in the same
transaction (a hook of `app.progress.statements`, which inserts every statement), so a
statement is never recorded without being queued, nor queued without being recorded. The
sender claims due rows, POSTs them as one batch, and deletes them once the LRS accepted them.
Nothing is lost while the LRS is down: failed rows stay, with a retry time that doubles (up to
a maximum). Nothing arrives twice: each statement keeps its UUID and the exact JSON first
sent, so a resend after a lost reply is the same statement, which an LRS stores once.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import Table, bindparam, event, func, insert, or_, select
from sqlalchemy.orm import Session

from app.accounts.models import utcnow
from app.content.model import Course
from app.database import write_transaction
from app.driver import run
from app.extensions import db
from app.progress.models import Statement
from app.progress.statements import STORED_HOOKS
from app.xapi import services
from app.xapi.models import OutboxEntry

# A claimed batch is not given to another sender for this long (a sender that died mid-send
# leaves its rows to the next one after it).
LEASE = timedelta(minutes=2)
BATCH = 50
TIMEOUT_SECONDS = 20


def forwarding_enabled(config: Mapping[str, Any]) -> bool:
    """Whether an external LRS is configured."""
    return bool(config.get("XAPI_ENDPOINT"))


_OUTBOX = cast(Table, OutboxEntry.__table__)
# With forwarding on, every beacon runs these two: prebuilt, on the driver (app.driver).
_RETRY_AT = select(func.max(_OUTBOX.c.next_attempt_at)).where(
    _OUTBOX.c.attempts > bindparam("attempts")
)
_QUEUE = insert(_OUTBOX)


def _queue_new_statements(session: Session, uuids: list[str]) -> None:
    """An outbox row for each statement just inserted (`app.progress.statements` calls it)."""
    if not has_app_context() or not forwarding_enabled(current_app.config):
        return
    connection = session.connection()
    # While the LRS is failing, new rows wait for the retry already scheduled, so one job
    # retries for all of them instead of one job per statement.
    ((retry_at,),) = run(connection, _RETRY_AT, {"attempts": 0})
    now = utcnow()
    if isinstance(retry_at, datetime) and retry_at.tzinfo is None:
        retry_at = retry_at.replace(tzinfo=UTC)
    due = retry_at if retry_at is not None and retry_at > now else now
    for statement_uuid in uuids:
        # Leased_until and payload stay NULL, as the model leaves them.
        row = {"statement_uuid": statement_uuid, "created_at": now, "next_attempt_at": due}
        run(connection, _QUEUE, {**row, "attempts": 0, "last_error": ""})
    session.info["xapi_queued"] = True


def _send_after_commit(session: Session) -> None:
    """After a commit that queued statements: ask the task queue to forward them."""
    if not session.info.pop("xapi_queued", False) or not has_app_context():
        return
    from app.xapi.tasks import forward_statements

    try:
        forward_statements.enqueue()
    except Exception:  # the queue's storage is away: the outbox keeps them for the next job
        current_app.logger.exception("could not queue xAPI forwarding")


def _forget_on_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("xapi_queued", None)


def init_app(app: Flask) -> None:
    """Queue statements for forwarding (listeners registered once per process)."""
    if _queue_new_statements not in STORED_HOOKS:
        STORED_HOOKS.append(_queue_new_statements)
    for name, listener in (
        ("after_commit", _send_after_commit),
        ("after_soft_rollback", _forget_on_rollback),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def backlog() -> tuple[int, datetime | None, str]:
    """How many statements wait to be forwarded, since when, and the last error seen."""
    count, oldest = db.session.execute(
        select(func.count(OutboxEntry.id), func.min(OutboxEntry.created_at))
    ).one()
    error = db.session.scalar(
        select(OutboxEntry.last_error)
        .where(OutboxEntry.last_error != "")
        .order_by(OutboxEntry.next_attempt_at.desc())
        .limit(1)
    )
    if isinstance(oldest, datetime) and oldest.tzinfo is None:  # SQLite aggregate: naive
        oldest = oldest.replace(tzinfo=UTC)
    return int(count or 0), oldest, error or ""


def retry_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds to wait after the n-th failed attempt: base doubled each time, capped, jittered."""
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return delay * random.uniform(0.8, 1.0)


@dataclass(frozen=True)
class Outcome:
    """What one sending pass did."""

    sent: int
    failed: int
    error: str = ""


def _claim(now: datetime, limit: int) -> list[OutboxEntry]:
    """Due rows, leased to this sender so that no other one sends them at the same time."""
    write_transaction()
    query = (
        select(OutboxEntry)
        .where(
            OutboxEntry.next_attempt_at <= now,
            or_(OutboxEntry.leased_until.is_(None), OutboxEntry.leased_until < now),
        )
        .order_by(OutboxEntry.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    entries = list(db.session.scalars(query))
    for entry in entries:
        entry.leased_until = now + LEASE
    return entries


def _payloads(entries: list[OutboxEntry], base_url: str, courses: Mapping[str, Course]) -> None:
    """Shape (once, then keep) the statement each entry stands for."""
    missing = [e for e in entries if e.payload is None]
    if not missing:
        return
    rows = {
        s.uuid: s
        for s in db.session.scalars(
            select(Statement).where(Statement.uuid.in_([e.statement_uuid for e in missing]))
        )
    }
    identify_by = str(current_app.config["XAPI_IDENTIFY_BY"])
    agents = services.actors({r.learner for r in rows.values()}, base_url, identify_by)
    for entry in missing:
        row = rows.get(entry.statement_uuid)
        if row is None:  # the learner's data was deleted before it could be sent
            db.session.delete(entry)
            continue
        statement = services.shaping.conformant(
            services.stored_of(row),
            base_url=base_url,
            actor=agents[row.learner],
            course=courses.get(row.course_id),
        )
        # stored and authority are the receiving LRS's to set.
        for key in ("stored", "authority"):
            statement.pop(key, None)
        entry.payload = statement


def _post(config: Mapping[str, Any], statements: list[dict[str, Any]]) -> None:
    """POST a batch to the LRS; raises on anything but success."""
    endpoint = str(config["XAPI_ENDPOINT"]).rstrip("/") + "/statements"
    credentials = f"{config['XAPI_KEY']}:{config['XAPI_SECRET']}".encode()
    request = urllib.request.Request(
        endpoint,
        data=json.dumps(statements).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "X-Experience-API-Version": "1.0.3",
            "Authorization": "Basic " + base64.b64encode(credentials).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        response.read()


def _describe(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        detail = error.read()[:200].decode("utf-8", "replace")
        return f"HTTP {error.code}: {detail}"
    if isinstance(error, urllib.error.URLError):
        return f"LRS unreachable: {error.reason}"
    return f"{type(error).__name__}: {error}"


def forward_due(
    base_url: str, courses: Mapping[str, Course], now: datetime | None = None, limit: int = BATCH
) -> Outcome:
    """Send one batch of due statements to the LRS; commits (it runs outside any request).

    :param base_url: the site's public address, which the statements' IRIs are built on.
    :param courses: the catalogue's courses, for activity definitions.
    """
    config = current_app.config
    if not forwarding_enabled(config):
        return Outcome(0, 0)
    now = now or utcnow()
    entries = _claim(now, limit)
    _payloads(entries, base_url, courses)
    entries = [e for e in entries if e.payload is not None and e not in db.session.deleted]
    db.session.commit()  # the lease and payloads are kept even if sending crashes
    if not entries:
        return Outcome(0, 0)
    try:
        _post(config, [e.payload for e in entries])  # type: ignore[misc]
    except Exception as exc:  # noqa: BLE001  (any failure: the rows stay queued, retried later)
        message = _describe(exc)[:500]
        write_transaction()
        for entry in entries:
            entry.attempts += 1
            entry.last_error = message
            delay = retry_delay(
                entry.attempts,
                float(config["XAPI_RETRY_SECONDS"]),
                float(config["XAPI_RETRY_MAX_SECONDS"]),
            )
            entry.next_attempt_at = utcnow() + timedelta(seconds=delay)
            entry.leased_until = None
        db.session.commit()
        return Outcome(0, len(entries), message)
    write_transaction()
    for entry in entries:
        db.session.delete(entry)
    db.session.commit()
    return Outcome(len(entries), 0)


def next_due() -> tuple[datetime | None, bool]:
    """When a queued statement may next be sent, and whether it waits on another's lease."""
    free, leased = db.session.execute(
        select(
            func.min(OutboxEntry.next_attempt_at).filter(OutboxEntry.leased_until.is_(None)),
            func.min(OutboxEntry.leased_until),
        )
    ).one()
    moments = [_aware(m) for m in (free, leased) if m is not None]
    if not moments:
        return None, False
    soonest = min(moments)
    return soonest, leased is not None and _aware(leased) == soonest


def _aware(moment: datetime) -> datetime:
    """SQLite's aggregates return naive datetimes: they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
