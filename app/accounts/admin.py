"""Account administration: search, roles, disabling, one-time reset links, reset e-mails."""

from __future__ import annotations

import hashlib
import secrets
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from sqlalchemy import func, or_, select, update

from app.accounts.models import ROLES, PasswordReset, User, utcnow
from app.accounts.services import AccountError, hash_password, normalise_email
from app.database import writes
from app.extensions import db

RESET_LIFETIME = timedelta(hours=24)
SMTP_TIMEOUT = 10  # seconds: a dead mail server must not hold the request for long


class LastAdmin(AccountError):
    """The change would leave the site without an active admin."""


class InvalidReset(AccountError):
    """A reset link that is unknown, used already or expired."""


def search_users(query: str = "", limit: int = 50, offset: int = 0) -> tuple[list[User], int]:
    """Accounts whose name or e-mail contains `query` (all when empty), by e-mail; and the count."""
    where = []
    text = query.strip().lower()
    if text:
        # Escape LIKE's wildcards so a search for "a_b" means that text.
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            or_(
                func.lower(User.email).like(pattern, escape="\\"),
                func.lower(User.display_name).like(pattern, escape="\\"),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(User).where(*where)) or 0
    users = db.session.scalars(
        select(User).where(*where).order_by(User.email).limit(limit).offset(offset)
    ).all()
    return list(users), total


def _other_active_admins(user: User) -> int:
    return (
        db.session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.disabled.is_(False), User.id != user.id)
        )
        or 0
    )


@writes
def set_role(user: User, role: str) -> None:
    """Change an account's role.

    :raises LastAdmin: when it would leave no active admin.
    """
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}")
    if user.role == "admin" and role != "admin" and not _other_active_admins(user):
        raise LastAdmin(user.email)
    user.role = role
    db.session.flush()


@writes
def set_disabled(user: User, disabled: bool) -> None:
    """Disable (its sessions end at once) or enable an account.

    :raises LastAdmin: when it would leave no active admin.
    """
    if disabled and user.role == "admin" and not _other_active_admins(user):
        raise LastAdmin(user.email)
    user.disabled = disabled
    if disabled:
        user.session_token = secrets.token_hex(16)
    db.session.flush()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@writes
def issue_reset(user: User, now: datetime | None = None) -> str:
    """A new one-time reset token for the user (earlier unused ones stop working)."""
    now = now or utcnow()
    db.session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        PasswordReset(
            user_id=user.id,
            token_hash=_digest(token),
            created_at=now,
            expires_at=now + RESET_LIFETIME,
        )
    )
    db.session.flush()
    return token


def reset_for(token: str, now: datetime | None = None) -> PasswordReset | None:
    """The usable reset behind a token, or None."""
    if not token or len(token) > 100:
        return None
    reset = db.session.scalar(
        select(PasswordReset).where(PasswordReset.token_hash == _digest(token))
    )
    if reset is None or reset.used_at is not None or reset.expires_at <= (now or utcnow()):
        return None
    user = db.session.get(User, reset.user_id)
    return reset if user is not None and not user.disabled else None


@writes
def redeem_reset(token: str, password: str, now: datetime | None = None) -> User:
    """Set a new password with a reset token, once; every other session of the account ends.

    :raises InvalidReset: when the token is unknown, used or expired.
    """
    reset = reset_for(token, now)
    if reset is None:
        raise InvalidReset("unknown, used or expired reset link")
    user = db.session.get(User, reset.user_id)
    assert user is not None
    reset.used_at = now or utcnow()
    user.password_hash = hash_password(password)
    user.session_token = secrets.token_hex(16)
    db.session.flush()
    return user


def user_by_email(email: str) -> User | None:
    """The active account with this e-mail."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email)))
    return user if user is not None and not user.disabled else None


def send_mail(smtp_url: str, sender: str, to: str, subject: str, body: str) -> None:
    """Send a plain-text e-mail through the server `smtp_url` names.

    smtp://[user:password@]host[:port] (STARTTLS when the server offers it) or smtps://...
    :raises OSError, smtplib.SMTPException: when the server cannot be reached or refuses.
    """
    parts = urlsplit(smtp_url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message.set_content(body)
    secure = parts.scheme == "smtps"
    client_class = smtplib.SMTP_SSL if secure else smtplib.SMTP
    port = parts.port or (465 if secure else 25)
    with client_class(parts.hostname or "127.0.0.1", port, timeout=SMTP_TIMEOUT) as client:
        if not secure:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
        if parts.username:
            client.login(unquote(parts.username), unquote(parts.password or ""))
        client.send_message(message)
