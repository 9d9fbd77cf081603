"""LTI 1.3 on the tool side: registrations, nonces, launched accounts, where scores go back.

`ToolConf` hands PyLTI1p3 the registrations an admin made (`flask lti register`); the views
run the library's OIDC login and launch checks with it. Nonces live here, not in the session:
a launch is a cross-site POST, and a nonce must work once only (the library's session store
would accept the same id_token again).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.tool_config.abstract import ToolConfAbstract
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from app.accounts.models import User, utcnow
from app.database import rowcount, writes
from app.driver import run
from app.extensions import db
from app.lti.keys import ToolKey
from app.lti.models import LtiAccount, LtiGradeLink, LtiNonce, LtiPlatform

#: How long a nonce from the OIDC login stays good for its launch.
NONCE_SECONDS = 600
#: The roles claim, and the context roles that make a trainer here (LTI 1.3 core, A.2.2).
ROLES_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/roles"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
_TRAINER_ROLES = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
)
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class RegistrationError(ValueError):
    """A platform registration that cannot be stored as given."""


def role_for(roles: Sequence[str]) -> str:
    """Our role for a launch's LTI roles: Instructor -> trainer, anything else -> learner."""
    return "trainer" if any(r in _TRAINER_ROLES for r in roles) else "learner"


def _check_url(name: str, url: str) -> str:
    """An endpoint of the platform: https, or http on loopback (a platform on this machine)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return url
    raise RegistrationError(f"{name} must be an https:// URL (or http:// on loopback): {url!r}")


@writes
def register_platform(
    *,
    name: str,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: Sequence[str],
    auth_audience: str = "",
) -> LtiPlatform:
    """Store a platform's registration (flushes); refuse a duplicate or a bad endpoint.

    :raises RegistrationError: with what to fix.
    """
    if not issuer.strip() or not client_id.strip():
        raise RegistrationError("the issuer and the client id are required")
    if not deployment_ids or not all(d.strip() for d in deployment_ids):
        raise RegistrationError("at least one deployment id is required")
    platform = LtiPlatform(
        name=name.strip() or issuer,
        issuer=issuer.strip(),
        client_id=client_id.strip(),
        auth_login_url=_check_url("the OIDC login URL", auth_login_url),
        auth_token_url=_check_url("the token URL", auth_token_url),
        auth_audience=auth_audience,
        key_set_url=_check_url("the JWKS URL", key_set_url),
        deployment_ids=[d.strip() for d in deployment_ids],
    )
    db.session.add(platform)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError as error:
        raise RegistrationError(
            f"{issuer} with client id {client_id} is registered already"
        ) from error
    return platform


def platforms() -> list[LtiPlatform]:
    """Every registration, active ones first."""
    return list(
        db.session.scalars(select(LtiPlatform).order_by(LtiPlatform.active.desc(), LtiPlatform.id))
    )


@writes
def deactivate_platform(platform_id: int) -> LtiPlatform | None:
    """Refuse further launches from a registration (its accounts and progress stay)."""
    platform = db.session.get(LtiPlatform, platform_id)
    if platform is not None:
        platform.active = False
        db.session.flush()
    return platform


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The active registration for an issuer and client id (or the issuer's only one)."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer, LtiPlatform.active.is_(True))
    if client_id:
        return db.session.scalars(query.where(LtiPlatform.client_id == client_id)).first()
    found = list(db.session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


class _Registration(Registration):
    """A registration that names the tool's key id in what it signs (the AGS token request).

    The library derives the id from the public key's JWK, which has none of its own.
    """

    kid: str | None = None

    def get_kid(self) -> str | None:
        """The tool key's id, as the JWKS at /lti/jwks.json publishes it."""
        return self.kid


