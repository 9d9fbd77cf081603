"""Groups: the trainer's pages (list, report, learner, question statistics) and joining one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from app.accounts.forms import EmptyForm
from app.accounts.models import User
from app.content.model import Course, Module
from app.database import write_transaction
from app.extensions import db
from app.progress.models import Statement
from app.quizzes.models import QuizAttempt
from app.quizzes.review import reviewed_questions
from app.trainer import groups as services
from app.trainer.access import trainer_required
from app.trainer.csv_export import items_csv, progress_csv_chunks
from app.trainer.forms import CoTrainerForm, GroupForm
from app.trainer.item_analysis import hardest
from app.trainer.models import Group
from app.trainer.reports import (
    SORTS,
    STATUSES,
    add_details,
    fill_outcomes,
    filter_rows,
    group_report,
    question_stats,
)
from app.web import catalogue

bp = Blueprint("groups", __name__)

TIMELINE_LIMIT = 200  # most recent statements on a learner's page
PAGE_SIZE = 100  # learners per page of the progress matrix (the CSV has them all)


def _matrix_labels() -> dict[str, str]:
    """The matrix's words, translated once per page rather than once per cell."""
    return {
        "completed": _("completed"),
        "in_progress": _("in progress"),
        "not_started": _("not started"),
        # Without arguments gettext leaves the %-placeholders, which the template fills per cell.
        "sections": _("%(read)d/%(total)d sections"),
        "best": _("best %(score)d%%"),
        "attempts": _("attempts: %(num)d"),
        "no_attempt": _("no quiz attempt"),
        "web": _("web: %(num)d sections"),
        "audio": _("audio: %(min)s min"),
        "pdf": _("PDF: %(num)d"),
        "certificate": _("certificate %(code)s"),
    }


def _group_or_404(group_id: int) -> Group:
    """The group if the signed-in trainer may see it; 404 otherwise (no hint that it exists)."""
    group = services.group_for(current_user, group_id)
    if group is None:
        abort(404)
    return group


def _may_manage(group: Group) -> bool:
    return current_user.role == "admin" or group.owner_id == current_user.id


def _course_of(group: Group) -> Course:
    course = catalogue().course(group.course_id)
    if course is None:
        abort(404)
    return course


