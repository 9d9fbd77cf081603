"""The statements API under /xapi/: the spec's About resource and Statement resource.

Clients authenticate with HTTP Basic credentials an admin issued (`flask xapi clients create`
or the admin page); read-only clients may GET, clients allowed to write may also PUT/POST.
No cookies are involved, so the CSRF check does not apply here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, g, request, url_for
from flask.typing import ResponseReturnValue

from app.accounts.models import utcnow
from app.extensions import csrf, db
from app.web import catalogue, site_base_url
from app.xapi import services, shaping
from app.xapi.services import XapiError

bp = Blueprint("xapi", __name__, url_prefix="/xapi")
csrf.exempt(bp)
SUPPORTED_VERSIONS = ("1.0.0", "1.0.1", "1.0.2", "1.0.3")


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(
        json.dumps(data, ensure_ascii=False), status=status, mimetype="application/json"
    )
    response.headers["X-Experience-API-Version"] = shaping.VERSION
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _error(message: str, status: int) -> Response:
    headers = {"WWW-Authenticate": 'Basic realm="xAPI"'} if status == 401 else None
    return _json({"error": message}, status, headers)


def client_required(write: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Check the xAPI version header and the client's Basic credentials (and write right)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            version = request.headers.get("X-Experience-API-Version", "")
            if not version:
                return _error("the X-Experience-API-Version header is required", 400)
            if version not in SUPPORTED_VERSIONS:
                return _error(f"xAPI version {version} is not supported; use 1.0.3", 400)
            auth = request.authorization
            client = None
            if auth is not None and auth.type == "basic":
                client = services.authenticate(auth.username or "", auth.password or "")
            if client is None:
                return _error("valid xAPI client credentials are required", 401)
            if write and not client.can_write:
                return _error("these credentials may only read statements", 403)
            g.xapi_client = client
            try:
                return view(*args, **kwargs)
            except XapiError as exc:
                db.session.rollback()
                return _error(str(exc), exc.status)

        return wrapped

    return decorate


def _identify_by() -> str:
    return str(current_app.config["XAPI_IDENTIFY_BY"])


@bp.get("/about")
def about() -> ResponseReturnValue:
    """The versions of xAPI this LRS speaks (no credentials needed, as the spec says)."""
    return _json({"version": [shaping.VERSION]})


@bp.get("/statements")
@client_required()
def get_statements() -> ResponseReturnValue:
    """One statement by id, or a page of statements with the spec's filters and a `more` link."""
    courses = catalogue().courses
    base_url = site_base_url()
    now = shaping.iso_timestamp(utcnow())
    headers = {"X-Experience-API-Consistent-Through": now}
    args = request.args.to_dict()
    if "statementId" in args or "voidedStatementId" in args:
        single = set(args) - {"statementId", "voidedStatementId", "format", "attachments"}
        if single or ("statementId" in args and "voidedStatementId" in args):
            raise XapiError("statementId takes no other filter")
        voided = "voidedStatementId" in args
        name = "voidedStatementId" if voided else "statementId"
        statement = services.own_statement(
            services._uuid(args[name], name),
            base_url=base_url,
            courses=courses,
            identify_by=_identify_by(),
            voided=voided,
        )
        db.session.commit()  # the learner's agent key may have just been created
        if statement is None:
            return _error("no such voided statement" if voided else "no such statement", 404)
        return _json(statement, headers=headers)
    query = services.parse_query(args)
    statements, cursor = services.find_statements(
        query, base_url=base_url, courses=courses, identify_by=_identify_by()
    )
    db.session.commit()
    more = ""
    if cursor:
        more = url_for("xapi.get_statements") + "?" + urlencode({**query.raw, "cursor": cursor})
    return _json({"statements": statements, "more": more}, headers=headers)


def _body() -> Any:
    if not request.is_json:
        raise XapiError("statements must be sent as application/json")
    data = request.get_json(silent=True)
    if data is None:
        raise XapiError("the body is not valid JSON")
    return data


@bp.put("/statements")
@client_required(write=True)
def put_statement() -> ResponseReturnValue:
    """Store one statement under the id given as statementId (again: no change)."""
    statement_id = request.args.get("statementId")
    if not statement_id:
        raise XapiError("PUT needs a statementId parameter")
    services.store_statements([_body()], g.xapi_client, statement_id=statement_id)
    db.session.commit()
    return Response(status=204, headers={"X-Experience-API-Version": shaping.VERSION})


@bp.post("/statements")
@client_required(write=True)
def post_statements() -> ResponseReturnValue:
    """Store one statement or a list of them; answers with their ids."""
    body = _body()
    statements = body if isinstance(body, list) else [body]
    if not statements:
        raise XapiError("no statement sent")
    ids = services.store_statements(statements, g.xapi_client)
    db.session.commit()
    return _json(ids)
