"""Omnichannel Academy: the application factory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: config -> extensions -> blueprints -> errors -> CLI."""
    # Imported here, not at the top: importing any app.* module runs this file first, and
    # what needs no app (the git hook, python -m app.preview.hook) should not load Flask,
    # SQLAlchemy and every extension for nothing (the hook started six times faster).
    from flask import Flask
    from werkzeug.middleware.proxy_fix import ProxyFix

    from app import assets
    from app.config import load_config
    from app.content.catalog import EXTENSION_KEY as CONTENT_EXTENSION
    from app.logs import configure_logging
    from app.pages import GuestPages, LearnerPages
    from app.progress.stamps import learner_stamp

    app = Flask(
        __name__,
        instance_relative_config=True,
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.update(load_config(app.instance_path, test_config))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_logging(app)

    # First-time visitors' pages from memory, before Flask (inside ProxyFix: it sees the
    # client's scheme and host). Off when every request must re-check content (tests).
    # Its entries expire by the content cache's clock: the same time the recheck interval uses.
    # Behind it, a signed-in learner's page again while their rows and the request are the same.
    recheck = float(app.config["CONTENT_RECHECK_SECONDS"])
    app.wsgi_app = LearnerPages(  # type: ignore[method-assign]
        app.wsgi_app,
        app,
        recheck,
        app.config["LANGUAGES"],
        learner_stamp,
        clock=lambda: app.extensions[CONTENT_EXTENSION].clock(),
    )
    app.wsgi_app = GuestPages(  # type: ignore[method-assign]
        app.wsgi_app,
        recheck,
        app.config["LANGUAGES"],
        clock=lambda: app.extensions[CONTENT_EXTENSION].clock(),
    )
    hops = int(app.config["PROXY_HOPS"])
    if hops:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_prefix=hops
        )
    register_extensions(app)
    register_blueprints(app)
    register_errors(app)
    register_commands(app)
    register_security_headers(app)
    assets.init_app(app)  # static URLs carry their content hash; hashed ones cached a year
    return app


def register_extensions(app: Flask) -> None:
    """Bind the extensions; nothing here touches the database."""
    from app import database
    from app.config import ConfigError
    from app.content import catalog
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate
    from app.i18n import select_locale, template_globals
    from app.pages import mine
    from app.web import give_guest_key_with_csrf, language_links

    db.init_app(app)
    database.init_app(app)  # SQLite WAL, BEGIN IMMEDIATE for writers, the write guard
    catalog.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    # A guest handed a CSRF token gets their guest key in the same cookie (app/web.py).
    app.after_request(give_guest_key_with_csrf)
    babel.init_app(app, locale_selector=select_locale)
    app.context_processor(template_globals)
    app.jinja_env.globals["mine"] = mine
    app.jinja_env.globals["language_links"] = language_links
    login_manager.init_app(app)
    limiter.init_app(app)
    from app.accounts import services as accounts

    try:
        accounts.set_password_hash(str(app.config["PASSWORD_HASH"]))
    except ValueError as error:
        raise ConfigError(f"ACADEMY_PASSWORD_HASH: {error}") from None
    from app import tasks

    tasks.init_app(app)
    from app.xapi import outbox

    outbox.init_app(app)  # statements queued for the external LRS, when one is configured
    # Models must be imported for Alembic's autogenerate to see their tables.
    from app.accounts import models as _accounts_models  # noqa: F401
    from app.lti import models as _lti_models  # noqa: F401
    from app.progress import models as _progress_models  # noqa: F401
    from app.quizzes import models as _quizzes_models  # noqa: F401
    from app.trainer import models as _trainer_models  # noqa: F401
    from app.xapi import models as _xapi_models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    """Attach the URL converters and every blueprint."""
    from app.accounts.admin_views import bp as admin_bp
    from app.accounts.views import bp as accounts_bp
    from app.audio.views import bp as audio_bp
    from app.content.views import bp as content_bp
    from app.health import bp as health_bp
    from app.lti.views import bp as lti_bp
    from app.offline.views import bp as offline_bp
    from app.pages import bp as pages_bp
    from app.pdf.views import bp as pdf_bp
    from app.progress.views import bp as progress_bp
    from app.quizzes.views import bp as quizzes_bp
    from app.scorm.views import bp as scorm_bp
    from app.studio.views import bp as studio_bp
    from app.trainer.groups_views import bp as groups_bp
    from app.trainer.views import bp as trainer_bp
    from app.web import language_converter
    from app.xapi.admin import bp as xapi_admin_bp
    from app.xapi.views import bp as xapi_bp

    # `<lang:...>` matches only the site's languages: /xx/... is a 404 before any view runs.
    app.url_map.converters["lang"] = language_converter(app.config["LANGUAGES"])
    app.register_blueprint(content_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(progress_bp)
    app.register_blueprint(trainer_bp)
    app.register_blueprint(audio_bp)
    app.register_blueprint(pdf_bp)
    app.register_blueprint(quizzes_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(groups_bp)
    app.register_blueprint(studio_bp)
    app.register_blueprint(xapi_bp)
    app.register_blueprint(xapi_admin_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(scorm_bp)
    app.register_blueprint(offline_bp)
    app.register_blueprint(lti_bp)


def register_errors(app: Flask) -> None:
    """User-facing error pages in the learner's language."""
    from app.errors import register_error_handlers

    register_error_handlers(app)


def register_commands(app: Flask) -> None:
    """The `flask content|users|audio|pdf ...` commands, each added here and nowhere else."""
    from app.accounts.cli import users_cli
    from app.audio.cli import audio_cli
    from app.content.cli import content_cli
    from app.lti.cli import lti_cli
    from app.pdf.cli import pdf_cli
    from app.preview.cli import hooks_cli, serve
    from app.quizzes.cli import export_gift, export_moodle_xml
    from app.scorm.cli import export_scorm
    from app.tasks_cli import worker_command
    from app.trainer.cli import groups_cli, reports_cli
    from app.xapi.cli import xapi_cli

    content_cli.add_command(export_gift)
    content_cli.add_command(export_moodle_xml)
    content_cli.add_command(export_scorm)
    content_cli.add_command(serve)
    content_cli.add_command(hooks_cli)
    app.cli.add_command(content_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audio_cli)
    app.cli.add_command(pdf_cli)
    app.cli.add_command(worker_command)
    app.cli.add_command(groups_cli)
    app.cli.add_command(reports_cli)
    app.cli.add_command(xapi_cli)
    app.cli.add_command(lti_cli)


def register_security_headers(app: Flask) -> None:
    """Every page loads only from this site: no other host is ever contacted."""

    @app.after_request
    def _headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response
