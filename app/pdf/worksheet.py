"""Quiz questions as a printable worksheet (no answers) and an answer key (answers + feedback).

Pure functions over `Question` objects. Question texts are source text (Markdown, HTML, plain or
Moodle auto-format): each goes through the same Markdown renderer and sanitiser as the module.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import TypedDict

from markupsafe import Markup

from app.content.markdown import render, sanitise
from app.content.questions import BLANK, Question, QuestionType, TextFormat

_SINGLE_PARAGRAPH = re.compile(r"^\s*<p>(.*)</p>\s*$", re.S)
#: A marker no trainer types, swapped for a write-in blank after rendering.
_GAP_MARK = "QQGAPSLOTQQ"


def render_text(text: str, fmt: TextFormat, language: str) -> Markup:
    """Render one question text in its own format, sanitised, as block HTML."""
    if fmt is TextFormat.MARKDOWN:
        html = render(text, language)
    elif fmt is TextFormat.HTML:
        html = sanitise(text)
    elif fmt is TextFormat.MOODLE:
        # Moodle's auto-format keeps HTML and turns line breaks into <br>.
        html = sanitise("<p>" + text.replace("\n", "<br>") + "</p>")
    else:
        html = "<p>" + escape(text).replace("\n", "<br>") + "</p>"
    return Markup(html)  # sanitised above


def render_inline(text: str, fmt: TextFormat, language: str) -> Markup:
    """Render a short text (an option, a feedback) without its wrapping paragraph."""
    html = str(render_text(text, fmt, language))
    match = _SINGLE_PARAGRAPH.match(html)
    if match and "<p>" not in match.group(1):
        html = match.group(1)
    return Markup(html)  # sanitised by render_text


def _with_blanks(question: Question, language: str) -> Markup:
    """The question text with a numbered write-in blank in place of each inline answer."""
    count = question.text.count(BLANK)
    text = question.text.replace(BLANK, _GAP_MARK)
    html = str(render_text(text, question.text_format, language))
    for n in range(1, count + 1):
        label = f'<span class="gap-number">{n}</span>' if count > 1 else ""
        html = html.replace(_GAP_MARK, f'<span class="blank">{label}</span>', 1)
    return Markup(html)  # sanitised by render_text; our own spans added


def letter(index: int) -> str:
    """a, b, c ... for the index-th option (0-based)."""
    return chr(ord("a") + index) if index < 26 else f"{index + 1}"


@dataclass(frozen=True)
class KeyLine:
    """One line of the answer key: an answer (or a label) and the feedback that goes with it."""

    label: str
    answer: Markup
    feedback: Markup = Markup("")
    correct: bool = True


@dataclass(frozen=True)
class PrintQuestion:
    """A question laid out for paper: what the learner sees, and its answer key entry."""

    number: int
    id: str
    kind: str  # single, multiple, lines, numeric, matching, description
    text: Markup
    options: tuple[tuple[str, Markup], ...] = ()  # (letter, text)
    prompts: tuple[Markup, ...] = ()  # matching: the left column
    choices: tuple[tuple[str, str], ...] = ()  # matching: (letter, answer), sorted
    lines: int = 0
    key: tuple[KeyLine, ...] = ()
    general_feedback: Markup = Markup("")
    graded: bool = True


def _choice_key(question: Question, language: str) -> tuple[KeyLine, ...]:
    """Every option with its letter, whether it earns credit, and its feedback."""
    return tuple(
        KeyLine(
            label=letter(i),
            answer=render_inline(option.text, option.text_format, language),
            feedback=render_inline(option.feedback, option.feedback_format, language)
            if option.feedback
            else Markup(""),
            correct=option.correct,
        )
        for i, option in enumerate(question.options)
    )


def _numeric_text(value: float | None, tolerance: float | None) -> str:
    """A numeric answer as a person writes it: 42, or 3.14 ± 0.01."""
    shown = f"{value:g}" if value is not None else "*"
    return f"{shown} ± {abs(tolerance):g}" if tolerance else shown


class _Common(TypedDict):
    """The fields every kind of printed question shares."""

    number: int
    id: str
    general_feedback: Markup
    graded: bool


def print_question(number: int, question: Question, language: str) -> PrintQuestion:
    """Lay out one question for the worksheet and its answer key."""
    general = (
        render_inline(question.general_feedback, question.general_feedback_format, language)
        if question.general_feedback
        else Markup("")
    )
    common = _Common(
        number=number, id=question.id, general_feedback=general, graded=question.is_graded
    )
    qtype = question.type
    if qtype in (
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTIPLE_CHOICE,
        QuestionType.TRUE_FALSE,
    ):
        options = tuple(
            (letter(i), render_inline(o.text, o.text_format, language))
            for i, o in enumerate(question.options)
        )
        kind = "multiple" if qtype is QuestionType.MULTIPLE_CHOICE else "single"
        return PrintQuestion(
            kind=kind,
            # GIFT missing word: the choices fill a blank inside the sentence.
            text=_with_blanks(question, language)
            if question.is_missing_word
            else render_text(question.text, question.text_format, language),
            options=options,
            key=_choice_key(question, language),
            **common,
        )
    if qtype is QuestionType.GAP_FILL or question.is_missing_word:
        if question.gaps:
            key = tuple(
                KeyLine(label=str(i + 1), answer=Markup(" / ".join(escape(a) for a in gap.answers)))
                for i, gap in enumerate(question.gaps)
            )
        elif question.options:
            key = _choice_key(question, language)
        else:
            key = _short_key(question, language)
        options = ()
        if question.options:  # GIFT missing word with choices: the choices are printed
            options = tuple(
                (letter(i), render_inline(o.text, o.text_format, language))
                for i, o in enumerate(question.options)
            )
        return PrintQuestion(
            kind="gaps",
            text=_with_blanks(question, language),
            options=options,
            key=key,
            **common,
        )
    if qtype is QuestionType.MATCHING:
        answers = sorted({p.answer for p in question.pairs}, key=str.casefold)
        letters = {a: letter(i).upper() for i, a in enumerate(answers)}
        rows = [p for p in question.pairs if not p.is_distractor]
        return PrintQuestion(
            kind="matching",
            text=render_text(question.text, question.text_format, language),
            prompts=tuple(render_inline(p.prompt, p.prompt_format, language) for p in rows),
            choices=tuple((letters[a], a) for a in answers),
            key=tuple(
                KeyLine(
                    label=str(i + 1),
                    answer=Markup(f"{escape(letters[p.answer])} · {escape(p.answer)}"),
                )
                for i, p in enumerate(rows)
            ),
            **common,
        )
    if qtype is QuestionType.NUMERICAL:
        key = tuple(
            KeyLine(
                label="",
                answer=Markup(escape(_numeric_text(n.value, n.tolerance))),
                feedback=render_inline(n.feedback, n.feedback_format, language)
                if n.feedback
                else Markup(""),
                correct=n.fraction > 0,
            )
            for n in question.numeric
            if n.value is not None
        )
        return PrintQuestion(
            kind="numeric",
            text=render_text(question.text, question.text_format, language),
            key=key,
            **common,
        )
    if qtype is QuestionType.SHORT_ANSWER:
        return PrintQuestion(
            kind="lines",
            lines=2,
            text=render_text(question.text, question.text_format, language),
            key=_short_key(question, language),
            **common,
        )
    if qtype is QuestionType.ESSAY:
        return PrintQuestion(
            kind="lines",
            lines=8,
            text=render_text(question.text, question.text_format, language),
            **common,
        )
    return PrintQuestion(
        kind="description",
        text=render_text(question.text, question.text_format, language),
        **common,
    )


def _short_key(question: Question, language: str) -> tuple[KeyLine, ...]:
    """Accepted short answers, best first, with partial credit shown as a percentage."""
    answers = sorted(question.answers, key=lambda a: -a.fraction)
    return tuple(
        KeyLine(
            label="" if a.fraction >= 1 else f"{round(a.fraction * 100)}%",
            answer=Markup(escape(a.text)),
            feedback=render_inline(a.feedback, a.feedback_format, language)
            if a.feedback
            else Markup(""),
            correct=a.fraction > 0,
        )
        for a in answers
    )


def worksheet(questions: Sequence[Question], language: str) -> tuple[PrintQuestion, ...]:
    """Number the graded questions (descriptions stay unnumbered) and lay each one out."""
    items: list[PrintQuestion] = []
    number = 0
    for question in questions:
        if question.is_graded:
            number += 1
        items.append(print_question(number if question.is_graded else 0, question, language))
    return tuple(items)
