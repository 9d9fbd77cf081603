"""xAPI services: learners' agents, client credentials, the statements query, storing received.

Services take plain arguments (the site's base URL, the catalogue's courses), flush and never
commit: the request or command commits once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.elements import ColumnElement

from app.accounts.models import User, utcnow
from app.content.model import Course
from app.database import write_transaction
from app.extensions import db
from app.progress.models import Statement
from app.xapi import shaping
from app.xapi.models import (
    ReceivedActivity,
    ReceivedStatement,
    VoidedStatement,
    XapiAgent,
    XapiClient,
)

MAX_LIMIT = 500
DEFAULT_LIMIT = 100
# Top-level statement properties xAPI 1.0.3 defines; any other makes the statement invalid.
STATEMENT_KEYS = {
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments",
}  # fmt: skip
#: The ADL verb that voids the statement its StatementRef names (xAPI 1.0.3 §2.2.8).
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
_IRI_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
_TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$")


class XapiError(ValueError):
    """A request the statements API refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- agents ---------------------------------------------------------------------------------


def ensure_agents(learners: Iterable[str]) -> dict[str, str]:
    """Every learner's opaque xAPI key, created for those who have none yet.

    :returns: {learner key: opaque key}.
    """
    wanted = set(learners)
    if not wanted:
        return {}
    rows = dict(
        db.session.execute(
            select(XapiAgent.learner, XapiAgent.key).where(XapiAgent.learner.in_(wanted))
        ).all()
    )
    missing = wanted - set(rows)
    if missing:
        write_transaction()
        dialect = db.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        for learner in missing:
            db.session.execute(
                insert(XapiAgent)
                .values(learner=learner, key=secrets.token_hex(16), created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["learner"])
            )
        db.session.flush()
        rows.update(
            db.session.execute(
                select(XapiAgent.learner, XapiAgent.key).where(XapiAgent.learner.in_(missing))
            ).all()
        )
    return rows


def actors(learners: Iterable[str], base_url: str, identify_by: str) -> dict[str, dict[str, Any]]:
    """The xAPI Agent of each learner.

    :param identify_by: "account" (an opaque name on this site) or "mbox_sha1sum" (the hashed
        e-mail of registered learners; guests stay accounts, having no e-mail).
    """
    keys = ensure_agents(learners)
    emails: dict[str, str] = {}
    if identify_by == "mbox_sha1sum":
        ids = [int(k[2:]) for k in keys if k.startswith("u:") and k[2:].isdigit()]
        if ids:
            emails = {
                f"u:{uid}": email
                for uid, email in db.session.execute(
                    select(User.id, User.email).where(User.id.in_(ids))
                )
            }
    return {
        learner: shaping.agent(base_url, key, emails.get(learner)) for learner, key in keys.items()
    }


def agent_ifi(agent: Mapping[str, Any]) -> str:
    """An Agent's (or identified Group's) inverse functional identifier as one string.

    :raises XapiError: when the agent has no identifier or more than one.
    """
    if not isinstance(agent, Mapping):
        raise XapiError("an agent must be a JSON object")
    found = []
    if isinstance(agent.get("mbox"), str):
        found.append("mbox:" + agent["mbox"].strip().lower())
    if isinstance(agent.get("mbox_sha1sum"), str):
        found.append("sha1:" + agent["mbox_sha1sum"].strip().lower())
    if isinstance(agent.get("openid"), str):
        found.append("openid:" + agent["openid"])
    account = agent.get("account")
    if isinstance(account, Mapping):
        home, name = account.get("homePage"), account.get("name")
        if not (isinstance(home, str) and isinstance(name, str) and _IRI_RE.match(home)):
            raise XapiError("an account needs a homePage IRI and a name")
        found.append(f"account:{home.rstrip('/')}|{name}")
    if len(found) != 1:
        raise XapiError("an agent needs exactly one of mbox, mbox_sha1sum, openid, account")
    return found[0]


