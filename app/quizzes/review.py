"""What the page shows: questions to answer, and after submission each answer reviewed.

Everything here is rendered HTML ready for the templates (trainer text sanitised, learner
text escaped). The question page is built from what a learner may see before answering
only: texts and options, never fractions or feedback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from app.content.questions import Question, QuestionType
from app.quizzes import grading
from app.quizzes.render import markup, with_slots
from app.quizzes.services import choice_id, field_name, gradable_answers, matching_choices

_INLINE_TYPES = (QuestionType.SHORT_ANSWER, QuestionType.NUMERICAL, QuestionType.GAP_FILL)


@dataclass(frozen=True)
class Choice:
    """One option or matching answer as shown: its form value and its label."""

    value: str
    label: Markup


@dataclass(frozen=True)
class Row:
    """One prompt of a matching question."""

    id: str
    name: str
    prompt: Markup


@dataclass(frozen=True)
class ShownQuestion:
    """A question as the quiz page shows it, with no hint of the right answer."""

    id: str
    number: int | None  # None for descriptions, which are not numbered
    type: str
    text: Markup  # with inputs in place of blanks for short answer, numerical and gaps
    inline_inputs: bool
    name: str
    choices: list[Choice] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)


def _gap_input(question: Question, index: int, label_text: str, numeric: bool = False) -> str:
    sub = question.gaps[index].id if question.type is QuestionType.GAP_FILL else None
    name = field_name(question.id, sub)
    label = escape(f"{label_text} {index + 1}" if sub else label_text)
    kind = 'type="number" step="any" inputmode="decimal"' if numeric else 'type="text"'
    return (
        f'<input {kind} class="quiz-gap" name="{escape(name)}" id="{escape(name)}" '
        f'aria-label="{label}" maxlength="2000" autocomplete="off" spellcheck="false">'
    )


def shown_questions(
    questions: list[Question],
    order: list[dict[str, Any]],
    language: str,
    labels: dict[str, str],
) -> list[ShownQuestion]:
    """The page's questions in the attempt's order, options in the attempt's order.

    :param labels: interface words for inputs inside a sentence: "answer", and "gap" (numbered).
    """
    by_id = {q.id: q for q in questions}
    shown: list[ShownQuestion] = []
    number = 0
    for entry in order:
        question = by_id.get(entry["id"])
        if question is None:
            continue
        graded = question.is_graded
        if graded:
            number += 1
        inline = question.type in _INLINE_TYPES and bool(question.text_parts)
        if inline:
            numeric = question.type is QuestionType.NUMERICAL
            gap_label = (
                labels["gap"] if question.type is QuestionType.GAP_FILL else labels["answer"]
            )

            def slot(i: int, q: Question = question, g: str = gap_label, n: bool = numeric) -> str:
                return _gap_input(q, i, g, n)

            text = with_slots(question.text_parts, question.text_format, language, slot)
        else:
            text = markup(question.text, question.text_format, language)
        choices: list[Choice] = []
        rows: list[Row] = []
        if "options" in entry:
            options = {o.id: o for o in question.options}
            choices = [
                Choice(
                    value=oid,
                    label=markup(options[oid].text, options[oid].text_format, language, True),
                )
                for oid in entry["options"]
                if oid in options
            ]
        if question.type is QuestionType.MATCHING:
            texts = {choice_id(t): t for t in matching_choices(question)}
            choices = [
                Choice(value=c, label=Markup(escape(texts[c])))
                for c in entry.get("choices", [])
                if c in texts
            ]
            pairs = {p.id: p for p in question.pairs}
            rows = [
                Row(
                    id=rid,
                    name=field_name(question.id, rid),
                    prompt=markup(pairs[rid].prompt, pairs[rid].prompt_format, language, True),
                )
                for rid in entry.get("rows", [])
                if rid in pairs
            ]
        shown.append(
            ShownQuestion(
                id=question.id,
                number=number if graded else None,
                type=str(question.type),
                text=text,
                inline_inputs=inline,
                name=field_name(question.id),
                choices=choices,
                rows=rows,
            )
        )
    return shown


@dataclass(frozen=True)
class ReviewedQuestion:
    """One question after submission: how it went, what was given, what was right, why."""

    id: str
    number: int | None
    text: Markup
    outcome: str | None  # "right", "partly", "wrong"; None for descriptions
    score: float | None
    given: list[Markup]
    right: list[Markup]
    feedback: list[Markup]
    general_feedback: Markup | None
    blank: bool = False  # the learner gave no answer at all


def blank_questions(review: list[ReviewedQuestion]) -> list[ReviewedQuestion]:
    """The graded questions of a reviewed attempt the learner left without an answer."""
    return [r for r in review if r.number is not None and r.blank]


def _outcome(score: float) -> str:
    if score >= 1.0:
        return "right"
    return "partly" if score > 0 else "wrong"


def _number_text(value: float) -> str:
    return f"{value:g}"


def _given(question: Question, answer: Any, language: str, nothing: str) -> list[Markup]:
    """The learner's answer as shown back to them."""
    if answer in (None, "", [], {}):
        return [Markup(escape(nothing))]
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE, QuestionType.MULTIPLE_CHOICE):
        chosen = [answer] if isinstance(answer, str) else list(answer)
        return [
            markup(o.text, o.text_format, language, True)
            for o in question.options
            if o.id in chosen
        ]
    if kind is QuestionType.MATCHING:
        pairs = {p.id: p for p in question.pairs}
        return [
            markup(pairs[row].prompt, pairs[row].prompt_format, language, True)
            + Markup(" → ")
            + escape(text)
            for row, text in answer.items()
            if row in pairs
        ]
    if kind is QuestionType.GAP_FILL:
        return [Markup(escape(answer.get(gap.id, "") or "…")) for gap in question.gaps]
    return [Markup(escape(str(answer)))]