class ToolConf(ToolConfAbstract[Request]):
    """PyLTI1p3's view of the registrations in our database, signing with the tool's key."""

    def __init__(self, key: ToolKey) -> None:
        super().__init__()
        self._key = key

    def check_iss_has_one_client(self, iss: str) -> bool:
        """Never: an issuer may have several client ids here."""
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        """Always (see check_iss_has_one_client)."""
        return True

    def _registration(self, platform: LtiPlatform | None) -> Registration | None:
        if platform is None:
            return None
        registration = _Registration()
        registration.set_issuer(platform.issuer).set_client_id(platform.client_id)
        registration.set_auth_login_url(platform.auth_login_url)
        registration.set_auth_token_url(platform.auth_token_url)
        registration.set_key_set_url(platform.key_set_url)
        registration.set_tool_private_key(self._key.private_pem)
        if platform.auth_audience:
            registration.set_auth_audience(platform.auth_audience)
        registration.kid = self._key.kid
        return registration

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Registration:
        """The issuer's only registration."""
        return self._registration(find_platform(iss, None))  # type: ignore[return-value]

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Registration:
        """The registration of this issuer and client id (None makes the library refuse)."""
        return self._registration(find_platform(iss, client_id))  # type: ignore[return-value]

    def find_deployment(self, iss: str, deployment_id: str) -> Deployment | None:
        """A deployment of the issuer's only registration."""
        return self.find_deployment_by_params(iss, deployment_id, "")

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Deployment | None:
        """The deployment, if the registration lists it."""
        platform = find_platform(iss, client_id or None)
        if platform is None or deployment_id not in platform.deployment_ids:
            return None
        return Deployment().set_deployment_id(deployment_id)


# --- nonces -----------------------------------------------------------------------------------


@writes
def issue_nonce(value: str, now: datetime | None = None) -> None:
    """Record a nonce the OIDC login sends to the platform; forget long-expired ones."""
    now = now or utcnow()
    db.session.execute(delete(LtiNonce).where(LtiNonce.expires_at < now - timedelta(days=1)))
    db.session.add(LtiNonce(value=value, expires_at=now + timedelta(seconds=NONCE_SECONDS)))
    db.session.flush()


def nonce_usable(value: str, now: datetime | None = None) -> bool:
    """Whether a nonce was issued here, is fresh and unspent (the library's check)."""
    now = now or utcnow()
    found = db.session.scalars(
        select(LtiNonce.id).where(
            LtiNonce.value == value, LtiNonce.used_at.is_(None), LtiNonce.expires_at > now
        )
    ).first()
    return found is not None


@writes
def use_nonce(value: str, now: datetime | None = None) -> bool:
    """Spend a nonce: True the first time, while it is fresh; False ever after (a replay)."""
    now = now or utcnow()
    spent = db.session.execute(
        update(LtiNonce)
        .where(LtiNonce.value == value, LtiNonce.used_at.is_(None), LtiNonce.expires_at > now)
        .values(used_at=now)
    )
    return rowcount(spent) == 1


# --- accounts -----------------------------------------------------------------------------------


def _email_for(platform: LtiPlatform, subject: str) -> str:
    """A unique address no mail goes to (`.invalid`, RFC 2606): LTI accounts sign in by launch."""
    digest = hashlib.sha256(f"{platform.id}\n{subject}".encode()).hexdigest()[:24]
    return f"lti-{digest}@lti.invalid"


def _display_name(claims: dict[str, Any]) -> str:
    name = str(claims.get("name") or "").strip()
    if not name:
        name = " ".join(
            str(claims.get(k) or "").strip() for k in ("given_name", "family_name")
        ).strip()
    return re.sub(r"\s+", " ", name)[:120] or "LTI"


