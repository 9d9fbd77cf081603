"""Admin page of the statements API: issue, list and revoke client credentials."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.extensions import db
from app.trainer.access import admin_required, trainer_required
from app.web import site_base_url
from app.xapi import outbox, services
from app.xapi.forms import NewClientForm, RevokeForm

bp = Blueprint("xapi_admin", __name__)


def _page(lang: str, form: NewClientForm, issued: tuple[Any, str] | None = None) -> Any:
    response = make_response(
        render_template(
            "xapi/admin.html",
            lang=lang,
            form=form,
            revoke=RevokeForm(),
            clients=services.list_clients(),
            issued=issued,
            endpoint=site_base_url() + "xapi/",
        )
    )
    # A page that may show a secret must never be kept by a cache or the back button.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<lang:lang>/admin/xapi/", methods=["GET", "POST"])
@admin_required
def clients(lang: str) -> ResponseReturnValue:
    """The clients of /xapi/, and a form to issue new credentials (the secret shown once)."""
    form = NewClientForm()
    if form.validate_on_submit():
        client, secret = services.issue_client(
            form.name.data or "", can_write=bool(form.can_write.data), created_by=current_user.email
        )
        db.session.commit()
        return _page(lang, NewClientForm(formdata=None), issued=(client, secret))
    return _page(lang, form)


@bp.post("/<lang:lang>/admin/xapi/clients/<key>/revoke")
@admin_required
def revoke(lang: str, key: str) -> ResponseReturnValue:
    """Revoke one client's credentials."""
    if not RevokeForm().validate_on_submit():
        abort(400)
    client = services.revoke_client(key)
    if client is None:
        abort(404)
    db.session.commit()
    flash(_("Credentials of %(name)s revoked.", name=client.name))
    return redirect(url_for("xapi_admin.clients", lang=lang), 303)


@bp.get("/<lang:lang>/trainer/xapi/")
@trainer_required
def forwarding(lang: str) -> ResponseReturnValue:
    """Trainers see whether statements reach the external LRS, and how many still wait."""
    count, oldest, error = outbox.backlog()
    return render_template(
        "xapi/forwarding.html",
        lang=lang,
        enabled=outbox.forwarding_enabled(current_app.config),
        endpoint=str(current_app.config.get("XAPI_ENDPOINT") or ""),
        count=count,
        oldest=oldest,
        error=error,
    )
