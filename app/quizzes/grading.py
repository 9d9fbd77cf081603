"""Pure grading: `grade(question, answer) -> float` in 0..1, one small function per type.

Answers are plain data, as `app.quizzes.services.parse_answers` builds them from a form:

- single choice, true/false: the chosen option id (str) or None;
- multiple choice: a list of chosen option ids;
- short answer, numerical: the text typed (str);
- matching: {pair id: chosen answer text};
- gap-fill: {gap id: text typed}.

A missing answer is None (or an empty container) and scores 0. Description questions have no
grade: `grade` refuses them and `score` leaves them out of the total.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.content.questions import (
    AcceptedAnswer,
    NumericAnswer,
    Option,
    Question,
    QuestionType,
    TextFormat,
)

Answer = Any
Grader = Callable[[Question, Answer], float]

#: Registry of graders by question type; description and essay have none.
GRADERS: dict[QuestionType, Grader] = {}

# A score this close to 1 counts as fully right (sums of 1/3 + 1/3 + 1/3 are not exactly 1).
_EPSILON = 1e-9
_SPACES_RE = re.compile(r"\s+")


class NotGradable(ValueError):
    """The question has no automatic grade (a description, or an essay)."""


def _clamp(value: float) -> float:
    """Keep a score within 0..1; negative weights never take a question below 0."""
    if value >= 1 - _EPSILON:
        return 1.0
    return max(0.0, value)


def grader(*types: QuestionType) -> Callable[[Grader], Grader]:
    """Register a grading function for one or more question types."""

    def register(function: Grader) -> Grader:
        for kind in types:
            GRADERS[kind] = function
        return function

    return register


def normalise_text(text: str) -> str:
    """Typed text as compared: case-folded, NFC, surrounding spaces off, inner runs as one."""
    text = unicodedata.normalize("NFC", text)
    return _SPACES_RE.sub(" ", text).strip().casefold()


def _wildcard_match(pattern: str, response: str) -> bool:
    """Moodle's short-answer match: `*` stands for any run of characters (escape with `\\*`)."""
    pieces = re.split(r"(?<!\\)\*", normalise_text(pattern))
    regex = ".*".join(re.escape(piece.replace("\\*", "*")) for piece in pieces)
    return re.fullmatch(regex, normalise_text(response), flags=re.DOTALL) is not None


# Thousands separators that cannot be read as a decimal mark: several groups, or a group
# followed by the other decimal mark. A lone "1,000" stays the Italian decimal 1.0.
_EN_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:(?:,\d{3}){2,}(?:\.\d+)?|,\d{3}\.\d+)")
_IT_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:(?:\.\d{3}){2,}(?:,\d+)?|\.\d{3},\d+)")


def parse_number(text: str) -> float | None:
    """A learner's number: '3.14', '3,14', ' -2 ', '1e3'; None when it is not one."""
    cleaned = text.strip().replace(" ", "")
    if _EN_THOUSANDS.fullmatch(cleaned):  # 1,000,000 or 1,000.5
        cleaned = cleaned.replace(",", "")
    elif _IT_THOUSANDS.fullmatch(cleaned):  # 1.000.000 or 1.000,5
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(",") == 1 and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")  # the Italian decimal comma
    try:
        value = float(cleaned)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@grader(QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE)
def grade_single(question: Question, answer: Answer) -> float:
    """The chosen option's fraction (a negative one counts as 0)."""
    option = option_by_id(question, answer) if isinstance(answer, str) else None
    return _clamp(option.fraction) if option else 0.0


@grader(QuestionType.MULTIPLE_CHOICE)
def grade_multiple(question: Question, answer: Answer) -> float:
    """Sum of the chosen options' fractions, clamped to 0..1 (wrong ticks take credit away)."""
    chosen = set(answer) if isinstance(answer, list | tuple | set | frozenset) else set()
    return _clamp(sum(o.fraction for o in question.options if o.id in chosen))


@grader(QuestionType.SHORT_ANSWER)
def grade_short_answer(question: Question, answer: Answer) -> float:
    """The best fraction among the accepted answers the response matches."""
    match = matched_short_answer(question, answer)
    return _clamp(match.fraction) if match else 0.0


@grader(QuestionType.NUMERICAL)
def grade_numerical(question: Question, answer: Answer) -> float:
    """The best fraction among the numeric answers whose interval holds the response."""
    match = matched_numeric_answer(question, answer)
    return _clamp(match.fraction) if match else 0.0


