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
from werkzeug.exceptions import RequestEntityTooLarge

from app.i18n import languages
from app.quizzes.review import right_answers, shown_questions
from app.quizzes.services import new_state
from app.studio import authoring, services
from app.studio.files import PathRefused, digest
from app.studio.services import Checked, Conflict, ModuleFile, Refused, StudioError
from app.studio.status import course_states
from app.trainer.access import trainer_required
from app.web import catalogue

bp = Blueprint("studio", __name__, url_prefix="/<lang:lang>/trainer/studio")

VENDOR_BUNDLE = "vendor/studio-editor.js"


def _upload_limit() -> None:
    """Let a picture upload be larger than the site's request limit (and no other request)."""
    if request.endpoint == "studio.upload":
        request.max_content_length = authoring.MAX_IMAGE + 64 * 1024


@bp.record_once
def _install_upload_limit(state: Any) -> None:
    # First of the app's hooks: the CSRF check reads the form, which applies the limit.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> ResponseReturnValue:
    error = _("The picture is larger than %(mb)d MB.", mb=authoring.MAX_IMAGE // (1024 * 1024))
    if _wants_json():
        return jsonify(error=error), 413
    return error, 413


@bp.url_value_preprocessor
def _check_lang(endpoint: str | None, values: dict[str, Any] | None) -> None:
    if values is not None and values.get("lang") not in languages():
        abort(404)


def _root() -> Path:
    return Path(current_app.config["CONTENT_DIR"])


def _may_edit(course: Any) -> bool:
    return authoring.may_edit(course, current_user.email, current_user.role == "admin")


def _target(relative: str) -> tuple[Any, ModuleFile]:
    """The course and module file a URL names, or 404 (never a path outside content/).

    Another course's trainer gets the same 404 as for a file that does not exist.
    """
    result = catalogue()
    try:
        target = services.module_file(result, relative)
        services.safe_path(_root(), relative)
    except PathRefused:
        abort(404)
    course = result.course(target.course_id)
    if course is None or not _may_edit(course):
        abort(404)
    return course, target


def _course(course_id: str) -> Any:
    """A course this trainer edits, or 404."""
    course = catalogue().course(course_id)
    if course is None or not _may_edit(course):
        abort(404)
    return course


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
        courses=[
            state
            for state in course_states(_root(), result, current_app.config["MEDIA_DIR"])
            if _may_edit(state.course)
        ],
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


def _refusal(exc: StudioError | PathRefused) -> str:
    """The trainer's words for a refused request (the reasons are the checker's English)."""
    if isinstance(exc, PathRefused):
        return _("This name is not allowed: %(reason)s.", reason=str(exc))
    return _("Not done: %(reason)s.", reason=str(exc))


@bp.post("/new/<course_id>")
@trainer_required
def new_module(lang: str, course_id: str) -> ResponseReturnValue:
    """A new module from the template, after the last one, opened in the editor."""
    course = _course(course_id)
    name, email = _author()
    try:
        relative = authoring.new_module(
            _root(),
            course,
            request.form.get("slug", ""),
            request.form.get("title", ""),
            name,
            email,
        )
    except (StudioError, PathRefused) as exc:
        flash(_refusal(exc))
        return redirect(url_for(".index", lang=lang))
    flash(_("Module created from the template. It passes the checker: make it yours."))
    return redirect(url_for(".edit", lang=lang, relative=relative))


@bp.post("/translate/<course_id>/<module_id>")
@trainer_required
def translate(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """Start a translation as a draft with the default file's text and ids."""
    course = _course(course_id)
    try:
        relative = authoring.start_translation(
            _root(), course, module_id, request.form.get("language", ""), current_user.display_name
        )
    except (StudioError, PathRefused) as exc:
        flash(_refusal(exc))
        return redirect(url_for(".index", lang=lang))
    flash(
        _(
            "Translation started as a draft with the default language's text and ids: "
            "translate the words, keep the {#ids}, then publish."
        )
    )
    return redirect(url_for(".edit", lang=lang, relative=relative))


@bp.post("/rename/<course_id>/<module_id>")
@trainer_required
def rename(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """Rename a module's folder; its id and learners' progress stay."""
    course = _course(course_id)
    name, email = _author()
    try:
        folder = authoring.rename_module(
            _root(), course, module_id, request.form.get("slug", ""), name, email
        )
    except (StudioError, PathRefused) as exc:
        flash(_refusal(exc))
    else:
        flash(
            _(
                "Module folder renamed to %(folder)s; its id stays %(id)s.",
                folder=folder,
                id=module_id,
            )
        )
    return redirect(url_for(".index", lang=lang))


@bp.post("/move/<course_id>/<module_id>")
@trainer_required
def move(lang: str, course_id: str, module_id: str) -> ResponseReturnValue:
    """Move a module up or down in the course."""
    course = _course(course_id)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if offset is None:
        abort(400)
    name, email = _author()
    try:
        authoring.move_module(_root(), course, module_id, offset, name, email)
    except (StudioError, PathRefused) as exc:
        flash(_refusal(exc))
    else:
        flash(_("Modules renumbered; learners keep their progress."))
    return redirect(url_for(".index", lang=lang))


def _wants_json() -> bool:
    return request.accept_mimetypes.best == "application/json"


@bp.post("/upload/<path:relative>")
@trainer_required
def upload(lang: str, relative: str) -> ResponseReturnValue:
    """Store a picture in the module's media/ folder; answer with the Markdown to insert."""
    course, target = _target(relative)
    error = ""
    try:
        image = request.files.get("image")
        if image is None or not image.filename:
            error = _("Choose a picture to upload.")
        else:
            data = image.stream.read(authoring.MAX_IMAGE + 1)
            uploaded = authoring.upload_image(_root(), course, target.folder, image.filename, data)
    except RequestEntityTooLarge:
        error = _("The picture is larger than %(mb)d MB.", mb=authoring.MAX_IMAGE // (1024 * 1024))
    except (StudioError, PathRefused) as exc:
        error = _refusal(exc)
    if error:
        if _wants_json():
            return jsonify(error=error), 422
        flash(error)
        return redirect(url_for(".edit", lang=lang, relative=relative))
    if _wants_json():
        return jsonify(name=uploaded.name, markdown=uploaded.markdown)
    flash(
        _(
            "Picture saved as media/%(name)s. Put this line where it belongs: %(markdown)s",
            name=uploaded.name,
            markdown=uploaded.markdown,
        )
    )
    return redirect(url_for(".edit", lang=lang, relative=relative))
