"""Trainer downloads of SCORM 1.2 packages: one module, or a whole course."""

from __future__ import annotations

from flask import Blueprint, Response
from flask.typing import ResponseReturnValue

from app.scorm.package import Package, build_package
from app.trainer.access import trainer_required
from app.web import course_or_404, module_or_404

bp = Blueprint("scorm", __name__)


def _download(package: Package) -> Response:
    return Response(
        package.data,
        mimetype="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{package.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/<lang:lang>/trainer/scorm/<course_id>/<module_id>.zip")
@trainer_required
def module_package(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """A module as a SCORM 1.2 package, with the audio and PDF already built."""
    course, module = module_or_404(lang, course_id, module_id)
    return _download(build_package(None, course, module.id, lang))


@bp.get("/<lang:lang>/trainer/scorm/<course_id>.zip")
@trainer_required
def course_package(lang: str, course_id: str) -> ResponseReturnValue:
    """A course as one SCORM 1.2 package, one SCO per module."""
    course = course_or_404(lang, course_id)
    return _download(build_package(None, course, None, lang))
