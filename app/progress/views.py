"""The progress beacon, the learner's dashboard, and the EQF level preference."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_login import current_user, login_required

from app.accounts import services as accounts
from app.accounts.forms import EmptyForm
from app.database import write_transaction
from app.extensions import db
from app.pdf.certificate import render_certificate
from app.progress import queries, statements
from app.progress.statements import ProgressError
from app.trainer.groups import groups_of
from app.trainer.reports import learner_outcomes
from app.web import (
    catalogue,
    course_or_404,
    current_learner,
    eqf_preference,
    module_or_404,
    reading_seconds_of,
    remember_guest_eqf,
    site_base_url,
)

bp = Blueprint("progress", __name__)

# Bounds on what a player may report in one beacon; anything else is refused.
MAX_AUDIO_SECONDS = 4 * 3600
MAX_LISTENED_PER_BEACON = 120
MAX_READ_SECONDS = 24 * 3600  # a page left open all day still sends a number in range


def _seconds(value: object, upper: float) -> float | None:
    """A finite number of seconds within 0..upper, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # JSON integers have no size limit
        return None
    return number if math.isfinite(number) and 0 <= number <= upper else None


# How far back an event queued offline may be dated; older ones are dated when they arrive.
MAX_OFFLINE_AGE = timedelta(days=60)


def _statement_id(value: object) -> str | None:
    """A client's statement id in canonical form (a UUID), or None when it is not one."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _when(value: object) -> datetime | None:
    """When a queued event happened: an ISO 8601 time with its zone, within MAX_OFFLINE_AGE."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    moment = moment.astimezone(UTC)
    now = datetime.now(UTC)
    return moment if now - MAX_OFFLINE_AGE <= moment <= now else None


def _refuse(message: str) -> ResponseReturnValue:
    return jsonify(error=message), 400


@bp.post("/<lang:lang>/<course_id>/<module_id>/progress")
def beacon(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """Record a section read on screen or audio listened to (JSON, CSRF header required)."""
    course, module = module_or_404(lang, course_id, module_id)
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # absurdly nested JSON: refuse it like any other bad body
        data = None
    if not isinstance(data, dict):
        return _refuse("expected a JSON object")
    section = data.get("section")
    if not isinstance(section, str) or module.section(section) is None:
        return _refuse("unknown section")
    statement_id = None
    if data.get("id") is not None:
        statement_id = _statement_id(data.get("id"))
        if statement_id is None:
            return _refuse("id must be a UUID")
    # An event sent from an offline queue keeps its id (stored once) and its time.
    once: dict[str, Any] = {"statement_id": statement_id, "timestamp": _when(data.get("timestamp"))}
    if data.get("verb") == "section-read":
        # Time on screen in proportion to the section's length (app/config.py READ_*).
        seconds = _seconds(data.get("seconds"), MAX_READ_SECONDS)
        if seconds is None:
            return _refuse("seconds on screen must be a number of seconds in range")
        if seconds < reading_seconds_of(module)[section]:
            return _refuse("the section was not on screen long enough to count as read")
        event: dict[str, Any] = {"verb": "experienced", "result": {"duration": seconds}}
    elif data.get("verb") == "audio-progressed":
        duration = _seconds(data.get("duration"), MAX_AUDIO_SECONDS)
        position = _seconds(data.get("position"), MAX_AUDIO_SECONDS)
        listened = _seconds(data.get("listened"), MAX_LISTENED_PER_BEACON)
        if duration is None or position is None or listened is None or position > duration:
            return _refuse("position, listened and duration must be seconds in range")
        event = {
            "verb": "progressed",
            "channel": "audio",
            "result": {"position": position, "listened": listened, "duration": duration},
        }
    else:
        return _refuse("unknown verb")
    # The writer transaction before the learner: a signed-in learner's account is then read in
    # it, instead of in a read transaction of its own ended just after (a BEGIN, a COMMIT and a
    # pool checkout more; on SQLite only, PostgreSQL keeps one transaction anyway).
    write_transaction()
    learner = current_learner(create=True)
    assert learner is not None
    try:
        recorded = statements.record(
            learner, course, module, section_id=section, language=lang, **event, **once
        )
    except ProgressError as exc:
        return _refuse(str(exc))
    db.session.commit()
    # The summary as this request stored it: the answer needs no second read.
    status = queries.module_status(module, recorded.summary)
    return jsonify(
        read=sorted(status.read), total=status.total, completed=bool(status.completed_at)
    )


@bp.get("/<lang:lang>/me/")
def dashboard(lang: str) -> ResponseReturnValue:
    """Each course with its progress, best scores and last activity; the EQF preference."""
    learner = current_learner()
    rows = []
    for course in catalogue().courses.values():
        if not course.visible:
            continue
        statuses = queries.module_statuses(learner, course, lang)
        rows.append(
            {
                "course": course,
                "statuses": statuses,
                "completed": sum(1 for s in statuses.values() if s.completed_at),
                "resume": queries.resume_point(statuses),
                "completed_at": queries.course_completed_at(learner, course.id),
                "outcomes": learner_outcomes(learner, course, lang),
            }
        )
    return render_template(
        "progress/dashboard.html",
        rows=rows,
        lang=lang,
        eqf_level=eqf_preference(),
        groups=groups_of(current_user) if current_user.is_authenticated else [],
        leave_form=EmptyForm(),
    )


@bp.post("/<lang:lang>/me/eqf")
def set_eqf(lang: str) -> ResponseReturnValue:
    """Remember the EQF level the learner studies at (or none)."""
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    raw = request.form.get("level", "")
    level = int(raw) if raw in ("3", "4", "5") else None
    if raw not in ("", "3", "4", "5"):
        abort(400)
    if current_user.is_authenticated:
        accounts.set_eqf_level(current_user._get_current_object(), level)
        db.session.commit()
    else:
        remember_guest_eqf(level)
    return redirect(url_for("progress.dashboard", lang=lang))


@bp.get("/<lang:lang>/me/certificates/<course_id>.pdf")
@login_required
def certificate(lang: str, course_id: str) -> ResponseReturnValue:
    """The signed-in learner's certificate of completion; nobody else's is reachable."""
    course = course_or_404(lang, course_id)
    completion = queries.course_completion(current_user.learner_key, course.id)
    if completion is None:
        abort(404)
    pdf = render_certificate(
        name=current_user.display_name,
        course_title=course.text(course.title, lang),
        eqf=str(course.eqf),
        minutes=course.total_duration(lang),
        completed_on=completion.completed_at.date(),
        code=completion.code,
        verify_url=site_base_url() + url_for("progress.verify", code=completion.code).lstrip("/"),
        lang=lang,
    )
    filename = f"certificate-{course.id}-{lang}.pdf"
    return Response(
        pdf,
        mimetype="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@bp.get("/verify/<code>")
def verify(code: str) -> ResponseReturnValue:
    """Tell anyone whether a certificate code is genuine, and what it certifies."""
    found = queries.completion_by_code(code.strip().upper())
    course = catalogue().course(found[0].course_id) if found else None
    lang = str(get_locale())
    return render_template(
        "progress/verify.html",
        completion=found[0] if found else None,
        name=found[1] if found else None,
        course=course,
        code=code,
        lang=lang,
    ), (200 if found else 404)