def _right(question: Question, language: str) -> list[Markup]:
    """The right answer(s), in the trainer's words."""
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
        best = max((o.fraction for o in question.options), default=0.0)
        return [
            markup(o.text, o.text_format, language, True)
            for o in question.options
            if o.fraction == best and best > 0
        ]
    if kind is QuestionType.MULTIPLE_CHOICE:
        return [
            markup(o.text, o.text_format, language, True) for o in question.options if o.correct
        ]
    if kind is QuestionType.SHORT_ANSWER:
        best = max((a.fraction for a in question.answers), default=0.0)
        return [Markup(escape(a.text)) for a in question.answers if a.fraction == best]
    if kind is QuestionType.NUMERICAL:
        best = max((a.fraction for a in question.numeric if a.value is not None), default=0.0)
        return [
            Markup(escape(_number_text(a.value)))
            + (Markup(escape(f" ± {_number_text(abs(a.tolerance))}")) if a.tolerance else "")
            for a in question.numeric
            if a.value is not None and a.fraction == best
        ]
    if kind is QuestionType.MATCHING:
        return [
            markup(p.prompt, p.prompt_format, language, True) + Markup(" → ") + escape(p.answer)
            for p in question.pairs
            if not p.is_distractor
        ]
    if kind is QuestionType.GAP_FILL:
        return [Markup(escape(" / ".join(gap.answers))) for gap in question.gaps]
    return []


def right_answers(question: Question, language: str) -> list[Markup]:
    """The right answer(s) of a question, as the reviewed attempt shows them (the answer key)."""
    return _right(question, language)


def reviewed_questions(
    questions: list[Question],
    order: list[dict[str, Any]],
    answers: dict[str, Any],
    scores: dict[str, float],
    language: str,
    nothing: str,
) -> list[ReviewedQuestion]:
    """Each question of a stored attempt, reviewed against the current content.

    :param answers: the stored answers (matching as choice ids, as the form sent them).
    :param nothing: the words shown for an unanswered question.
    """
    by_id = {q.id: q for q in questions}
    # A question since removed, or turned into another kind, cannot be reviewed against
    # answers given to the old one: it is left out, as it was when the attempt was graded.
    shown = [
        by_id[e["id"]]
        for e in order
        if e.get("id") in by_id and str(by_id[e["id"]].type) == e.get("type")
    ]
    resolved = gradable_answers(shown, answers)
    out: list[ReviewedQuestion] = []
    number = 0
    for question in shown:
        general = (
            markup(question.general_feedback, question.general_feedback_format, language)
            if question.general_feedback
            else None
        )
        text = markup(question.text, question.text_format, language)
        if not question.is_graded:
            out.append(ReviewedQuestion(question.id, None, text, None, None, [], [], [], general))
            continue
        number += 1
        answer = resolved.get(question.id)
        score = scores.get(question.id)
        if score is None:
            score = grading.grade(question, answer)
        out.append(
            ReviewedQuestion(
                id=question.id,
                number=number,
                text=text,
                outcome=_outcome(score),
                score=score,
                given=_given(question, answer, language, nothing),
                right=_right(question, language),
                feedback=[
                    markup(fb, fmt, language)
                    for fb, fmt in grading.chosen_feedback(question, answer)
                ],
                general_feedback=general,
                blank=answer in (None, "", [], {}),
            )
        )
    return out
