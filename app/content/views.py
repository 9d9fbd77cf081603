"""Catalogue, course and module pages."""

from __future__ import annotations

import re

from flask import Blueprint, abort, render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.audio.artefacts import audio_panel
from app.audio.course_panel import course_audio_panel
from app.audio.transcript import clock
from app.content import slots as _slots  # noqa: F401  (registers the pages' learner slots)
from app.content.media import MEDIA_TYPES
from app.content.model import Course
from app.extensions import db
from app.pages import LEARNER_STAMP, PageState, render_page
from app.pdf.panel import pdf_panel
from app.progress.queries import ModuleStatus, module_statuses, resume_point, statuses_of
from app.progress.stamps import Stamp, summary_rows
from app.web import (
    catalogue,
    content_version,
    course_or_404,
    current_learner,
    eqf_preference,
    reading_seconds_of,
)

bp = Blueprint("content", __name__)

MEDIA_URL_NAME = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
MAX_MEDIA_NAME = 255


@bp.get("/")
def index() -> ResponseReturnValue:
    """The course catalogue."""
    return _catalogue_page()


@bp.get("/<lang:lang>/")
def home(lang: str) -> ResponseReturnValue:
    """The catalogue in a chosen language."""
    return _catalogue_page()


def _catalogue_page() -> ResponseReturnValue:
    """The catalogue, one cached page per content version and language."""
    courses = [c for c in catalogue().courses.values() if c.visible]
    return render_page(
        "content/catalogue.html", (content_version(), request.path), PageState(), courses=courses
    )


def _statuses(learner: str | None, course: Course, lang: str) -> dict[str, ModuleStatus]:
    """The learner's module statuses in a course, from the rows LearnerPages just read if it did.

    A page view after the learner wrote something (LearnerPages could not answer it) comes with
    the stamp read before Flask ran: the same summary rows, so they are not read again.
    """
    kept = request.environ.get(LEARNER_STAMP)
    if (
        learner is not None
        and kept is not None
        and kept[0] == learner
        and kept[1] == course.id
        and isinstance(kept[2], Stamp)
    ):
        return statuses_of(summary_rows(kept[2], db.engine.dialect), course, lang)
    return module_statuses(learner, course, lang)


@bp.get("/<lang:lang>/<course_id>/")
def course(lang: str, course_id: str) -> ResponseReturnValue:
    """A course: its description and its modules in order."""
    course = course_or_404(lang, course_id)
    statuses = _statuses(current_learner(), course, lang)
    eqf_level = eqf_preference()
    return render_page(
        "content/course.html",
        (content_version(), course.id, lang, eqf_level),
        PageState(statuses=statuses, resume=resume_point(statuses)),
        summaries_of=course.id,
        panels={"course_audio": course_audio_panel(course, lang)},
        course=course,
        lang=lang,
        eqf_level=eqf_level,
        clock=clock,
    )


@bp.get("/<lang:lang>/<course_id>/<module_id>/")
def module(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """A module page: outcomes, introduction, collapsible sections, bibliography."""
    course = course_or_404(lang, course_id)
    found = course.module(module_id, lang)
    if found is None:
        broken = next((e for e in course.entries if e.id == module_id and not e.ok), None)
        if broken is not None and current_user.is_authenticated and current_user.is_trainer:
            # Trainers see why a module is hidden; learners get the ordinary 404.
            return render_template(
                "trainer/module_errors.html", course=course, entry=broken, lang=lang
            ), 404
        abort(404)
    module, fallback = found
    before, after = course.neighbours(module_id)
    translation_problems = []
    if fallback and current_user.is_authenticated and current_user.is_trainer:
        # Trainers see why their language falls back: the translation's own errors.
        entry = next(e for e in course.visible if e.id == module_id)
        translation_problems = [
            p for p in entry.translation_problems if p.path.rsplit("/", 1)[-1] == f"{lang}.md"
        ]
    learner = current_learner()
    status = _statuses(learner, course, lang).get(module.id) if learner else None
    eqf_level = eqf_preference()
    return render_page(
        "content/module.html",
        (content_version(), course.id, module.id, lang, eqf_level),
        PageState(status=status),
        summaries_of=course.id,
        # Each channel's side panel: its data is part of the page, its stamp part of the key.
        panels={"audio": audio_panel(course, module), "pdf_links": pdf_panel(course, module, lang)},
        # A trainer's page lists the translation's errors: theirs alone, not cached.
        shared=not translation_problems,
        eqf_level=eqf_level,
        course=course,
        module=module,
        fallback=fallback,
        translation_problems=translation_problems,
        before=before,
        after=after,
        lang=lang,
        read_seconds=reading_seconds_of(module),
    )


@bp.get("/media/<course_id>/<module_id>/<path:name>")
def media(course_id: str, module_id: str, name: str) -> ResponseReturnValue:
    """An image from a module's media/ folder; only visible modules, only files inside it."""
    course = catalogue().course(course_id)
    entry = next((e for e in course.visible if e.id == module_id), None) if course else None
    module = next(iter(entry.versions.values()), None) if entry else None
    if module is None or module.media_dir is None:
        abort(404)
    # Only names the loader lets a module use (letters, digits, '.', '_', '-'), of a length any
    # file system takes: a NUL byte or a 10,000-character name never reaches the disk.
    if len(name) > MAX_MEDIA_NAME or not MEDIA_URL_NAME.fullmatch(name):
        abort(404)
    try:
        folder = module.media_dir.resolve()
        path = (folder / name).resolve()
        # resolve() follows symlinks: a link pointing out of media/ is refused like "..".
        mimetype = MEDIA_TYPES.get(path.suffix.lower())
        found = mimetype is not None and path.is_relative_to(folder) and path.is_file()
    except (OSError, ValueError):
        found = False
    if not found or mimetype is None:
        abort(404)
    response = send_file(path, mimetype=mimetype, max_age=3600, conditional=True)
    if path.suffix.lower() == ".svg":
        # An SVG opened directly could run script: sandbox it.
        response.headers["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; style-src 'unsafe-inline'"
        )
    return response
