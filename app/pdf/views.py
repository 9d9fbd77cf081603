"""Module and course PDFs: served from built artefacts, rendered once on demand if missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app
from flask.typing import ResponseReturnValue

from app.builds import rebuild_pdf
from app.content.model import Course
from app.extensions import db
from app.pdf.bounded import RenderTimeout
from app.pdf.build import (
    PRINT_CSS,
    PdfJob,
    course_job,
    ensure_artefact,
    find_artefact,
    latest_artefact,
    module_job,
)
from app.progress import statements as progress
from app.web import (
    catalogue,
    course_or_404,
    current_learner,
    send_artefact,
    sends_whole_file,
    site_base_url,
)

bp = Blueprint("pdf", __name__)


def _job(key: tuple[Any, ...], make: Callable[[], PdfJob | None]) -> PdfJob | None:
    """A PdfJob, kept until the catalogue reloads, so a download does not re-render its HTML."""
    memo = current_app.extensions.setdefault("academy.pdf", {"catalogue": None, "jobs": {}})
    current = catalogue()
    if memo["catalogue"] is not current:
        memo["catalogue"], memo["jobs"] = current, {}
    static = Path(current_app.static_folder or "static")
    # The stylesheet is part of the artefact hash: an edit to it must be seen without restart.
    full_key = (*key, site_base_url(), (static / PRINT_CSS).stat().st_mtime_ns)
    if full_key in memo["jobs"]:
        return memo["jobs"][full_key]
    job = make()
    if job is not None:  # only real modules are remembered: unknown ids cannot fill the memo
        memo["jobs"][full_key] = job
    return job


def _send(job: PdfJob) -> tuple[Response, Path]:
    """The PDF artefact as a download, with its content hash as ETag.

    After an edit, until the queue has rebuilt it, the previous PDF is sent (marked by the
    X-Academy-Updating header) and a rebuild is queued; only a PDF never built before is
    rendered in the request.
    """
    # A rebuild removes the version it replaces: one found a moment ago may be gone when it is
    # opened. The new one is written before the old is removed, so looking again finds it.
    for _ in range(2):
        try:
            return _send_once(job)
        except FileNotFoundError:
            continue
    return _send_once(job)


def _send_once(job: PdfJob) -> tuple[Response, Path]:
    artefact = find_artefact(job)
    updating = False
    if artefact is None:
        artefact = latest_artefact(job.course_id, job.module_id, job.lang)
        if artefact is not None:
            updating = True
            rebuild_pdf.enqueue(job.course_id, job.lang, job.module_id or "")
        else:
            try:
                artefact = ensure_artefact(job)
            except RenderTimeout:
                # Logged; the learner gets a page that says to try later, not a 500.
                current_app.logger.exception("PDF %s took too long to render", job.download_name)
                abort(503)
    # Same URL, new content after an edit: revalidate with the ETag each time (no-cache).
    response = send_artefact(
        artefact.path,
        "application/pdf",
        job.download_name,
        as_attachment=True,
        etag=artefact.key,
    )
    if updating:
        response.headers["X-Academy-Updating"] = "1"
    return response, artefact.path


@bp.get("/<lang:lang>/<course_id>/<module_id>.pdf")
def module_pdf(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """One module as a PDF: the module, its quiz worksheet and the answer key."""
    course = course_or_404(lang, course_id)
    job = _job(
        ("module", course.id, module_id, lang),
        lambda: module_job(course, module_id, lang, site_base_url()),
    )
    if job is None:
        abort(404)
    response, path = _send(job)
    _record_download(response, path, course, job.module_id, lang)
    return response


@bp.get("/<lang:lang>/<course_id>.pdf")
def course_pdf(lang: str, course_id: str) -> ResponseReturnValue:
    """The whole course as one PDF, with a table of contents and one answer key."""
    course = course_or_404(lang, course_id)
    job = _job(("course", course.id, None, lang), lambda: course_job(course, lang, site_base_url()))
    if job is None:  # pragma: no cover - a visible course always has a job
        abort(404)
    response, path = _send(job)
    _record_download(response, path, course, None, lang)
    return response


def _record_download(
    response: Response, path: Path, course: Course, module_id: str | None, lang: str
) -> None:
    """A full download (not a 304 revalidation or a viewer's range request) is progress."""
    if not sends_whole_file(response, path):
        return
    learner = current_learner(create=True)
    assert learner is not None
    if module_id is None:
        progress.record_course_event(learner, course, "downloaded", language=lang, channel="pdf")
    else:
        found = course.module(module_id, lang)
        if found is None:
            return
        progress.record(learner, course, found[0], "downloaded", language=lang, channel="pdf")
    db.session.commit()
