"""The per-attempt and per-learner parts of the quiz page (slots, see app/pages.py).

The quiz page is rendered once per content version and language; each request fills in the
attempt it starts (the signed state and the questions with their options in that attempt's
order), the learner's best score and attempts, and the trainer's GIFT link. The view puts a
`QuizPage` in the PageState under "quiz".

A question's HTML depends only on the question, its number, the language and the order its
choices are shown in. Each question is rendered once with stand-ins where a choice's value and
label go, and kept split there; every attempt then joins the kept pieces with its choices in
its own order. Nothing is rendered per request, however the options are shuffled.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, replace
from typing import Any

from flask import current_app
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup, escape

from app.content.model import Course, Module
from app.content.questions import Question, QuestionType
from app.pages import PageState, fragment, slot
from app.quizzes.review import Choice, shown_questions
from app.quizzes.services import AttemptListing, AttemptState, choice_id, matching_choices

#: app.extensions key of the kept question HTML.
_ITEMS = "academy.quiz_items"
#: Kept question strings before the memo starts again (a few KB each; shuffled modules make
#: one per order seen).
MAX_ITEMS = 8192
_LOCK = threading.Lock()


@dataclass(frozen=True)
class QuizPage:
    """What one request's quiz page shows besides the shared HTML."""

    course: Course
    module: Module
    state: AttemptState
    signed_state: str
    attempts: list[AttemptListing]
    best: float | None


def _quiz(state: PageState) -> QuizPage:
    page: QuizPage = state["quiz"]
    return page


@slot("quiz_state")
def quiz_state(state: PageState) -> str:
    """The signed attempt state the form sends back."""
    return str(escape(_quiz(state).signed_state))


@slot("quiz_best_score")
def quiz_best_score(state: PageState) -> str:
    """'Best score: n%' in the quiz page's header, once the learner has an attempt."""
    best = _quiz(state).best
    percent = None if best is None else int(round(best * 100, 0))
    return fragment("quizzes/_best_score.html", ("best", percent), best=best)


@slot("quiz_export")
def quiz_export(state: PageState, lang: str, course_id: str, module_id: str) -> str:
    """The GIFT download link, for trainers and admins."""
    can_export = bool(current_user.is_authenticated and current_user.is_trainer)
    return fragment(
        "quizzes/_export.html",
        ("export", lang, course_id, module_id, can_export),
        can_export=can_export,
        lang=lang,
        course_id=course_id,
        module_id=module_id,
    )


@slot("quiz_attempts")
def quiz_attempts(state: PageState, lang: str) -> str:
    """The learner's attempts at this quiz, newest first (nothing before the first)."""
    page = _quiz(state)
    if not page.attempts:
        return ""
    template = current_app.jinja_env.get_template("quizzes/_attempts.html")
    return template.render(
        attempts=page.attempts,
        best=page.best,
        lang=lang,
        course=page.course,
        module=page.module,
    )


#: Stands for a choice's value or label while a question is rendered (random per process, so
#: no text a trainer writes can contain it): "<mark>v3<mark>" is the value of the attempt's
#: fourth choice, "<mark>l3<mark>" its label.
_MARK = "qz" + secrets.token_hex(8)
_MARK_RE = re.compile(f"{_MARK}([vl])([0-9]+){_MARK}")


@dataclass(frozen=True)
class _Item:
    """One question's HTML for any order of its choices: text split where a choice goes."""

    module: Module  # held, so the id(module) in the key cannot be reused while this lives
    chunks: tuple[str, ...]
    refs: tuple[tuple[str, int], ...]  # ("v" value | "l" label, position in the choice order)


def _choice_ids(question: Question) -> list[str]:
    """Every choice a question's form offers, in the written order (what an attempt shuffles)."""
    if question.type is QuestionType.MATCHING:
        return [choice_id(text) for text in matching_choices(question)]
    return [o.id for o in question.options]


def _order_of(question: Question, entry: dict[str, Any]) -> list[str]:
    """The attempt's order of the question's choices, as the form shows them."""
    key = "choices" if question.type is QuestionType.MATCHING else "options"
    return list(entry.get(key, []))


@slot("quiz_questions")
def quiz_questions(state: PageState, lang: str) -> str:
    """Every question of the attempt, options in its order, numbered as the page shows them."""
    page = _quiz(state)
    module = page.module
    by_id = {q.id: q for q in module.questions}
    graded = sum(1 for q in module.questions if q.is_graded)
    memo: dict[tuple[Any, ...], Any] = current_app.extensions.setdefault(_ITEMS, {})
    locale = str(get_locale())
    parts = []
    number = 0
    for entry in page.state.order:
        question = by_id.get(entry["id"])
        if question is None:
            continue
        if question.is_graded:
            number += 1
        labels = _labels(memo, module, question)
        order = [value for value in _order_of(question, entry) if value in labels]
        shape = tuple(
            (name, tuple(value) if isinstance(value, list) else value)
            for name, value in sorted(entry.items())
            if name not in ("options", "choices")
        )
        key = ("item", id(module), locale, lang, number, graded, shape, len(order))
        item = memo.get(key)
        if item is None or item.module is not module:
            item = _item(module, question, entry, number, graded, lang, len(order))
            _keep(memo, key, item)
        for chunk, (kind, position) in zip(item.chunks, item.refs, strict=False):
            value = order[position]
            parts.append(chunk)
            parts.append(str(escape(value)) if kind == "v" else labels[value])
        parts.append(item.chunks[-1])
    return "".join(parts)


def _keep(memo: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: Any) -> None:
    with _LOCK:
        if len(memo) >= MAX_ITEMS:
            memo.clear()
        memo[key] = value


def _labels(memo: dict[tuple[Any, ...], Any], module: Module, question: Question) -> dict[str, str]:
    """Each choice's label as HTML, by its form value (the same in every order)."""
    key = ("labels", id(module), question.id)
    kept = memo.get(key)
    if kept is not None and kept[0] is module:
        labels: dict[str, str] = kept[1]
        return labels
    entry = {"id": question.id, "options": _choice_ids(question), "choices": _choice_ids(question)}
    # Only the choices are read here: the input labels inside a text do not matter.
    (shown,) = shown_questions([question], [entry], module.language, {"answer": "", "gap": ""})
    labels = {choice.value: str(choice.label) for choice in shown.choices}
    _keep(memo, key, (module, labels))
    return labels


def _item(
    module: Module,
    question: Question,
    entry: dict[str, Any],
    number: int,
    graded: int,
    lang: str,
    choices: int,
) -> _Item:
    """Render one question of the form as the page's loop writes it, its choices left open."""
    labels = {"answer": _("Your answer"), "gap": _("Gap")}
    (shown,) = shown_questions([question], [entry], module.language, labels)
    marks = [
        Choice(value=f"{_MARK}v{i}{_MARK}", label=Markup(f"{_MARK}l{i}{_MARK}"))
        for i in range(choices)
    ]
    shown = replace(shown, number=number if shown.number is not None else None, choices=marks)
    template = current_app.jinja_env.get_template("quizzes/_questions.html")
    pieces = _MARK_RE.split(template.render(questions=[shown], graded=graded, lang=lang))
    return _Item(
        module=module,
        chunks=tuple(pieces[0::3]),
        refs=tuple((kind, int(i)) for kind, i in zip(pieces[1::3], pieces[2::3], strict=True)),
    )