def _own_learner_for(ifi: str, base_url: str, identify_by: str) -> str | None:
    """The learner an IFI names among this site's own statements, if any."""
    if ifi.startswith("account:"):
        home, _, name = ifi[len("account:") :].partition("|")
        if home != base_url.rstrip("/"):
            return None
        return db.session.scalar(select(XapiAgent.learner).where(XapiAgent.key == name))
    if identify_by != "mbox_sha1sum" or not ifi.startswith(("mbox:", "sha1:")):
        return None
    for uid, email in db.session.execute(select(User.id, User.email)):
        mbox = "mailto:" + email.strip().lower()
        digest = hashlib.sha1(mbox.encode()).hexdigest()  # noqa: S324  (xAPI's own hash)
        if ifi in (f"mbox:{mbox}", f"sha1:{digest}"):
            return f"u:{uid}"
    return None


# --- clients --------------------------------------------------------------------------------


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_client(
    name: str, *, can_write: bool = False, created_by: str = ""
) -> tuple[XapiClient, str]:
    """New credentials for an LRS client; the secret is returned once and stored hashed.

    :param can_write: also allow PUT/POST of statements (a forwarding platform needs it).
    :returns: the client row and its secret.
    """
    name = name.strip()
    if not name:
        raise XapiError("a client needs a name")
    write_transaction()
    secret = secrets.token_urlsafe(32)
    client = XapiClient(
        name=name[:120],
        key="xc_" + secrets.token_hex(12),
        secret_hash=_hash(secret),
        can_write=can_write,
        created_by=created_by,
    )
    db.session.add(client)
    db.session.flush()
    return client, secret


def revoke_client(key: str) -> XapiClient | None:
    """Revoke a client's credentials at once; None if there is no such client."""
    write_transaction()
    client = db.session.scalar(select(XapiClient).where(XapiClient.key == key))
    if client is not None and client.revoked_at is None:
        client.revoked_at = utcnow()
        db.session.flush()
    return client


def list_clients() -> list[XapiClient]:
    """Every client, newest first."""
    return list(db.session.scalars(select(XapiClient).order_by(XapiClient.id.desc())))


def authenticate(key: str, secret: str) -> XapiClient | None:
    """The client these HTTP Basic credentials belong to, unless revoked or wrong."""
    client = db.session.scalar(select(XapiClient).where(XapiClient.key == key))
    # Compare even when the key is unknown, so timing does not tell which keys exist.
    expected = client.secret_hash if client else _hash(secrets.token_hex(8))
    if not hmac.compare_digest(expected, _hash(secret)) or client is None:
        return None
    return None if client.revoked_at is not None else client


