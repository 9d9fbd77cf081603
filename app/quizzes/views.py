"""The quiz page, its submission, the reviewed attempt, and the GIFT download for trainers."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from app.content.model import Course, Module
from app.extensions import db
from app.lti.grades import queue_scores, score_links
from app.pages import PageState, render_page
from app.quizzes import services
from app.quizzes.gift_export import module_to_gift
from app.quizzes.review import blank_questions, reviewed_questions
from app.quizzes.services import STATE_FIELD, InvalidAnswers
from app.quizzes.slots import QuizPage
from app.trainer.reports import outcome_standing
from app.web import content_version, current_learner, module_or_404

bp = Blueprint("quizzes", __name__)


def _module_or_404(lang: str, course_id: str, module_id: str) -> tuple[Course, Module]:
    """A visible module with questions (in `lang` or its fallback), or a friendly 404."""
    course, module = module_or_404(lang, course_id, module_id)
    if not module.questions:
        abort(404)
    return course, module


def _render_quiz(lang: str, course: Course, module: Module) -> Response:
    """The quiz page: shared HTML rendered once, this attempt's and learner's parts filled in."""
    state = services.new_state(module)
    attempts = services.attempts_of(current_learner(), course.id, module.id)
    page = QuizPage(
        course=course,
        module=module,
        state=state,
        signed_state=services.dump_state(state, current_app.config["SECRET_KEY"]),
        attempts=attempts,
        best=services.best_score(attempts),
    )
    return render_page(
        "quizzes/quiz.html",
        (content_version(), course.id, module.id, lang),
        PageState(quiz=page),
        # Each visit starts its own attempt: the page is never answered again from memory.
        kept=False,
        # The language switch carries a query string along; a shared page never has one.
        shared=not request.args,
        lang=lang,
        course=course,
        module=module,
        graded=sum(1 for q in module.questions if q.is_graded),
        state_field=STATE_FIELD,
    )


@bp.get("/<lang:lang>/<course_id>/<module_id>/quiz")
def quiz(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """All the module's questions on one page, answers shuffled per attempt if asked."""
    course, module = _module_or_404(lang, course_id, module_id)
    return _render_quiz(lang, course, module)


def _invalid(lang: str, course: Course, module: Module) -> ResponseReturnValue:
    """A clear 400 page: the form was not one our quiz page produced; nothing was stored."""
    db.session.rollback()
    return (
        render_template("quizzes/invalid.html", lang=lang, course=course, module=module),
        400,
    )


@bp.post("/<lang:lang>/<course_id>/<module_id>/quiz")
def submit(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """Grade the submitted answers, store the attempt, then show its review."""
    course, module = _module_or_404(lang, course_id, module_id)
    try:
        state = services.load_state(
            request.form.get(STATE_FIELD, ""), current_app.config["SECRET_KEY"]
        )
        if (state.course_id, state.module_id) != (course.id, module.id):
            raise InvalidAnswers("the attempt belongs to another module")
        answers = services.parse_answers(state, request.form)
    except InvalidAnswers as error:
        current_app.logger.info("quiz form refused: %s", error)
        return _invalid(lang, course, module)
    learner = current_learner(create=True)
    assert learner is not None
    # Read while the account is loaded: the writer transaction below starts by ending this one.
    user_id = current_user.id if current_user.is_authenticated else None
    # A learner who came from an LMS by LTI: their best score goes back to its gradebook. Its
    # line items are read here, in the read transaction already open, not after the write.
    links = score_links(user_id, course.id, module.id) if user_id is not None else []
    attempt, _stored = services.submit(learner, course, module, lang, state, answers)
    if attempt.learner != learner:
        # Someone else's token: never show another learner's attempt.
        return _invalid(lang, course, module)
    token = attempt.token  # read before the commit expires it (a query to load it again)
    db.session.commit()
    queue_scores(links)
    return redirect(
        url_for(
            "quizzes.attempt", lang=lang, course_id=course.id, module_id=module.id, token=token
        ),
        code=303,
    )


@bp.get("/<lang:lang>/<course_id>/<module_id>/quiz/attempts/<token>")
def attempt(lang: str, course_id: str, module_id: str, token: str) -> ResponseReturnValue:
    """One submitted attempt: score, pass or not, and every question reviewed."""
    course, module = _module_or_404(lang, course_id, module_id)
    stored = services.attempt_by_token(token)
    learner = current_learner()
    if (
        stored is None
        or learner is None
        or stored.learner != learner
        or (stored.course_id, stored.module_id) != (course.id, module.id)
    ):
        abort(404)
    attempts = services.attempts_of(learner, course.id, module.id)
    review = reviewed_questions(
        list(module.questions),
        stored.question_order,
        stored.answers,
        stored.scores,
        module.language,
        _("No answer"),
    )
    return render_template(
        "quizzes/result.html",
        lang=lang,
        course=course,
        module=module,
        attempt=stored,
        review=review,
        blanks=blank_questions(review),
        attempts=attempts,
        best=services.best_score(attempts),
        standing=[
            (o.text, value)
            for o in module.learning_outcomes
            if (value := outcome_standing(module, stored.scores).get(o.id)) is not None
        ],
    )


@bp.get("/<lang:lang>/<course_id>/<module_id>/quiz.gift")
def gift(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """The module's questions as a GIFT file for Moodle (trainers and admins only)."""
    if not (current_user.is_authenticated and current_user.is_trainer):
        abort(403)
    course, module = _module_or_404(lang, course_id, module_id)
    text = module_to_gift(course, module)
    filename = f"{course.id}-{module.id}-{module.language}.gift.txt"
    return Response(
        text,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
