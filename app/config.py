"""Configuration: a DEFAULTS mapping, then ACADEMY_* environment variables, then test_config."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

PREFIX = "ACADEMY_"

# Every key a deployment can set. The README's configuration table lists the same keys.
DEFAULTS: dict[str, Any] = {
    # Folder of course folders (each with course.yml); relative paths are taken from the cwd.
    "CONTENT_DIR": "content",
    # SQLAlchemy URL; empty means SQLite in the instance folder (instance/academy.sqlite3).
    "DATABASE_URL": "",
    # SQLite's PRAGMA synchronous (WAL mode): NORMAL syncs the log at checkpoints, not at each
    # commit; a commit survives the app crashing, and a power cut may lose the last ones but
    # never corrupts the file. FULL syncs every commit (a disk flush per quiz or beacon).
    "SQLITE_SYNCHRONOUS": "NORMAL",
    # Signs sessions and CSRF tokens. Required outside debug and tests; never commit one.
    "SECRET_KEY": "",
    # Built artefacts (audio, PDF), named by content hash; empty means instance/media.
    "MEDIA_DIR": "",
    # The site's public address (https://academy.example.org); empty means the request's host.
    # PDFs print it (quiz links, QR codes), so `flask pdf build` needs it to match what is served.
    "BASE_URL": "",
    # Languages the interface speaks; the first is the fallback for unknown requests.
    "LANGUAGES": "it,en",
    # Debug mode: detailed errors and a throwaway secret key. Never in production.
    "DEBUG": False,
    # Where login rate-limit counters live: memory:// suits one server process;
    # use e.g. redis://host:6379 when several processes serve the site.
    "RATELIMIT_STORAGE_URI": "memory://",
    # How many proxies in front of the app set X-Forwarded-* headers (0: none, trust nothing).
    # Behind one front server set 1, so rate limits see each learner's own address.
    "PROXY_HOPS": 0,
    # Behind nginx: the URL prefix of its `internal` location that serves MEDIA_DIR (e.g.
    # /_accel/media/, deploy/nginx/academy.conf.in). Set, the app checks access to a built MP3
    # or PDF and answers with X-Accel-Redirect; nginx sends the file. Empty: the app sends it.
    "ACCEL_REDIRECT": "",
    # A section counts as read after it stays open on screen for READ_SHARE of the time a
    # reader at READ_WORDS_PER_MINUTE needs for its words, and never less than READ_SECONDS
    # (or after 90 % of its audio is listened to).
    "READ_SECONDS": 5,
    "READ_WORDS_PER_MINUTE": 250,
    "READ_SHARE": 0.5,
    # Longest one PDF (module, course or certificate) may take to render before it is stopped.
    "PDF_RENDER_SECONDS": 120.0,
    # Session cookies only over HTTPS; off in debug and tests, and for `make run` on loopback.
    "SECURE_COOKIES": True,
    # Speech engines for the audio versions, tried in this order for each section.
    "TTS_ENGINES": "gtts,espeak-ng",
    # Endpoint gTTS posts to instead of Google's (a proxy, or a local fake in tests); empty: Google.
    "TTS_GTTS_URL": "",
    # Seconds between two checks of the content folder for edits (each is a walk of stat calls);
    # 0 checks on every request, which tests do unless they set it.
    "CONTENT_RECHECK_SECONDS": 2.0,
    # Rendered pages kept per server process (catalogue, courses, modules x languages x levels).
    "PAGE_CACHE_SIZE": 512,
    # Level of the app's log lines (DEBUG, INFO, WARNING, ERROR); gunicorn's error log shows them.
    "LOG_LEVEL": "INFO",
    # The task queue (app/tasks.py): empty means SQLite in instance/queue.sqlite3, no server;
    # sqlite:///path for another file; redis://host:6379/0 when several machines share it.
    "QUEUE_URL": "",
    # The queue's name in its storage: sites sharing one Redis use different names.
    "QUEUE_NAME": "academy",
    # Who runs the jobs: "thread" (a worker thread in the server process, started by the first
    # request), "off" (a separate `flask worker` process), or "auto" (thread for SQLite, off for
    # Redis; off in tests, which start their own).
    "QUEUE_WORKER": "auto",
    # Worker threads in the server process when QUEUE_WORKER is "thread".
    "QUEUE_THREADS": 1,
    # Seconds a running job's lease lasts without a heartbeat: a job whose worker died is run
    # again after this long.
    "QUEUE_LEASE_SECONDS": 60,
    # How statements name learners: "account" (an opaque key on this site) or "mbox_sha1sum"
    # (the SHA-1 of a registered learner's e-mail, for an LRS that matches people by e-mail).
    "XAPI_IDENTIFY_BY": "account",
    # An external LRS's statements endpoint (https://lrs.example.org/xapi/): when set, every new
    # statement is queued in an outbox and forwarded there; empty: nothing leaves the platform.
    "XAPI_ENDPOINT": "",
    # The HTTP Basic key and secret that LRS issued to this platform.
    "XAPI_KEY": "",
    "XAPI_SECRET": "",
    # Seconds before the first retry after the LRS failed; doubled each time up to the maximum.
    "XAPI_RETRY_SECONDS": 5.0,
    "XAPI_RETRY_MAX_SECONDS": 3600.0,
    # The LTI tool's RSA private key (PEM), made on first use; empty: instance/lti/tool-key.pem.
    "LTI_KEY_FILE": "",
    # Multiplies every task's retry delays (1.0: as declared; lower retries sooner).
    "QUEUE_RETRY_FACTOR": 1.0,
    # Mail server for "forgot password" e-mails, e.g. smtp://user:password@mail.example.org:587
    # (smtps:// for TLS from the start); empty: the page tells learners to ask their trainer.
    "SMTP_URL": "",
    # The sender of those e-mails.
    "MAIL_FROM": "Omnichannel Academy <noreply@localhost>",
    # How new passwords are hashed (werkzeug's method string): scrypt at werkzeug's cost. Lower
    # costs make stored passwords cheaper to guess; the tests use one (every test signs people in).
    "PASSWORD_HASH": "scrypt",
}


class ConfigError(RuntimeError):
    """A setting the site cannot start without is missing or wrong."""


#: Where `make run` serves, and so what the `flask` command assumes when nothing is set.
LOCAL_BASE_URL = "http://127.0.0.1:5000/"


def local_defaults(instance: Path) -> dict[str, Any]:
    """The settings `make run` supplies, for the `flask` command when the environment has none.

    The base URL is the local one and the secret key is instance/secret_key (made on first use,
    readable by its owner only, as the Makefile makes it). Settings in the environment win.
    """
    settings: dict[str, Any] = {}
    if not os.environ.get(PREFIX + "BASE_URL"):
        settings["BASE_URL"] = LOCAL_BASE_URL
    if not os.environ.get(PREFIX + "SECRET_KEY"):
        key_file = instance / "secret_key"
        if not key_file.exists():
            instance.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32) + "\n")
        settings["SECRET_KEY"] = key_file.read_text(encoding="utf-8").strip()
    return settings


def _coerce(value: str, default: Any) -> Any:
    """Read an environment string as the type of the default."""
    if isinstance(default, bool):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    return value


def load_config(instance_path: str, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Merge DEFAULTS, ACADEMY_* environment variables and test_config into Flask settings."""
    settings = dict(DEFAULTS)
    for key, default in DEFAULTS.items():
        if PREFIX + key in os.environ:
            settings[key] = _coerce(os.environ[PREFIX + key], default)
    settings.update(test_config or {})

    testing = bool(settings.get("TESTING"))
    if testing and "CONTENT_RECHECK_SECONDS" not in (test_config or {}):
        settings["CONTENT_RECHECK_SECONDS"] = 0.0
    if not settings["BASE_URL"] and not (settings["DEBUG"] or testing):
        raise ConfigError(
            "ACADEMY_BASE_URL is not set. Set it to the site's public address, e.g. "
            "https://academy.example.org/ (PDFs and certificates link to it)."
        )
    if not settings["SECRET_KEY"]:
        if not (settings["DEBUG"] or testing):
            raise ConfigError(
                "ACADEMY_SECRET_KEY is not set. Set it to a long random value, e.g. "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`, "
                "or run with ACADEMY_DEBUG=1 for local development."
            )
        settings["SECRET_KEY"] = os.urandom(32).hex()

    instance = Path(instance_path)
    database_url = settings["DATABASE_URL"] or f"sqlite:///{instance / 'academy.sqlite3'}"
    languages = settings["LANGUAGES"]
    if isinstance(languages, str):
        languages = [lang.strip() for lang in languages.split(",") if lang.strip()]

    settings["SQLITE_SYNCHRONOUS"] = str(settings["SQLITE_SYNCHRONOUS"]).strip().upper()
    if settings["SQLITE_SYNCHRONOUS"] not in ("NORMAL", "FULL"):
        raise ConfigError("ACADEMY_SQLITE_SYNCHRONOUS must be NORMAL or FULL.")
    if settings["XAPI_IDENTIFY_BY"] not in ("account", "mbox_sha1sum"):
        raise RuntimeError("ACADEMY_XAPI_IDENTIFY_BY must be 'account' or 'mbox_sha1sum'.")
    if settings["XAPI_ENDPOINT"] and not (settings["XAPI_KEY"] and settings["XAPI_SECRET"]):
        raise RuntimeError(
            "ACADEMY_XAPI_ENDPOINT is set without ACADEMY_XAPI_KEY and ACADEMY_XAPI_SECRET: "
            "set the credentials the LRS issued, or unset the endpoint."
        )

    secure = bool(settings["SECURE_COOKIES"]) and not (settings["DEBUG"] or testing)
    return {
        **settings,
        "CONTENT_DIR": Path(settings["CONTENT_DIR"]),
        "MEDIA_DIR": Path(settings["MEDIA_DIR"] or instance / "media"),
        "LTI_KEY_FILE": Path(settings["LTI_KEY_FILE"] or instance / "lti" / "tool-key.pem"),
        "LANGUAGES": tuple(languages),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BABEL_DEFAULT_LOCALE": languages[0],
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_NAME": "remember_token",
        "REMEMBER_COOKIE_SECURE": secure,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # CSRF tokens live as long as the session: a learner reading for hours loses nothing.
        "WTF_CSRF_TIME_LIMIT": None,
        # No form or beacon needs more; larger bodies are refused before they are parsed.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
    }