@writes
def account_for_launch(platform: LtiPlatform, claims: dict[str, Any]) -> tuple[User, LtiAccount]:
    """The account a launched user is mapped to, made at their first launch (no password).

    Never matched to an existing account by e-mail: a platform could name anyone's address.
    The role follows the platform's on every launch (Instructor -> trainer, else learner);
    an admin stays an admin.
    """
    subject = str(claims.get("sub") or "")
    if not subject:
        raise ValueError("the launch names no user (no sub claim)")
    roles = [str(r) for r in claims.get(ROLES_CLAIM) or []]
    role = role_for(roles)
    account = db.session.scalars(
        select(LtiAccount).where(
            LtiAccount.platform_id == platform.id, LtiAccount.subject == subject
        )
    ).first()
    if account is None:
        user = User(
            email=_email_for(platform, subject),
            display_name=_display_name(claims),
            password_hash="",  # matches no password: this account signs in by launch only
            role=role,
        )
        db.session.add(user)
        db.session.flush()
        account = LtiAccount(platform_id=platform.id, subject=subject, user_id=user.id)
        db.session.add(account)
    else:
        user = db.session.get(User, account.user_id)  # type: ignore[assignment]
        if user.role != "admin":
            user.role = role
        if _display_name(claims) != "LTI":
            user.display_name = _display_name(claims)
        account.last_launch_at = utcnow()
    db.session.flush()
    return user, account


# --- grades ---------------------------------------------------------------------------------------


@writes
def link_grades(
    account: LtiAccount, course_id: str, module_id: str, claims: dict[str, Any]
) -> LtiGradeLink | None:
    """Remember where this learner's score for the module goes, if the launch offers AGS."""
    service = claims.get(AGS_CLAIM)
    if not isinstance(service, dict):
        return None
    lineitem = str(service.get("lineitem") or "")
    scopes = service.get("scope") or []
    if not lineitem or SCORE_SCOPE not in scopes:
        return None
    link = db.session.scalars(
        select(LtiGradeLink).where(
            LtiGradeLink.account_id == account.id, LtiGradeLink.lineitem == lineitem
        )
    ).first()
    if link is None:
        link = LtiGradeLink(account_id=account.id, lineitem=lineitem, sent_score=None)
        db.session.add(link)
    link.course_id, link.module_id = course_id, module_id
    link.service = {"lineitem": lineitem, "scope": list(scopes)}
    db.session.flush()
    return link


# Built once, run on the driver: every quiz submission of a signed-in learner asks it, and
# most learners never came by LTI.
_LINKS, _ACCOUNTS = LtiGradeLink.__table__, LtiAccount.__table__
_PLATFORMS = LtiPlatform.__table__
_GRADE_LINK_IDS = (
    select(_LINKS.c.id)
    .select_from(
        _LINKS.join(_ACCOUNTS, _ACCOUNTS.c.id == _LINKS.c.account_id).join(
            _PLATFORMS, _PLATFORMS.c.id == _ACCOUNTS.c.platform_id
        )
    )
    .where(
        _ACCOUNTS.c.user_id == bindparam("user_id"),
        _LINKS.c.course_id == bindparam("course_id"),
        _LINKS.c.module_id == bindparam("module_id"),
        _PLATFORMS.c.active.is_(True),
    )
    .order_by(_LINKS.c.id)
)


def grade_link_ids(user_id: int, course_id: str, module_id: str) -> list[int]:
    """Every line item a learner's score for this module goes to (grade link ids)."""
    params = {"user_id": user_id, "course_id": course_id, "module_id": module_id}
    return [link_id for (link_id,) in run(db.session.connection(), _GRADE_LINK_IDS, params)]


def grade_target(link_id: int) -> tuple[LtiGradeLink, LtiAccount, LtiPlatform, User] | None:
    """A grade link with its account, platform and user, or None if any is gone."""
    link = db.session.get(LtiGradeLink, link_id)
    if link is None:
        return None
    account = db.session.get(LtiAccount, link.account_id)
    platform = db.session.get(LtiPlatform, account.platform_id) if account else None
    user = db.session.get(User, account.user_id) if account else None
    if account is None or platform is None or user is None or not platform.active:
        return None
    return link, account, platform, user


@writes
def record_sent(link_id: int, score: float | None, error: str = "") -> None:
    """Note what the platform acknowledged (or the last error) for a grade link."""
    link = db.session.get(LtiGradeLink, link_id)
    if link is None:
        return
    if error:
        link.last_error = error[:500]
    else:
        link.sent_score, link.sent_at, link.last_error = score, utcnow(), ""
    db.session.flush()
