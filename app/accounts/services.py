"""Accounts: registration, sign-in, password changes, data export and deletion."""

from __future__ import annotations

import functools
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from werkzeug.security import check_password_hash, generate_password_hash

from app.accounts.models import ROLES, User
from app.database import writes
from app.driver import run
from app.extensions import db
from app.progress import identity as progress
from app.quizzes import services as quizzes
from app.xapi import services as xapi

#: How new passwords are hashed: werkzeug's default (scrypt) unless set_password_hash() chose
#: other parameters. Stored hashes name their own method, so each is verified as it was made.
_password_hash = {"method": "scrypt"}


def set_password_hash(method: str) -> None:
    """Hash new passwords with this werkzeug method (the PASSWORD_HASH setting), process-wide.

    :raises ValueError: for anything but scrypt[:n[:r[:p]]] or pbkdf2[:hash[:iterations]].
    """
    name, *parameters = method.split(":")
    if name == "scrypt":
        valid = len(parameters) <= 3 and all(part.isdigit() for part in parameters)
    elif name == "pbkdf2":
        digest, iterations = (parameters + ["sha256", "1"])[:2]
        valid = (
            len(parameters) <= 2 and digest in hashlib.algorithms_available and iterations.isdigit()
        )
    else:
        valid = False
    if not valid:
        raise ValueError(
            f"unknown password hash {method!r}: scrypt[:n[:r[:p]]] or pbkdf2[:hash[:iterations]]"
        )
    _password_hash["method"] = method


@functools.cache
def _dummy_hash(method: str) -> str:
    """A hash checked against when the e-mail is unknown, made with the current method.

    A wrong e-mail then costs as much time as a wrong password and does not reveal which
    addresses have accounts. Made on the first such sign-in, not when the module is imported
    (every server process and command would pay for one hash at start).
    """
    return generate_password_hash("not-a-real-password", method)


class AccountError(ValueError):
    """A request about an account that cannot be carried out."""


class EmailTaken(AccountError):
    """Another account already uses this e-mail address."""


class WrongPassword(AccountError):
    """The password given to confirm an action is not the account's password."""


_USERS = cast(Table, User.__table__)
_USER_COLUMNS = [column.key for column in _USERS.columns]
_USER_BY_ID = select(*_USERS.columns).where(_USERS.c.id == bindparam("id"))


def user_by_id(user_id: int) -> User | None:
    """The account with this id, in the session (the user loader asks on every request).

    Read on the driver and put in the session as if loaded by a query (`session.get` took 110
    us, this 30); one the session holds already is the session's own, refreshed if expired.
    """
    session = db.session()
    if session.identity_map.get(identity_key(User, (user_id,))) is not None:
        return session.get(User, user_id)
    rows = run(session.connection(), _USER_BY_ID, {"id": user_id})
    if not rows:
        return None
    user = User(**dict(zip(_USER_COLUMNS, rows[0], strict=True)))
    make_transient_to_detached(user)  # as freshly loaded: persistent, nothing to flush
    session.add(user)
    return user


def normalise_email(email: str) -> str:
    """E-mail addresses compare without case or surrounding spaces."""
    return email.strip().lower()


def hash_password(password: str) -> str:
    """Hash with the configured method (werkzeug's scrypt unless PASSWORD_HASH says otherwise)."""
    return generate_password_hash(password, _password_hash["method"])


@writes
def create_user(email: str, password: str, display_name: str, role: str = "learner") -> User:
    """Create an account.

    :raises EmailTaken: when the e-mail is taken; AccountError for an unknown role.
    """
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
    email = normalise_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)):
        raise EmailTaken(f"an account with the e-mail {email} already exists")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
        session_token=secrets.token_hex(16),
    )
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user with this e-mail and password, or None."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        check_password_hash(_dummy_hash(_password_hash["method"]), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    # A disabled account reads as a failed sign-in: the form tells no one it exists.
    return None if user.disabled else user


@writes
def change_password(user: User, current: str, new: str) -> None:
    """Set a new password; other devices' "remember me" cookies stop working.

    :raises WrongPassword: when the current password is wrong.
    """
    if not check_password_hash(user.password_hash, current):
        raise WrongPassword("wrong password")
    user.password_hash = hash_password(new)
    user.session_token = secrets.token_hex(16)
    db.session.flush()


@writes
def end_sessions(user: User) -> None:
    """End every session of the account: cookies and "remember me" of every device stop working.

    Sessions live in signed cookies, so the account's session token is what revokes them: a
    cookie carrying the old token no longer signs anyone in.
    """
    user.session_token = secrets.token_hex(16)
    db.session.flush()


@writes
def set_eqf_level(user: User, level: int | None) -> None:
    """Remember the EQF level (3, 4, 5 or None) the learner studies at."""
    user.eqf_level = level
    db.session.flush()


@writes
def adopt_guest(guest_key: str | None, user: User, courses: dict[str, Any]) -> int:
    """Move what a guest did in this browser to their account. Returns statements moved."""
    if not guest_key:
        return 0
    moved = progress.adopt_guest_progress(guest_key, user.learner_key, courses)
    quizzes.move_guest_attempts(guest_key, user.learner_key)
    return moved


def export_data(
    user: User, *, base_url: str, courses: dict[str, Any], identify_by: str
) -> dict[str, Any]:
    """Everything the platform keeps about a user, as JSON-ready data.

    Statements are conformant xAPI 1.0.3, exactly as the statements API shapes them (an LRS
    imports them as they are); those a client voided are listed apart, with the voiding id.

    :param identify_by: how statements name the learner (the XAPI_IDENTIFY_BY setting).
    """
    learner = user.learner_key
    statements, voided = xapi.learner_statements(
        learner, base_url=base_url, courses=courses, identify_by=identify_by
    )
    return {
        "account": {
            "email": user.email,
            "display_name": user.display_name,
            "role": user.role,
            "created_at": user.created_at.isoformat() if user.created_at else None,
            "eqf_level": user.eqf_level,
        },
        "progress": progress.export_summaries(learner),
        "statements": statements,
        "voided_statements": voided,
        "quiz_attempts": quizzes.export_attempts(learner),
    }


@writes
def delete_account(user: User, password: str) -> None:
    """Delete a user and all their data, once their password confirms it.

    :raises WrongPassword: when the password is wrong.
    """
    if not check_password_hash(user.password_hash, password):
        raise WrongPassword("wrong password")
    progress.delete_learner_data(user.learner_key)
    quizzes.delete_attempts(user.learner_key)
    db.session.delete(user)
    db.session.flush()
