"""LTI 1.3 tool endpoints: OIDC login initiation, the launch, and the tool's JWKS.

A platform (Moodle, Canvas) links a module by its page URL as the target link URI. The login
step checks the registration and sends the browser back to the platform with a state and a
nonce; the launch checks the id_token (the platform's JWKS, issuer, audience, deployment,
expiry, nonce and state, all through PyLTI1p3), maps the user to an account with no password,
and opens the module. Launches are cross-site POSTs signed by the platform: no CSRF token.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user
from pylti1p3.contrib.flask import (
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
    FlaskSessionService,
)
from pylti1p3.exception import LtiException, OIDCException

from app.accounts import services as accounts
from app.extensions import csrf, db, limiter
from app.lti import services
from app.lti.grades import current_tool_key
from app.web import catalogue, site_base_url, take_guest_key

bp = Blueprint("lti", __name__)

_PAGE = re.compile(r"^(?P<lang>[a-z]{2})/(?P<course>[^/]+)/(?:(?P<module>[^/]+)/)?$")
#: PyJWT checks: signature, expiry (`exp` required), `iat` present. The audience is the
#: registration's client id, which the library compares itself.
_JWT_OPTIONS: dict[str, Any] = {"verify_aud": False, "require": ["exp", "iat", "nonce"]}
LAUNCH_LIMIT = "60 per minute"


class _Nonces(FlaskSessionService):
    """The library's session store, with nonces in the database and no launch data kept."""

    def save_nonce(self, nonce: str) -> None:
        """Record the nonce the login step sends to the platform."""
        services.issue_nonce(nonce)

    def check_nonce(self, nonce: str) -> bool:
        """Issued here, fresh and unspent (spent once the whole launch checks out)."""
        return services.nonce_usable(nonce)

    def save_launch_data(self, key: str, jwt_body: Any) -> None:
        """Not kept: the session is a cookie, and nothing reads a launch back later."""


def _refused(reason: str, status: int = 400) -> ResponseReturnValue:
    """A clear page in the learner's language; the library's reason is shown and logged."""
    db.session.rollback()
    current_app.logger.info("LTI launch refused: %s", reason)
    return render_template("lti/refused.html", reason=reason), status


def _target(uri: str) -> tuple[str, str, str | None] | None:
    """(language, course, module or None) of a target link URI on this site, if it is one."""
    base = site_base_url()
    if not uri.startswith(base):
        return None
    path = urlsplit(uri).path
    relative = path[len(urlsplit(base).path) :]
    match = _PAGE.match(relative if relative.endswith("/") else relative + "/")
    if match is None or match["lang"] not in current_app.config["LANGUAGES"]:
        return None
    course = catalogue().course(match["course"])
    if course is None or not course.visible:
        return None
    module = match["module"]
    if module is not None and course.module(module, match["lang"]) is None:
        return None
    return match["lang"], course.id, module


def _param(name: str) -> str:
    return str((request.form if request.method == "POST" else request.args).get(name) or "")


@bp.route("/lti/login", methods=["GET", "POST"])
@csrf.exempt
@limiter.limit(LAUNCH_LIMIT)
def login() -> ResponseReturnValue:
    """OIDC third-party login initiation: back to the platform with a state and a nonce."""
    if _target(_param("target_link_uri")) is None:
        return _refused("target_link_uri is not a course or module of this site")
    flask_request = FlaskRequest()
    oidc = FlaskOIDCLogin(
        flask_request,
        services.ToolConf(current_tool_key()),
        session_service=_Nonces(flask_request),
    )
    try:
        response = oidc.redirect(site_base_url() + "lti/launch")
    except (OIDCException, LtiException) as error:
        return _refused(str(error))
    db.session.commit()
    return response


@bp.post("/lti/launch")
@csrf.exempt
@limiter.limit(LAUNCH_LIMIT)
def launch() -> ResponseReturnValue:
    """The platform's id_token, checked; the user signed in and sent to the module."""
    flask_request = FlaskRequest()
    message = FlaskMessageLaunch(
        flask_request,
        services.ToolConf(current_tool_key()),
        session_service=_Nonces(flask_request),
    ).set_jwt_verify_options(dict(_JWT_OPTIONS))
    try:
        claims = dict(message.get_launch_data())
    except (LtiException, KeyError, ValueError) as error:
        return _refused(str(error))
    if not message.is_resource_launch():
        return _refused("only resource link launches are supported")
    if not services.use_nonce(str(claims.get("nonce"))):
        return _refused("this launch has been used already (nonce replayed)")
    platform = services.find_platform(str(claims.get("iss")), message.get_client_id())
    uri = str(claims.get("https://purl.imsglobal.org/spec/lti/claim/target_link_uri") or "")
    target = _target(uri)
    if platform is None or target is None:
        return _refused("the launch points at no course or module of this site")
    lang, course_id, module_id = target
    try:
        user, account = services.account_for_launch(platform, claims)
    except ValueError as error:
        return _refused(str(error))
    if user.disabled:
        return _refused("this account has been disabled by an administrator", 403)
    if module_id is not None:
        services.link_grades(account, course_id, module_id, claims)
    if current_user.is_authenticated and current_user.id != user.id:
        logout_user()
    guest = take_guest_key()
    login_user(user, fresh=True)
    accounts.adopt_guest(guest, user, catalogue().courses)
    db.session.commit()
    if module_id is None:
        return redirect(url_for("content.course", lang=lang, course_id=course_id), code=303)
    return redirect(
        url_for("content.module", lang=lang, course_id=course_id, module_id=module_id), code=303
    )


@bp.get("/lti/jwks.json")
def jwks() -> ResponseReturnValue:
    """The tool's public key, for the platform to check what the tool signs."""
    response = jsonify({"keys": [current_tool_key().public_jwk()]})
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