# --- the statements query -------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    """GET /xapi/statements' parameters, checked."""

    agent: str | None = None  # an IFI string
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    since: datetime | None = None
    until: datetime | None = None
    limit: int = DEFAULT_LIMIT
    ascending: bool = False
    format: str = "exact"
    cursor: tuple[datetime, str] | None = None
    raw: dict[str, str] = field(default_factory=dict)  # the filters as given, for `more`


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 timestamp with a time zone, as xAPI requires.

    :raises XapiError: for anything else.
    """
    if not _TIMESTAMP_RE.match(text):
        raise XapiError(f"not an ISO 8601 timestamp with a time zone: {text!r}")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise XapiError(f"not a valid timestamp: {text!r}") from exc


def _bool(text: str, name: str) -> bool:
    if text not in ("true", "false"):
        raise XapiError(f"{name} must be true or false")
    return text == "true"


FILTERS = (
    "agent", "verb", "activity", "registration", "related_activities", "related_agents",
    "since", "until", "limit", "ascending", "format", "attachments",
)  # fmt: skip


def parse_query(args: Mapping[str, str]) -> Query:
    """Check GET /xapi/statements' query string.

    :raises XapiError: for an unknown parameter or a malformed value.
    """
    unknown = set(args) - set(FILTERS) - {"cursor"}
    if unknown:
        raise XapiError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    raw = {k: args[k] for k in FILTERS if k in args}
    agent = None
    if "agent" in args:
        try:
            agent = agent_ifi(json.loads(args["agent"]))
        except json.JSONDecodeError as exc:
            raise XapiError("agent must be a JSON Agent object") from exc
    for name in ("verb", "activity"):
        if name in args and not _IRI_RE.match(args[name]):
            raise XapiError(f"{name} must be an IRI")
    if "registration" in args:
        _uuid(args["registration"], "registration")
    try:
        limit = int(args.get("limit", DEFAULT_LIMIT))
    except ValueError as exc:
        raise XapiError("limit must be a whole number") from exc
    if limit < 0:
        raise XapiError("limit must not be negative")
    fmt = args.get("format", "exact")
    if fmt not in ("exact", "ids", "canonical"):
        raise XapiError("format must be exact, ids or canonical")
    cursor = None
    if "cursor" in args:
        try:
            data = json.loads(base64.urlsafe_b64decode(args["cursor"].encode()))
            cursor = (parse_timestamp(data["t"]), str(uuid.UUID(data["u"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise XapiError("malformed cursor") from exc
    return Query(
        agent=agent,
        verb=args.get("verb"),
        activity=args.get("activity"),
        registration=args.get("registration"),
        related_activities=_bool(args.get("related_activities", "false"), "related_activities"),
        since=parse_timestamp(args["since"]) if "since" in args else None,
        until=parse_timestamp(args["until"]) if "until" in args else None,
        limit=MAX_LIMIT if limit == 0 else min(limit, MAX_LIMIT),
        ascending=_bool(args.get("ascending", "false"), "ascending"),
        format=fmt,
        cursor=cursor,
        raw=raw,
    )


def encode_cursor(stored: datetime, statement_id: str) -> str:
    """The opaque position after which the next page starts."""
    data = json.dumps({"t": shaping.iso_timestamp_us(stored), "u": statement_id})
    return base64.urlsafe_b64encode(data.encode()).decode()


def _window(query: Query, stored_col: Any, uuid_col: Any) -> list[ColumnElement[bool]]:
    """since/until/cursor conditions, and nothing else, on a (stored, uuid) ordered table."""
    conditions: list[ColumnElement[bool]] = []
    if query.since is not None:
        conditions.append(stored_col > query.since)
    if query.until is not None:
        conditions.append(stored_col <= query.until)
    if query.cursor is not None:
        moment, after = query.cursor
        if query.ascending:
            conditions.append(
                or_(stored_col > moment, and_(stored_col == moment, uuid_col > after))
            )
        else:
            conditions.append(
                or_(stored_col < moment, and_(stored_col == moment, uuid_col < after))
            )
    return conditions


def _own_conditions(
    query: Query, base_url: str, identify_by: str
) -> list[ColumnElement[bool]] | None:
    """Filters on the platform's own statements; None when no own statement can match."""
    conditions = _window(query, Statement.timestamp, Statement.uuid)
    conditions.append(Statement.uuid.not_in(select(VoidedStatement.target)))
    if query.registration is not None:
        return None  # the platform's own statements have no registration
    if query.agent is not None:
        learner = _own_learner_for(query.agent, base_url, identify_by)
        if learner is None:
            return None
        conditions.append(Statement.learner == learner)
    if query.verb is not None:
        verb = shaping.VERB_NAMES.get(query.verb)
        if verb is None:
            return None
        conditions.append(Statement.verb == verb)
    if query.activity is not None:
        parts = shaping.parse_activity_iri(base_url, query.activity)
        if parts is None:
            return None
        conditions.append(Statement.course_id == parts[0])
        columns = (Statement.module_id, Statement.section_id)
        for column, value in zip(columns, (*parts[1:], None, None), strict=False):
            if value is not None:
                conditions.append(column == value)
            elif not query.related_activities:
                conditions.append(column.is_(None))
    return conditions


