"""The studio (/<lang>/trainer/studio/): trainers edit modules in the browser.

Every route is for trainers only. The editor page is a plain form (preview, save draft, publish)
that the bundled CodeMirror editor enhances with live preview and errors while typing.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app.i18n import languages
from app.quizzes.review import right_answers, shown_questions
from app.quizzes.services import new_state
from app.studio import services
from app.studio.files import PathRefused, digest
from app.studio.services import Checked, Conflict, ModuleFile, Refused, StudioError
from app.studio.status import course_states
from app.trainer.access import trainer_required
from app.web import catalogue

bp = Blueprint("studio", __name__, url_prefix="/<lang:lang>/trainer/studio")

VENDOR_BUNDLE = "vendor/studio-editor.js"


@bp.url_value_preprocessor
def _check_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values is not None and values.get("lang") not in languages():
        abort(404)


def _root() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


def _target(relative: str) -> tuple[Any, ModuleFile]:
    """The course and module file a URL names, or 404 (never a path outside content/)."""
    result = catalogue()
    try:
        target = services.module_file(result, relative)
        services.safe_path(_root(), relative)
    except PathRefused:
        abort(404)
    return result.course(target.course_id), target


def _author() -> tuple[str, str]:
    return current_user.display_name, current_user.email


def _preview_html(lang: str, checked: Checked) -> str:
    """The module as learners get it, the quiz as they see it, and its answer key."""
    module = checked.module
    questions: list[Any] = []
    key: list[tuple[str, list[Any]]] = []
    if module is not None and module.questions:
        labels = {"answer": _("Your answer"), "gap": _("Gap")}
        order = new_state(module, seed=0).order
        questions = shown_questions(list(module.questions), order, module.language, labels)
        key = [(q.id, right_answers(q, module.language)) for q in module.questions if q.is_graded]
    return render_template(
        "studio/_preview.html", lang=lang, checked=checked, questions=questions, answer_key=key
    )


@bp.get("/")
@trainer_required
def index(lang: str) -> ResponseReturnValue:
    """Courses, modules and translations with their state, and the build jobs."""
    from app.tasks import queue_for

    result = catalogue()
    jobs = queue_for(current_app).jobs()[:30]
    return render_template(
        "studio/index.html",
        lang=lang,
        courses=course_states(_root(), result, current_app.config["MEDIA_DIR"]),
        jobs=jobs,
    )


def _editor(
    lang: str,
    course: Any,
    target: ModuleFile,
    text: str,
    base: str,
    *,
    checked: Checked | None = None,
    conflict: Conflict | None = None,
    refused: Refused | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    checked = checked or services.check_text(_root(), course, target, text)
    draft = services.read_draft(_root(), target.relative)
    page = render_template(
        "studio/edit.html",
        lang=lang,
        course=course,
        target=target,
        text=text,
        base=base,
        checked=checked,
        preview=Markup(_preview_html(lang, checked)),  # rendered by our own template
        draft=draft,
        conflict=conflict,
        conflict_diff=services.diff(conflict.theirs, conflict.yours) if conflict else [],
        refused=refused,
        bundle=VENDOR_BUNDLE
        if os.path.isfile(os.path.join(current_app.static_folder or "", VENDOR_BUNDLE))
        else "",
    )
    return page, status


@bp.get("/edit/<path:relative>")
@trainer_required
def edit(lang: str, relative: str) -> ResponseReturnValue:
    """The editor: the draft if there is one, else the published file."""
    course, target = _target(relative)
    text, base = services.current(_root(), relative)
    draft = services.read_draft(_root(), relative)
    if draft is not None and request.args.get("published") != "1":
        text, base = draft.text, draft.base
    return _editor(lang, course, target, text, base)


@bp.post("/edit/<path:relative>")
@trainer_required
def save(lang: str, relative: str) -> ResponseReturnValue:
    """Preview (without JavaScript), save a draft, or publish."""
    course, target = _target(relative)
    text = request.form.get("text", "")
    base = request.form.get("base", "")
    action = request.form.get("action", "preview")
    try:
        if action == "draft":
            services.save_draft(_root(), relative, text, base, current_user.display_name)
            flash(_("Draft saved. Learners do not see it until you publish."))
            return redirect(url_for(".edit", lang=lang, relative=relative))
        if action == "publish":
            name, email = _author()
            services.publish(
                _root(), course, target, text, base, name, email, request.form.get("message", "")
            )
            from app.builds import queue_rebuild

            queue_rebuild(target.course_id, target.language, _module_id(course, target))
            flash(_("Published. Learners see the new version; audio and PDF are being rebuilt."))
            return redirect(url_for(".edit", lang=lang, relative=relative, published="1"))
    except Conflict as conflict:
        # The next publish builds on their version: the trainer has now seen it.
        theirs = digest(conflict.theirs.encode("utf-8"))
        return _editor(lang, course, target, text, theirs, conflict=conflict, status=409)
    except Refused as refused:
        return _editor(lang, course, target, text, base, refused=refused, status=422)
    except StudioError as exc:
        flash(str(exc))
    return _editor(lang, course, target, text, base)


def _module_id(course: Any, target: ModuleFile) -> str:
    entry = next((e for e in course.entries if e.folder == target.folder), None)
    return entry.id if entry else target.slug


@bp.post("/preview/<path:relative>")
@trainer_required
def preview(lang: str, relative: str) -> ResponseReturnValue:
    """Live preview for the editor: the rendered module and every problem with its line."""
    course, target = _target(relative)
    payload = request.get_json(silent=True) or {}
    text = payload.get("text")
    if not isinstance(text, str):
        abort(400)
    checked = services.check_text(_root(), course, target, text)
    return jsonify(
        html=_preview_html(lang, checked),
        problems=[{"line": p.line, "message": p.message} for p in checked.problems],
        warnings=[{"line": p.line, "message": p.message} for p in checked.warnings],
    )


@bp.get("/history/<path:relative>")
@trainer_required
def history(lang: str, relative: str) -> ResponseReturnValue:
    """A file's revisions; pick two to compare, or one to restore."""
    course, target = _target(relative)
    revisions = services.history(_root(), relative)
    old = request.args.get("a", "")
    new = request.args.get("b", "")
    lines: list[services.DiffLine] = []
    if old and new:
        try:
            lines = services.diff(
                services.revision_text(_root(), relative, old),
                services.revision_text(_root(), relative, new),
            )
        except StudioError:
            abort(404)
    return render_template(
        "studio/history.html",
        lang=lang,
        course=course,
        target=target,
        revisions=revisions,
        kind=services.revisions_for(_root()).kind,
        old=old,
        new=new,
        lines=lines,
        format_time=lambda when: format_datetime(datetime.fromtimestamp(when, UTC), "short"),
    )


@bp.post("/restore/<path:relative>")
@trainer_required
def restore(lang: str, relative: str) -> ResponseReturnValue:
    """Publish the text a file had at a revision (as a new revision)."""
    course, target = _target(relative)
    name, email = _author()
    try:
        services.restore(_root(), course, target, request.form.get("revision", ""), name, email)
    except Refused as refused:
        flash(
            _(
                "This revision has errors now and cannot be published: %(n)d error(s).",
                n=len(refused.problems),
            )
        )
        return redirect(url_for(".history", lang=lang, relative=relative))
    except StudioError:
        abort(404)
    from app.builds import queue_rebuild

    queue_rebuild(target.course_id, target.language, _module_id(course, target))
    flash(_("Revision restored and published."))
    return redirect(url_for(".edit", lang=lang, relative=relative, published="1"))
