"""Register, sign in and out, change password, export and delete one's data."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from app.accounts import services
from app.accounts.forms import (
    DeleteForm,
    EmptyForm,
    LoginForm,
    PasswordForm,
    RegisterForm,
    add_error,
)
from app.accounts.models import User
from app.extensions import db, limiter, login_manager
from app.i18n import languages
from app.web import catalogue, site_base_url, take_guest_key

bp = Blueprint("accounts", __name__)

LOGIN_LIMIT = "10 per minute"  # per address
ACCOUNT_LIMIT = "5 per minute"  # per e-mail, whatever the address
REGISTER_LIMIT = "20 per hour"
PASSWORD_FORM_LIMIT = "10 per minute"


def _email_key() -> str:
    """Rate-limit key for one account, so changing address does not buy more guesses."""
    return "email:" + services.normalise_email(request.form.get("email", ""))


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Find the user of a session; a changed password invalidates old sessions."""
    number, _, token = user_id.partition(":")
    if not number.isdigit():
        return None
    user = services.user_by_id(int(number))
    if user is None or user.disabled:
        return None
    return user if user.session_token == token else None


@login_manager.unauthorized_handler
def unauthorized() -> ResponseReturnValue:
    """Send a guest to the sign-in page in their language, then back here."""
    lang = (request.view_args or {}).get("lang") or languages()[0]
    return redirect(url_for("accounts.login", lang=lang, next=request.full_path.rstrip("?")))


def safe_next(target: str | None, lang: str) -> str:
    """A redirect target on this site only; anything else goes to the dashboard."""
    fallback = url_for("progress.dashboard", lang=lang)
    if not target:
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    if "\\" in target or any(ord(c) < 32 for c in target):
        return fallback
    return target


def _sign_in(user: User, remember: bool) -> int:
    """Log the user in and move this browser's guest progress to their account.

    Only a guest's progress moves: someone signing in on a browser where another account is
    signed in switches accounts, and the other account keeps everything it had.
    """
    if current_user.is_authenticated:
        logout_user()
    guest = take_guest_key()
    login_user(user, remember=remember)
    return services.adopt_guest(guest, user, catalogue().courses)


@bp.route("/<lang:lang>/register", methods=["GET", "POST"])
@limiter.limit(REGISTER_LIMIT, methods=["POST"])
def register(lang: str) -> ResponseReturnValue:
    """Create a learner account; a guest's progress comes along."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(
                form.email.data or "", form.password.data or "", form.display_name.data or ""
            )
        except services.EmailTaken:
            add_error(form.email, _("An account with this e-mail already exists."))
        else:
            _sign_in(user, remember=False)
            db.session.commit()
            flash(_("Welcome, %(name)s! Your account is ready.", name=user.display_name))
            return redirect(safe_next(request.args.get("next"), lang))
    return render_template("accounts/register.html", form=form, lang=lang)


@bp.route("/<lang:lang>/login", methods=["GET", "POST"])
@limiter.limit(LOGIN_LIMIT, methods=["POST"])
@limiter.limit(ACCOUNT_LIMIT, methods=["POST"], key_func=_email_key)
def login(lang: str) -> ResponseReturnValue:
    """Sign in with e-mail and password."""
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data or "", form.password.data or "")
        if user is None:
            add_error(form.password, _("Wrong e-mail or password."))
        else:
            _sign_in(user, remember=bool(form.remember.data))
            db.session.commit()
            return redirect(safe_next(request.args.get("next"), lang))
    return render_template("accounts/login.html", form=form, lang=lang)


@bp.post("/<lang:lang>/logout")
def logout(lang: str) -> ResponseReturnValue:
    """Sign out (a POST with a CSRF token, so no other site can sign anyone out)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    if current_user.is_authenticated:
        # A copied session or "remember me" cookie must not outlive signing out.
        services.end_sessions(current_user)
        db.session.commit()
    logout_user()
    return redirect(url_for("content.home", lang=lang))


@bp.post("/<lang:lang>/me/sign-out-everywhere")
@login_required
def sign_out_everywhere(lang: str) -> ResponseReturnValue:
    """End every session of the account, on every device (this one included)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    services.end_sessions(current_user)
    db.session.commit()
    logout_user()
    flash(_("You are signed out on every device. Sign in again to continue."))
    return redirect(url_for("accounts.login", lang=lang))


@bp.route("/<lang:lang>/me/password", methods=["GET", "POST"])
@limiter.limit(PASSWORD_FORM_LIMIT, methods=["POST"])
@login_required
def password(lang: str) -> ResponseReturnValue:
    """Change one's password."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                current_user, form.current.data or "", form.password.data or ""
            )
        except services.WrongPassword:
            add_error(form.current, _("This is not your current password."))
        else:
            db.session.commit()
            # The new session token signs this device in again, remembered only if it was.
            remembered = current_app.config["REMEMBER_COOKIE_NAME"] in request.cookies
            login_user(current_user, remember=remembered)
            flash(_("Your password has been changed."))
            return redirect(url_for("progress.dashboard", lang=lang))
    return render_template("accounts/password.html", form=form, lang=lang)


@bp.get("/<lang:lang>/me/export.json")
@login_required
def export(lang: str) -> ResponseReturnValue:
    """Download everything we keep about the signed-in learner, as JSON."""
    data = services.export_data(
        current_user,
        base_url=site_base_url(),
        courses=catalogue().courses,
        identify_by=str(current_app.config.get("XAPI_IDENTIFY_BY", "account")),
    )
    db.session.commit()  # the learner's opaque xAPI key may have just been made
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="omnichannel-academy-data.json"'},
    )


@bp.route("/<lang:lang>/me/delete", methods=["GET", "POST"])
@limiter.limit(PASSWORD_FORM_LIMIT, methods=["POST"])
@login_required
def delete(lang: str) -> ResponseReturnValue:
    """Delete one's account and every piece of data about it."""
    form = DeleteForm()
    if form.validate_on_submit():
        try:
            services.delete_account(current_user, form.password.data or "")
        except services.WrongPassword:
            add_error(form.password, _("This is not your password."))
        else:
            db.session.commit()
            logout_user()
            flash(_("Your account and all its data have been deleted."))
            return redirect(url_for("content.home", lang=lang))
    return render_template("accounts/delete.html", form=form, lang=lang)
