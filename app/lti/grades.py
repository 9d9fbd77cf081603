"""Scores back to the platform (LTI Assignment and Grade Services), through the task queue.

After every quiz attempt of a learner who came by LTI, a job per line item sends their best
score (the one that counts here). The job reads the score when it runs, so a burst of attempts
sends the newest best once; an unchanged best is not sent again. A platform that fails gets
retried with back-off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from flask import current_app
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector

from app import tasks
from app.extensions import db
from app.lti import services
from app.lti.keys import ToolKey, tool_key
from app.quizzes.services import attempts_of, best_score


def current_tool_key() -> ToolKey:
    """The tool's key from LTI_KEY_FILE (made on first use)."""
    return tool_key(Path(current_app.config["LTI_KEY_FILE"]))


def score_links(user_id: int, course_id: str, module_id: str) -> list[int]:
    """The grade links this learner's module score goes to (none unless they came by LTI)."""
    return services.grade_link_ids(user_id, course_id, module_id)


def queue_scores(link_ids: list[int]) -> int:
    """Queue a score job for each of these grade links (`score_links`), after the attempt."""
    for link_id in link_ids:
        send_score.enqueue(link_id)
    return len(link_ids)


@tasks.task(
    retries=8,
    retry_delay=5.0,
    lock=lambda link_id: f"lti:score:{link_id}",
    label=lambda link_id: f"LTI: score to the platform ({link_id})",
)
def send_score(link_id: int) -> None:
    """Send a learner's best score for a module to the line item of one grade link."""
    target = services.grade_target(link_id)
    if target is None:
        return
    link, account, platform, user = target
    best = best_score(attempts_of(user.learner_key, link.course_id, link.module_id))
    if best is None or link.sent_score == best:
        db.session.rollback()
        return
    registration = services.ToolConf(current_tool_key())._registration(platform)
    assert registration is not None
    grade = (
        Grade()
        .set_score_given(round(best * 100, 2))
        .set_score_maximum(100)
        .set_activity_progress("Completed")
        .set_grading_progress("FullyGraded")
        .set_timestamp(datetime.now(UTC).isoformat(timespec="milliseconds"))
        .set_user_id(account.subject)
    )
    service = dict(link.service)
    db.session.rollback()  # no transaction held open across the network call
    ags = AssignmentsGradesService(ServiceConnector(registration), cast(Any, service))
    try:
        ags.put_grade(grade)
    except (LtiException, LtiServiceException, OSError) as error:
        services.record_sent(link_id, None, error=f"{type(error).__name__}: {error}")
        db.session.commit()
        raise  # the queue retries with back-off
    services.record_sent(link_id, best)
    db.session.commit()
