"""The per-learner parts of the catalogue, course and module pages (slots, see app/pages.py).

Each function gets the request's PageState (filled by the view: `status` on a module page,
`statuses` and `resume` on a course page) and returns escaped HTML. They run on every request,
so they stay small: no template rendering, no database access of their own.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext
from markupsafe import escape

from app.content.model import Course, Module
from app.pages import PageState, slot
from app.progress.queries import ModuleStatus


def _read(state: PageState, section_id: str) -> bool:
    status: ModuleStatus | None = state.get("status")
    return bool(status and section_id in status.read)


@slot("read_class")
def read_class(state: PageState, section_id: str) -> str:
    """` class="read"` on the outline entry of a section the learner has read."""
    return ' class="read"' if _read(state, section_id) else ""


@slot("read_mark")
def read_mark(state: PageState, section_id: str) -> str:
    """The tick after a read section's title in the outline."""
    if not _read(state, section_id):
        return ""
    return f' <span class="read-mark" title="{escape(gettext("Read"))}">✓</span>'


@slot("is_read")
def is_read(state: PageState, section_id: str) -> str:
    """The ` is-read` class of a read section."""
    return " is-read" if _read(state, section_id) else ""


@slot("read_count")
def read_count(state: PageState) -> str:
    """How many of the module's sections the learner has read."""
    status: ModuleStatus | None = state.get("status")
    return str(status.read_count if status else 0)


@slot("module_done")
def module_done(state: PageState) -> str:
    """The 'Module completed' badge."""
    status: ModuleStatus | None = state.get("status")
    if not (status and status.completed_at):
        return ""
    return f'<p class="badge-done">{escape(gettext("Module completed"))}</p>'


@slot("continue")
def continue_link(state: PageState, module: Module) -> str:
    """'Continue where you left off', to the last section the learner opened."""
    status: ModuleStatus | None = state.get("status")
    if not (status and status.last_section and module.section(status.last_section)):
        return ""
    label = escape(gettext("Continue where you left off"))
    return (
        f'<p><a class="button-link" data-continue href="#{escape(status.last_section)}">'
        f"{label}</a></p>"
    )


@slot("quiz_best")
def quiz_best(state: PageState) -> str:
    """The best quiz score so far, and 'Passed' once passed."""
    status: ModuleStatus | None = state.get("status")
    if not status or status.best_score is None:
        return ""
    text = escape(gettext("Best score: %(score)d%%", score=round(status.best_score * 100)))
    passed = (
        f' · <span class="badge-done">{escape(gettext("Passed"))}</span>'
        if status.quiz_passed
        else ""
    )
    return f"<p data-quiz-best>{text}{passed}</p>"


@slot("audio_resume")
def audio_resume(state: PageState, module: Module) -> str:
    """Where the audio player resumes: the last section listened to and the position in it."""
    status: ModuleStatus | None = state.get("status")
    if not (status and status.last_audio_section and module.section(status.last_audio_section)):
        return ""
    position = status.last_audio_position or 0
    return (
        f' data-resume-section="{escape(status.last_audio_section)}"'
        f' data-resume-position="{position}"'
    )


@slot("course_resume")
def course_resume(state: PageState, course: Course, lang: str) -> str:
    """'Continue where you left off', to the module (and section) the learner touched last."""
    resume: ModuleStatus | None = state.get("resume")
    if resume is None:
        return ""
    url = url_for("content.module", lang=lang, course_id=course.id, module_id=resume.module_id)
    if resume.last_section:
        url += f"#{resume.last_section}"
    label = escape(gettext("Continue where you left off"))
    return f'<p><a class="button-link" data-continue href="{escape(url)}">{label}</a></p>'


@slot("module_progress")
def module_progress(state: PageState, module_id: str) -> str:
    """A module card's progress bar, sections read, best score and completion."""
    statuses: dict[str, ModuleStatus] = state.get("statuses") or {}
    s = statuses.get(module_id)
    if s is None:
        return ""
    read = escape(gettext("%(read)d of %(total)d sections read", read=s.read_count, total=s.total))
    parts = [f"<span>{read}</span>"]
    if s.best_score is not None:
        best = gettext("Best quiz score: %(score)d%%", score=round(s.best_score * 100))
        parts.append(f"<span>{escape(best)}</span>")
    if s.completed_at:
        parts.append(f'<span class="badge-done">{escape(gettext("Completed"))}</span>')
    label = escape(gettext("Progress"))
    return (
        f'<div class="module-progress" data-progress>'
        f'<progress max="100" value="{s.percent}" aria-label="{label}">{s.percent}%</progress>'
        f'<p class="meta">{" ".join(parts)}</p></div>'
    )