def _csv(text: str | Iterable[str], filename: str) -> Response:
    # A report's CSV is sent as it is written, a few hundred rows at a time.
    return Response(
        text.encode("utf-8") if isinstance(text, str) else (part.encode("utf-8") for part in text),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _group_form(lang: str) -> GroupForm:
    form = GroupForm()
    courses = [c for c in catalogue().courses.values() if c.visible]
    form.course.choices = [(c.id, c.text(c.title, lang) or c.id) for c in courses]
    form.language.choices = [
        (code, code) for code in sorted({code for c in courses for code in c.languages})
    ]
    if not form.is_submitted():
        form.language.data = lang
    return form


@bp.route("/<lang:lang>/trainer/groups/", methods=["GET", "POST"])
@trainer_required
def index(lang: str) -> ResponseReturnValue:
    """The trainer's groups, and a form to create one."""
    form = _group_form(lang)
    if form.validate_on_submit():
        course = catalogue().course(form.course.data or "")
        if course is None or (form.language.data or "") not in course.languages:
            form.language.errors = [_("This course is not available in that language.")]
        else:
            closes_at = (
                datetime.combine(form.closes.data, time(23, 59, 59), tzinfo=UTC)
                if form.closes.data
                else None
            )
            write_transaction()
            group = services.create_group(
                current_user, course.id, form.name.data or "", form.language.data or "", closes_at
            )
            db.session.commit()
            flash(_("Group created. Share its join code or link with your learners."))
            return redirect(url_for("groups.report", lang=lang, group_id=group.id))
    groups = services.visible_groups(current_user)
    return render_template(
        "trainer/groups.html",
        lang=lang,
        form=form,
        groups=groups,
        counts={g.id: services.member_count(g) for g in groups},
        courses=catalogue().courses,
    )


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    return int(value) if value.isdigit() and len(value) < 6 else None


@bp.get("/<lang:lang>/trainer/groups/<int:group_id>/")
@trainer_required
def report(lang: str, group_id: int) -> ResponseReturnValue:
    """The group's progress matrix, filters, outcome mastery, charts, code and co-trainers."""
    group = _group_or_404(group_id)
    course = _course_of(group)
    sort = request.args.get("sort", "name")
    sort = sort if sort.lstrip("-") in SORTS else "name"
    # Light rows for every member (filters, sorting, charts); details only for the page shown.
    result = group_report(group, course, details=False, with_sections=sort.endswith("completed"))
    module_id = request.args.get("module") or None
    if module_id not in {c.id for c in result.modules}:
        module_id = None
    status = request.args.get("status") or None
    status = status if status in STATUSES else None
    inactive = _int_arg("inactive")
    rows = filter_rows(result, module_id, status, inactive, sort)
    # A page of learners at a time: a class of hundreds stays readable and quick to draw.
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(max(_int_arg("page") or 1, 1), pages)
    shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    add_details(result, course.id, shown)
    return render_template(
        "trainer/group.html",
        lang=lang,
        group=group,
        course=course,
        report=result,
        rows=shown,
        page=page,
        pages=pages,
        matching=len(rows),
        first=(page - 1) * PAGE_SIZE + 1,
        last_shown=(page - 1) * PAGE_SIZE + len(shown),
        labels=_matrix_labels(),
        learner_url=url_for("groups.learner", lang=lang, group_id=group.id, user_id=0),
        columns=[c for c in result.modules if module_id in (None, c.id)],
        filters={"module": module_id, "status": status, "inactive": inactive, "sort": sort},
        statuses=STATUSES,
        mastery=result.mastery,
        completion=result.completion_per_module(),
        distribution=result.score_distribution(),
        co_trainers=services.co_trainers(group),
        may_manage=_may_manage(group),
        trainer_form=CoTrainerForm(),
        empty_form=EmptyForm(),
        join_url=url_for("groups.join", lang=group.language, code=group.code, _external=True),
    )


@bp.get("/<lang:lang>/trainer/groups/<int:group_id>/progress.csv")
@trainer_required
def report_csv(lang: str, group_id: int) -> ResponseReturnValue:
    """The group's progress as CSV: one row per learner and module."""
    group = _group_or_404(group_id)
    result = group_report(group, _course_of(group), with_mastery=False)
    return _csv(progress_csv_chunks(result), f"progress-{group.code}.csv")


@bp.post("/<lang:lang>/trainer/groups/<int:group_id>/code")
@trainer_required
def regenerate(lang: str, group_id: int) -> ResponseReturnValue:
    """Give the group a new join code (the old link stops working)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    group = _group_or_404(group_id)
    if not _may_manage(group):
        abort(403)
    services.regenerate_code(group)
    db.session.commit()
    flash(_("New join code: %(code)s. The old code and link no longer work.", code=group.code))
    return redirect(url_for("groups.report", lang=lang, group_id=group.id))


@bp.post("/<lang:lang>/trainer/groups/<int:group_id>/trainers")
@trainer_required
def add_trainer(lang: str, group_id: int) -> ResponseReturnValue:
    """Share the group with another trainer, by e-mail."""
    form = CoTrainerForm()
    write_transaction()
    group = _group_or_404(group_id)
    if not _may_manage(group):
        abort(403)
    if not form.validate_on_submit():
        flash(_("Enter the e-mail of a trainer's account."))
    else:
        try:
            user = services.add_co_trainer(group, form.email.data or "")
        except services.UnknownTrainer:
            flash(_("No trainer has an account with this e-mail."))
        else:
            db.session.commit()
            flash(_("%(name)s now shares this group.", name=user.display_name))
    return redirect(url_for("groups.report", lang=lang, group_id=group.id))


@bp.post("/<lang:lang>/trainer/groups/<int:group_id>/trainers/<int:user_id>/remove")
@trainer_required
def remove_trainer(lang: str, group_id: int, user_id: int) -> ResponseReturnValue:
    """Stop sharing the group with a co-trainer."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    group = _group_or_404(group_id)
    if not _may_manage(group):
        abort(403)
    services.remove_co_trainer(group, user_id)
    db.session.commit()
    return redirect(url_for("groups.report", lang=lang, group_id=group.id))


def _module_in(course: Course, module_id: str, language: str) -> Module:
    found = course.module(module_id, language)
    if found is None:
        abort(404)
    return found[0]


@bp.get("/<lang:lang>/trainer/groups/<int:group_id>/learners/<int:user_id>/")
@trainer_required
def learner(lang: str, group_id: int, user_id: int) -> ResponseReturnValue:
    """One member: their modules, their attempts as they saw them, and their timeline."""
    group = _group_or_404(group_id)
    user = db.session.get(User, user_id)
    # Only while they are a member: someone who left is no longer this trainer's to see.
    if user is None or not services.is_member(group, user):
        abort(404)
    course = _course_of(group)
    result = group_report(group, course, details=False, with_mastery=False)
    row = next(r for r in result.rows if r.user_id == user.id)
    add_details(result, course.id, [row])
    fill_outcomes(row, result.modules, course.id)
    key = user.learner_key
    attempts = db.session.scalars(
        select(QuizAttempt)
        .where(QuizAttempt.learner == key, QuizAttempt.course_id == course.id)
        .order_by(QuizAttempt.submitted_at.desc(), QuizAttempt.id.desc())
    ).all()
    reviewed = []
    for attempt in attempts:
        found = course.module(attempt.module_id, attempt.language)
        if found is None:
            continue
        module = found[0]
        reviewed.append(
            (
                attempt,
                module,
                reviewed_questions(
                    list(module.questions),
                    attempt.question_order,
                    attempt.answers,
                    attempt.scores,
                    module.language,
                    _("No answer"),
                ),
            )
        )
    timeline = db.session.scalars(
        select(Statement)
        .where(Statement.learner == key, Statement.course_id == course.id)
        .order_by(Statement.timestamp.desc(), Statement.id.desc())
        .limit(TIMELINE_LIMIT)
    ).all()
    return render_template(
        "trainer/learner.html",
        lang=lang,
        group=group,
        course=course,
        report=result,
        row=row,
        member=user,
        attempts=reviewed,
        timeline=timeline,
        titles={c.id: c.module.title for c in result.modules},
    )


def _stats_request(lang: str, course_id: str, module_id: str):  # type: ignore[no-untyped-def]
    """Course, module, language, group and attempt choice of a question-statistics request."""
    course = catalogue().course(course_id)
    if course is None or not course.visible:
        abort(404)
    group = None
    group_id = _int_arg("group")
    if group_id is not None:
        group = _group_or_404(group_id)
        if group.course_id != course.id:
            abort(404)
    language = request.args.get("language") or (group.language if group else lang)
    if language not in course.languages:
        abort(404)
    module = _module_in(course, module_id, language)
    all_attempts = request.args.get("attempts") == "all"
    stats = question_stats(course, module, language, group, all_attempts)
    return course, module, language, group, all_attempts, stats


@bp.get("/<lang:lang>/trainer/questions/<course_id>/<module_id>/")
@trainer_required
def questions(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The trainer's view of a quiz: each question with its statistics and flags."""
    course, module, language, group, all_attempts, stats = _stats_request(
        lang, course_id, module_id
    )
    return render_template(
        "trainer/questions.html",
        lang=lang,
        course=course,
        module=module,
        language=language,
        group=group,
        all_attempts=all_attempts,
        stats=stats,
        hardest=hardest(stats),
        groups=[g for g in services.visible_groups(current_user) if g.course_id == course.id],
    )


@bp.get("/<lang:lang>/trainer/questions/<course_id>/<module_id>/questions.csv")
@trainer_required
def questions_csv(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The question statistics as CSV."""
    course, module, language, group, _all, stats = _stats_request(lang, course_id, module_id)
    suffix = f"-{group.code}" if group else ""
    return _csv(items_csv(stats), f"questions-{module.id}-{language}{suffix}.csv")


@bp.route("/<lang:lang>/join/<code>", methods=["GET", "POST"])
def join(lang: str, code: str) -> ResponseReturnValue:
    """A join link: confirm to join; a guest signs in or registers first, then confirms."""
    group = services.group_by_code(code)
    if group is None:
        abort(404)
    course = catalogue().course(group.course_id)
    form = EmptyForm()
    member = current_user.is_authenticated and services.is_member(group, current_user)
    if request.method == "POST":
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login", lang=lang, next=request.path))
        if not form.validate_on_submit():
            abort(400)
        write_transaction()
        group = services.group_by_code(code)
        if group is None:
            abort(404)
        try:
            services.join(group, current_user)
        except services.GroupClosed:
            db.session.rollback()
            return render_template(
                "trainer/join.html", lang=lang, group=group, course=course, form=form, closed=True
            ), 410
        db.session.commit()
        flash(_("You joined %(name)s.", name=group.name))
        target = (
            url_for("content.course", lang=group.language, course_id=course.id)
            if course is not None and course.visible
            else url_for("progress.dashboard", lang=lang)
        )
        return redirect(target)
    return render_template(
        "trainer/join.html",
        lang=lang,
        group=group,
        course=course,
        form=form,
        closed=group.is_closed() and not member,
        member=member,
    )


@bp.post("/<lang:lang>/me/groups/<int:group_id>/leave")
@login_required
def leave(lang: str, group_id: int) -> ResponseReturnValue:
    """Leave a group: its trainers stop seeing your progress."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    write_transaction()
    if services.leave(group_id, current_user):
        db.session.commit()
        flash(_("You left the group. Its trainers no longer see your progress."))
    return redirect(url_for("progress.dashboard", lang=lang))