@grader(QuestionType.MATCHING)
def grade_matching(question: Question, answer: Answer) -> float:
    """Share of the prompts matched to their answer (each pair counts the same)."""
    pairs = [p for p in question.pairs if not p.is_distractor]
    if not pairs:
        return 0.0
    chosen = answer if isinstance(answer, Mapping) else {}
    right = sum(1 for p in pairs if chosen.get(p.id) == p.answer)
    return _clamp(right / len(pairs))


@grader(QuestionType.GAP_FILL)
def grade_gap_fill(question: Question, answer: Answer) -> float:
    """Share of the gaps filled with one of their accepted answers."""
    if not question.gaps:
        return 0.0
    typed = answer if isinstance(answer, Mapping) else {}
    right = sum(1 for gap in question.gaps if gap_is_right(gap.answers, typed.get(gap.id)))
    return _clamp(right / len(question.gaps))


def gap_is_right(accepted: Iterable[str], typed: object) -> bool:
    """Whether a typed gap matches an accepted answer (case and surrounding spaces ignored)."""
    if not isinstance(typed, str) or not typed.strip():
        return False
    response = normalise_text(typed)
    return any(normalise_text(a) == response for a in accepted)


def grade(question: Question, answer: Answer) -> float:
    """Score one answer to one question, 0..1.

    :raises NotGradable: for description and essay questions.
    """
    function = GRADERS.get(question.type)
    if function is None:
        raise NotGradable(f"{question.type} questions are not graded")
    return function(question, answer)


@dataclass(frozen=True)
class Score:
    """The grade of a whole attempt: per graded question, and the mean over them."""

    per_question: dict[str, float]
    total: float

    def passed(self, pass_mark: int) -> bool:
        """Whether the total reaches the pass mark (a percentage)."""
        return self.total * 100 + _EPSILON >= pass_mark


def score(questions: Iterable[Question], answers: Mapping[str, Answer]) -> Score:
    """Grade every graded question (unanswered ones score 0); every question weighs the same."""
    per_question = {q.id: grade(q, answers.get(q.id)) for q in questions if q.is_graded}
    total = sum(per_question.values()) / len(per_question) if per_question else 0.0
    return Score(per_question=per_question, total=_clamp(total))


# --- what the feedback page needs: the option, answer or range a response matched ----------


def option_by_id(question: Question, option_id: str) -> Option | None:
    """The option with this id, or None."""
    return next((o for o in question.options if o.id == option_id), None)


def matched_short_answer(question: Question, answer: Answer) -> AcceptedAnswer | None:
    """The best-scoring accepted answer the response matches, or None."""
    if not isinstance(answer, str) or not answer.strip():
        return None
    matches = [a for a in question.answers if _wildcard_match(a.text, answer)]
    return max(matches, key=lambda a: a.fraction, default=None)


def matched_numeric_answer(question: Question, answer: Answer) -> NumericAnswer | None:
    """The best-scoring numeric answer whose interval holds the response, or None.

    The best one rather than Moodle's first one, so the order the trainer wrote ranges in
    never costs a learner credit; a catch-all (value None) only wins when nothing else matches.
    """
    if not isinstance(answer, str):
        return None
    value = parse_number(answer)
    if value is None:
        return None
    matches = [a for a in question.numeric if a.matches(value)]
    return max(matches, key=lambda a: (a.fraction, a.value is not None), default=None)


def chosen_feedback(question: Question, answer: Answer) -> list[tuple[str, TextFormat]]:
    """Feedback texts (with their format) for what the learner chose or typed."""
    found: list[tuple[str, TextFormat]] = []
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
        option = option_by_id(question, answer) if isinstance(answer, str) else None
        if option and option.feedback:
            found.append((option.feedback, option.feedback_format))
    elif question.type is QuestionType.MULTIPLE_CHOICE:
        chosen = set(answer) if isinstance(answer, list | tuple | set | frozenset) else set()
        found += [(o.feedback, o.feedback_format) for o in question.options if o.id in chosen]
    elif question.type is QuestionType.SHORT_ANSWER:
        match = matched_short_answer(question, answer)
        if match:
            found.append((match.feedback, match.feedback_format))
    elif question.type is QuestionType.NUMERICAL:
        numeric = matched_numeric_answer(question, answer)
        if numeric:
            found.append((numeric.feedback, numeric.feedback_format))
    return [(text, fmt) for text, fmt in found if text]