def _received_conditions(query: Query) -> list[ColumnElement[bool]]:
    conditions = _window(query, ReceivedStatement.stored, ReceivedStatement.uuid)
    # A voided statement is never returned by a query, only by voidedStatementId.
    conditions.append(ReceivedStatement.uuid.not_in(select(VoidedStatement.target)))
    if query.agent is not None:
        conditions.append(ReceivedStatement.actor_ifi == query.agent)
    if query.verb is not None:
        conditions.append(ReceivedStatement.verb_id == query.verb)
    if query.registration is not None:
        conditions.append(ReceivedStatement.registration == query.registration)
    if query.activity is not None:
        if query.related_activities:
            conditions.append(
                ReceivedStatement.id.in_(
                    select(ReceivedActivity.statement_id).where(
                        ReceivedActivity.activity_id == query.activity
                    )
                )
            )
        else:
            conditions.append(ReceivedStatement.object_id == query.activity)
    return conditions


def _ids_format(statement: dict[str, Any]) -> dict[str, Any]:
    """format=ids: agents, verbs and activities reduced to their identifiers."""
    out = dict(statement)
    out["verb"] = {"id": statement["verb"]["id"]}
    target = statement.get("object", {})
    if target.get("objectType", "Activity") == "Activity":
        out["object"] = {"objectType": "Activity", "id": target["id"]}
    return out


