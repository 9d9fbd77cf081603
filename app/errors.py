"""Error pages a learner can meet: clear, in their language, never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template
from flask_babel import get_locale
from werkzeug.exceptions import HTTPException

from app.extensions import db


def register_error_handlers(app: Flask) -> None:
    """Render every HTTP error with the site's own page in the request's language."""

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        # A failed write may have left the session unusable; the page must still render.
        db.session.rollback()
        code = error.code or 500
        return (
            render_template("errors/error.html", code=code, lang=str(get_locale())),
            code,
        )
