"""Logging for the app: one line format everywhere, the level from LOG_LEVEL.

Under gunicorn, deploy/gunicorn.conf.py configures the root logger (the error log), and the
app's loggers propagate to it. Run any other way (`flask run`, the CLI), the app sets up the
same format on stderr itself, unless something configured logging first.
"""

from __future__ import annotations

import logging

from flask import Flask

LOG_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


def configure_logging(app: Flask) -> None:
    """Send the app's log records to the process's log in the documented format."""
    level = str(app.config["LOG_LEVEL"]).upper()
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        root.setLevel(level)
    # WeasyPrint reports every rendering step at INFO: only its warnings belong in our log.
    logging.getLogger("weasyprint").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    # Alembic announces its plugins at INFO whenever a process imports it.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    # The "app" logger is the parent of every module's logging.getLogger(__name__).
    logging.getLogger("app").setLevel(level)
    app.logger.setLevel(level)
    # Flask's logger has its own stderr handler only when nothing else is set up; records
    # reach the root handler through propagation instead, so each line is written once.
    from flask.logging import default_handler

    app.logger.removeHandler(default_handler)