def find_statements(
    query: Query, *, base_url: str, courses: Mapping[str, Course], identify_by: str
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of statements, own and received, ordered by `stored` (newest first by default).

    :returns: the statements and the cursor of the next page (None on the last one).
    """
    page = query.limit + 1
    merged: list[tuple[datetime, str, Any]] = []
    own = _own_conditions(query, base_url, identify_by)
    direction = (lambda c: c.asc()) if query.ascending else (lambda c: c.desc())
    if own is not None:
        rows = db.session.scalars(
            select(Statement)
            .where(*own)
            .order_by(direction(Statement.timestamp), direction(Statement.uuid))
            .limit(page)
        ).all()
        merged += [(r.timestamp, r.uuid, r) for r in rows]
    received = db.session.scalars(
        select(ReceivedStatement)
        .where(*_received_conditions(query))
        .order_by(direction(ReceivedStatement.stored), direction(ReceivedStatement.uuid))
        .limit(page)
    ).all()
    merged += [(r.stored, r.uuid, r) for r in received]
    merged.sort(key=lambda item: (item[0], item[1]), reverse=not query.ascending)
    chosen, more = merged[: query.limit], len(merged) > query.limit
    learners = {r.learner for _, _, r in chosen if isinstance(r, Statement)}
    agents = actors(learners, base_url, identify_by)
    out = []
    for _, _, row in chosen:
        if isinstance(row, Statement):
            statement = shaping.conformant(
                stored_of(row),
                base_url=base_url,
                actor=agents[row.learner],
                course=courses.get(row.course_id),
            )
        else:
            statement = dict(row.statement)
        out.append(_ids_format(statement) if query.format == "ids" else statement)
    cursor = encode_cursor(chosen[-1][0], chosen[-1][1]) if more and chosen else None
    return out, cursor


def stored_of(row: Statement) -> shaping.StoredStatement:
    """The plain data of a statements-table row."""
    return shaping.StoredStatement(
        uuid=row.uuid,
        learner=row.learner,
        verb=row.verb,
        course_id=row.course_id,
        module_id=row.module_id,
        section_id=row.section_id,
        result=row.result,
        context=row.context or {},
        timestamp=row.timestamp,
    )


def learner_statements(
    learner: str, *, base_url: str, courses: Mapping[str, Course], identify_by: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A learner's own statements, oldest first, shaped as the statements API serves them.

    :returns: the statements, and those a client voided, each with the id that voided it.
    """
    rows = db.session.scalars(
        select(Statement).where(Statement.learner == learner).order_by(Statement.id)
    ).all()
    if not rows:
        return [], []
    actor = actors([learner], base_url, identify_by)[learner]
    voided = dict(
        db.session.execute(
            select(VoidedStatement.target, VoidedStatement.voided_by).where(
                VoidedStatement.target.in_([r.uuid for r in rows])
            )
        ).all()
    )
    kept: list[dict[str, Any]] = []
    hidden: list[dict[str, Any]] = []
    for row in rows:
        statement = shaping.conformant(
            stored_of(row), base_url=base_url, actor=actor, course=courses.get(row.course_id)
        )
        if row.uuid in voided:
            hidden.append({"voided_by": voided[row.uuid], "statement": statement})
        else:
            kept.append(statement)
    return kept, hidden


def is_voided(statement_id: str) -> bool:
    """Whether a voiding statement names this one."""
    found = db.session.scalar(
        select(VoidedStatement.id).where(VoidedStatement.target == statement_id)
    )
    return found is not None


def own_statement(
    statement_id: str,
    *,
    base_url: str,
    courses: Mapping[str, Course],
    identify_by: str,
    voided: bool = False,
) -> dict[str, Any] | None:
    """One statement by id, own or received; None if there is none.

    :param voided: look for a voided statement (voidedStatementId): a voided one is found only
        this way, one that is not voided only the other way (xAPI 1.0.3 §2.1.3 of the API).
    """
    if is_voided(statement_id) != voided:
        return None
    row = db.session.scalar(select(Statement).where(Statement.uuid == statement_id))
    if row is not None:
        actor = actors([row.learner], base_url, identify_by)[row.learner]
        return shaping.conformant(
            stored_of(row), base_url=base_url, actor=actor, course=courses.get(row.course_id)
        )
    received = db.session.scalar(
        select(ReceivedStatement).where(ReceivedStatement.uuid == statement_id)
    )
    return dict(received.statement) if received else None


# --- storing statements other systems send --------------------------------------------------


def _uuid(text: object, name: str) -> str:
    try:
        return str(uuid.UUID(str(text)))
    except ValueError as exc:
        raise XapiError(f"{name} must be a UUID") from exc


def _iri(value: object, name: str) -> str:
    if not isinstance(value, str) or not _IRI_RE.match(value):
        raise XapiError(f"{name} must be an IRI")
    return value


def _activities_of(statement: Mapping[str, Any]) -> set[str]:
    """The object's id (an Activity) and every context activity: related_activities reads them."""
    found = set()
    target = statement["object"]
    if target.get("objectType", "Activity") == "Activity":
        found.add(target["id"])
    context = statement.get("context") or {}
    for group in (context.get("contextActivities") or {}).values():
        for activity in group if isinstance(group, list) else [group]:
            if isinstance(activity, Mapping) and isinstance(activity.get("id"), str):
                found.add(activity["id"])
    return found


def validate(statement: object) -> dict[str, Any]:
    """A received statement checked against xAPI 1.0.3's required shape.

    :raises XapiError: naming what is wrong.
    """
    if not isinstance(statement, dict):
        raise XapiError("a statement must be a JSON object")
    extra = set(statement) - STATEMENT_KEYS
    if extra:
        raise XapiError(f"unknown statement properties: {', '.join(sorted(extra))}")
    for name in ("actor", "verb", "object"):
        if not isinstance(statement.get(name), dict):
            raise XapiError(f"a statement needs an {name} object")
    agent_ifi(statement["actor"])
    _iri(statement["verb"].get("id"), "verb.id")
    target = statement["object"]
    kind = target.get("objectType", "Activity")
    if kind == "Activity":
        _iri(target.get("id"), "object.id")
    elif kind in ("Agent", "Group"):
        agent_ifi(target)
    elif kind == "StatementRef":
        _uuid(target.get("id"), "object.id")
    elif kind != "SubStatement":
        raise XapiError(f"unknown object type {kind!r}")
    if statement["verb"]["id"] == VOIDED and kind != "StatementRef":
        raise XapiError("a voiding statement's object must be a StatementRef")
    if "timestamp" in statement:
        parse_timestamp(str(statement["timestamp"]))
    score = (statement.get("result") or {}).get("score")
    if isinstance(score, dict) and "scaled" in score:
        scaled = score["scaled"]
        if not isinstance(scaled, int | float) or not -1 <= scaled <= 1:
            raise XapiError("result.score.scaled must be a number in -1..1")
    registration = (statement.get("context") or {}).get("registration")
    if registration is not None:
        _uuid(registration, "context.registration")
    return statement


def _comparable(statement: Mapping[str, Any]) -> dict[str, Any]:
    """A statement without what the receiving LRS sets itself, to compare two copies."""
    return {k: v for k, v in statement.items() if k not in ("stored", "authority", "version")}


def _void(target: str, voided_by: str) -> None:
    """Record that `voided_by` voids `target`; a voiding statement itself cannot be voided."""
    voiding = db.session.scalar(
        select(ReceivedStatement.id).where(
            ReceivedStatement.uuid == target, ReceivedStatement.verb_id == VOIDED
        )
    )
    if voiding is not None or target == voided_by:
        raise XapiError(f"statement {target} voids another statement: it cannot be voided")
    if db.session.scalar(select(VoidedStatement.id).where(VoidedStatement.target == target)):
        return  # voided already; the first voiding stands
    db.session.add(VoidedStatement(target=target, voided_by=voided_by))
    db.session.flush()


def store_statements(
    statements: list[object], client: XapiClient, statement_id: str | None = None
) -> list[str]:
    """Store statements sent by a client; a copy of one already stored is accepted again.

    Sending the same statement twice (same id, same content) stores it once: that is what
    makes a forwarder's resend after a lost reply harmless.

    :param statement_id: PUT's statementId, which the (single) statement must carry or take.
    :returns: the ids of the statements, in order.
    :raises XapiError: 400 for an invalid statement, 409 for an id already used differently.
    """
    write_transaction()
    checked = [validate(s) for s in statements]
    if statement_id is not None:
        statement_id = _uuid(statement_id, "statementId")
        given = checked[0].get("id")
        if given is not None and _uuid(given, "id") != statement_id:
            raise XapiError("the statement's id differs from statementId")
        checked[0]["id"] = statement_id
    ids: list[str] = []
    now = utcnow()
    for statement in checked:
        statement_uuid = _uuid(statement.get("id") or uuid.uuid4(), "id")
        if statement_uuid in ids:
            raise XapiError(f"statement id {statement_uuid} appears twice in one request")
        statement["id"] = statement_uuid
        existing = db.session.scalar(
            select(ReceivedStatement).where(ReceivedStatement.uuid == statement_uuid)
        )
        if existing is None and db.session.scalar(
            select(Statement.id).where(Statement.uuid == statement_uuid)
        ):
            raise XapiError(f"statement {statement_uuid} already exists", 409)
        if existing is not None:
            if _comparable(existing.statement) != _comparable(statement):
                raise XapiError(f"statement {statement_uuid} exists with other content", 409)
            ids.append(statement_uuid)
            continue
        stored = shaping.iso_timestamp(now)
        full = {
            **statement,
            "timestamp": statement.get("timestamp", stored),
            "stored": stored,
            "authority": {
                "objectType": "Agent",
                "name": client.name,
                "account": {"homePage": "urn:xapi-client", "name": client.key},
            },
            "version": statement.get("version", shaping.VERSION),
        }
        registration = (statement.get("context") or {}).get("registration")
        row = ReceivedStatement(
            uuid=statement_uuid,
            actor_ifi=agent_ifi(statement["actor"]),
            verb_id=statement["verb"]["id"],
            object_id=str(statement["object"].get("id", "")),
            registration=str(uuid.UUID(registration)) if registration else None,
            statement=full,
            stored=now,
            client_id=client.id,
        )
        db.session.add(row)
        db.session.flush()
        if statement["verb"]["id"] == VOIDED:
            _void(_uuid(statement["object"]["id"], "object.id"), statement_uuid)
        for activity in _activities_of(statement):
            db.session.add(ReceivedActivity(statement_id=row.id, activity_id=activity[:400]))
        ids.append(statement_uuid)
    db.session.flush()
    return ids
