"""Trainer pages: the state of the content, with every error where it is."""

from __future__ import annotations

from collections import defaultdict

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from app.trainer.access import trainer_required
from app.web import catalogue

bp = Blueprint("trainer", __name__)


@bp.get("/<lang:lang>/trainer/content/")
@trainer_required
def content_status(lang: str) -> ResponseReturnValue:
    """Every course and module with its errors; modules with errors are hidden from learners."""
    result = catalogue()
    by_file: dict[str, list] = defaultdict(list)
    for problem in result.problems:
        by_file[problem.path].append(problem)
    return render_template(
        "trainer/content.html",
        lang=lang,
        courses=list(result.courses.values()),
        problems=result.problems,
        warnings=result.warnings,
        by_file=dict(by_file),
    )
