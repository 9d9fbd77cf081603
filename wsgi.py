"""WSGI entry point: `flask --app wsgi run` or any WSGI server."""

import sys
from pathlib import Path

from app import create_app
from app.config import ConfigError, local_defaults

# The `flask` command (`flask --help`, `flask users create`, `flask db upgrade` ...) runs with
# the defaults `make run` uses when the environment sets nothing; a WSGI server gets none.
_FLASK_COMMAND = Path(sys.argv[0]).name == "flask"

try:
    app = create_app(local_defaults(Path(__file__).parent / "instance") if _FLASK_COMMAND else None)
except ConfigError as exc:
    # One line saying what to set, not a traceback.
    raise SystemExit(f"Error: {exc}") from None
