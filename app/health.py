"""`/healthz`: what a load balancer asks before sending learners to this server."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """200 when the database answers and the content folder is readable, else 503."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as error:
        log.error("health check: database unreachable: %s", error)
        checks["database"] = "unreachable"
    finally:
        db.session.rollback()
    checks["content"] = "ok" if current_app.config["CONTENT_DIR"].is_dir() else "missing"
    healthy = all(value == "ok" for value in checks.values())
    response = jsonify(status="ok" if healthy else "failing", **checks)
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
