"""Admin pages for accounts, and the password reset pages everyone uses."""

from __future__ import annotations

import smtplib

from flask import (
    Blueprint,
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

from app.accounts import admin
from app.accounts.forms import EmptyForm, ForgotForm, ResetForm
from app.accounts.models import ROLES, User
from app.database import write_transaction
from app.extensions import db, limiter
from app.trainer.access import admin_required

bp = Blueprint("admin", __name__)
PAGE_SIZE = 50
FORGOT_LIMIT = "5 per hour"


def role_label(role: str) -> str:
    """A role's name in the interface language."""
    labels = {"learner": _("learner"), "trainer": _("trainer"), "admin": _("admin")}
    return labels.get(role, role)


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.get("/<lang:lang>/admin/accounts/")
@admin_required
def accounts(lang: str) -> ResponseReturnValue:
    """Every account, searchable by name or e-mail, with its role and state."""
    query = request.args.get("q", "")[:100]
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() and len(page) < 6 else 1
    users, total = admin.search_users(query, PAGE_SIZE, (page_number - 1) * PAGE_SIZE)
    return render_template(
        "accounts/admin.html",
        lang=lang,
        users=users,
        total=total,
        query=query,
        page=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        roles=ROLES,
        role_label=role_label,
        form=EmptyForm(),
    )


def _back(lang: str) -> ResponseReturnValue:
    return redirect(url_for("admin.accounts", lang=lang, q=request.form.get("q") or None))


@bp.post("/<lang:lang>/admin/accounts/<int:user_id>/role")
@admin_required
def role(lang: str, user_id: int) -> ResponseReturnValue:
    """Give an account another role."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    user = _user_or_404(user_id)
    try:
        admin.set_role(user, request.form.get("role", ""))
    except admin.LastAdmin:
        flash(_("The site needs at least one active admin: this change was not made."))
        return _back(lang)
    except admin.AccountError:
        abort(400)
    db.session.commit()
    flash(_("%(email)s is now %(role)s.", email=user.email, role=role_label(user.role)))
    return _back(lang)


@bp.post("/<lang:lang>/admin/accounts/<int:user_id>/disabled")
@admin_required
def disable(lang: str, user_id: int) -> ResponseReturnValue:
    """Disable an account (it is signed out everywhere) or enable it again."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    user = _user_or_404(user_id)
    try:
        admin.set_disabled(user, request.form.get("disabled") == "1")
    except admin.LastAdmin:
        flash(_("The site needs at least one active admin: this change was not made."))
        return _back(lang)
    db.session.commit()
    if user.disabled:
        flash(_("%(email)s is disabled and signed out everywhere.", email=user.email))
    else:
        flash(_("%(email)s can sign in again.", email=user.email))
    return _back(lang)


@bp.post("/<lang:lang>/admin/accounts/<int:user_id>/reset")
@admin_required
def issue_reset(lang: str, user_id: int) -> ResponseReturnValue:
    """A one-time reset link, shown once, for the admin to pass on."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    user = _user_or_404(user_id)
    token = admin.issue_reset(user)
    db.session.commit()
    link = url_for("admin.reset", lang=lang, token=token, _external=True)
    response = current_app.make_response(
        render_template("accounts/reset_link.html", lang=lang, member=user, link=link)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<lang:lang>/forgot", methods=["GET", "POST"])
@limiter.limit(FORGOT_LIMIT, methods=["POST"])
def forgot(lang: str) -> ResponseReturnValue:
    """Ask for a reset link by e-mail, or learn whom to ask when the site sends no e-mail."""
    smtp_url = current_app.config["SMTP_URL"]
    form = ForgotForm()
    if smtp_url and form.validate_on_submit():
        write_transaction()
        user = admin.user_by_email(form.email.data or "")
        if user is not None:
            token = admin.issue_reset(user)
            link = url_for("admin.reset", lang=lang, token=token, _external=True)
            body = _(
                "Hello %(name)s,\n\nto choose a new password for Omnichannel Academy, open this "
                "link within 24 hours:\n\n%(link)s\n\nIf you did not ask for it, ignore this "
                "e-mail: your password stays as it is.",
                name=user.display_name,
                link=link,
            )
            try:
                admin.send_mail(
                    smtp_url,
                    current_app.config["MAIL_FROM"],
                    user.email,
                    _("Your password reset link"),
                    body,
                )
            except (OSError, smtplib.SMTPException) as error:
                db.session.rollback()
                current_app.logger.warning("reset e-mail not sent: %s", error)
                flash(_("The e-mail could not be sent just now. Please try again later."))
                return render_template("accounts/forgot.html", lang=lang, form=form, smtp=True)
        db.session.commit()
        # The same answer whether the account exists or not: the form reveals no address.
        flash(
            _(
                "If an account uses this address, a reset link is on its way. "
                "It works once, for 24 hours."
            )
        )
        return redirect(url_for("accounts.login", lang=lang))
    return render_template("accounts/forgot.html", lang=lang, form=form, smtp=bool(smtp_url))


@bp.route("/<lang:lang>/reset/<token>", methods=["GET", "POST"])
def reset(lang: str, token: str) -> ResponseReturnValue:
    """Choose a new password from a one-time link."""
    if admin.reset_for(token) is None:
        return render_template("accounts/reset.html", lang=lang, form=None), 410
    form = ResetForm()
    if form.validate_on_submit():
        write_transaction()
        try:
            admin.redeem_reset(token, form.password.data or "")
        except admin.InvalidReset:
            db.session.rollback()
            return render_template("accounts/reset.html", lang=lang, form=None), 410
        db.session.commit()
        flash(_("Your new password is set. Sign in with it."))
        return redirect(url_for("accounts.login", lang=lang))
    return render_template("accounts/reset.html", lang=lang, form=form)
