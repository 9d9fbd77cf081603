"""The typed question model shared by both quiz syntaxes (task lists and GIFT).

Pure data: frozen dataclasses, no Flask, no database. Texts stay source text
(Markdown, HTML, plain or Moodle auto-format); rendering happens elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

#: What a question text shows where an inline answer goes (Moodle's own marker).
BLANK = "_____"

#: Longest derived id; long enough to stay readable in statistics, short enough for URLs.
MAX_SLUG_LENGTH = 40


class QuestionType(StrEnum):
    """The kinds of question the platform knows."""

    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TRUE_FALSE = "true_false"
    SHORT_ANSWER = "short_answer"
    MATCHING = "matching"
    NUMERICAL = "numerical"
    GAP_FILL = "gap_fill"
    DESCRIPTION = "description"
    ESSAY = "essay"


class Syntax(StrEnum):
    """Which fenced block syntax a question was written in."""

    QUIZ = "quiz"
    GIFT = "gift"


class TextFormat(StrEnum):
    """How a piece of source text is meant to be rendered (GIFT's `[format]` names)."""

    MARKDOWN = "markdown"
    HTML = "html"
    PLAIN = "plain"
    MOODLE = "moodle"


@dataclass(frozen=True)
class Option:
    """One choice of a single-choice, multiple-choice or true/false question.

    `fraction` is the credit for choosing it, in -1..1: single choice gives the
    chosen option's fraction; multiple choice sums the chosen fractions and
    clamps the total to 0..1.
    """

    id: str
    text: str
    fraction: float
    feedback: str = ""
    text_format: TextFormat = TextFormat.MARKDOWN
    feedback_format: TextFormat = TextFormat.MARKDOWN

    @property
    def correct(self) -> bool:
        """Whether choosing this option earns credit."""
        return self.fraction > 0


@dataclass(frozen=True)
class AcceptedAnswer:
    """One accepted response of a short-answer question (`*` is Moodle's wildcard)."""

    id: str
    text: str
    fraction: float = 1.0
    feedback: str = ""
    feedback_format: TextFormat = TextFormat.MARKDOWN


@dataclass(frozen=True)
class MatchPair:
    """One row of a matching question; an empty `prompt` is a distractor answer."""

    id: str
    prompt: str
    answer: str
    prompt_format: TextFormat = TextFormat.MARKDOWN

    @property
    def is_distractor(self) -> bool:
        """Whether this pair only adds an extra wrong answer to pick from."""
        return self.prompt == ""


@dataclass(frozen=True)
class NumericAnswer:
    """One graded numeric response: `value` ± `tolerance`.

    `value` None means "any response" (GIFT's catch-all `~#feedback`, or a
    non-numeric answer that Moodle turns into `*`). `tolerance` None only occurs
    for the catch-all, where it has no meaning.
    """

    id: str
    value: float | None
    tolerance: float | None
    fraction: float = 1.0
    feedback: str = ""
    feedback_format: TextFormat = TextFormat.MARKDOWN

    def matches(self, response: float) -> bool:
        """Whether `response` falls inside this answer's accepted interval."""
        if self.value is None:
            return True
        # abs(): Moodle accepts reversed ranges such as {#5..1}, which give a negative tolerance.
        return abs(response - self.value) <= abs(self.tolerance or 0.0) + 1e-12


@dataclass(frozen=True)
class Gap:
    """One `[[a|b]]` gap of a gap-fill question: any of `answers` fills it."""

    id: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    """A parsed question, whichever syntax it came from.

    `text` is source text with every inline answer shown as BLANK. When the answer
    sits inside the sentence (GIFT missing word, task-list gaps), `text_parts`
    holds the text around the blanks, so `BLANK.join(text_parts) == text` and a
    page can render an input in place of each blank; otherwise it is empty.
    """

    id: str
    type: QuestionType
    text: str
    line: int
    syntax: Syntax
    text_format: TextFormat = TextFormat.MARKDOWN
    options: tuple[Option, ...] = ()
    answers: tuple[AcceptedAnswer, ...] = ()
    pairs: tuple[MatchPair, ...] = ()
    numeric: tuple[NumericAnswer, ...] = ()
    gaps: tuple[Gap, ...] = ()
    text_parts: tuple[str, ...] = ()
    general_feedback: str = ""
    general_feedback_format: TextFormat = TextFormat.MARKDOWN
    title: str | None = None
    idnumber: str = ""
    tags: tuple[str, ...] = ()
    explicit_id: bool = False
    outcomes: tuple[str, ...] = ()  # ids of the module's learning outcomes it assesses

    @property
    def is_missing_word(self) -> bool:
        """Whether the answer is given inside the sentence, in place of a blank."""
        return bool(self.text_parts)

    @property
    def is_graded(self) -> bool:
        """Whether a learner's response to this question can be scored automatically."""
        return self.type not in (QuestionType.DESCRIPTION, QuestionType.ESSAY)


#: The Moodle tag that names a learning outcome in GIFT: `// [tag:outcome:o1]`.
OUTCOME_TAG_PREFIX = "outcome:"


def outcomes_from_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Outcome ids named by `outcome:<id>` tags, in order, without repeats (case-insensitive)."""
    found: list[str] = []
    for tag in tags:
        if tag.lower().startswith(OUTCOME_TAG_PREFIX):
            outcome = tag[len(OUTCOME_TAG_PREFIX) :].strip().lower()
            if outcome and outcome not in found:
                found.append(outcome)
    return tuple(found)


def option_id(index: int) -> str:
    """Stable id of the `index`-th (0-based) option: a, b, ..., z, aa, ab, ..."""
    letters = ""
    index += 1
    while index > 0:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


_TAG_RE = re.compile(r"<[^>]*>")
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")


def slugify(text: str, max_length: int = MAX_SLUG_LENGTH) -> str:
    """ASCII slug of `text` (accents stripped, HTML tags dropped); "" if nothing is left."""
    text = _TAG_RE.sub(" ", text).replace(BLANK, " ")
    ascii_text = (
        unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    )
    slug = _NON_ALNUM_RE.sub("-", ascii_text).strip("-")
    if len(slug) > max_length:
        cut = slug[: max_length + 1]
        # Cut at a word boundary when one is reasonably close, so ids stay readable.
        boundary = cut.rfind("-")
        slug = cut[:boundary] if boundary >= max_length // 2 else slug[:max_length]
        slug = slug.strip("-")
    return slug


def assign_ids(questions: Sequence[Question]) -> tuple[list[Question], list[tuple[int, str]]]:
    """Make derived ids unique (-2, -3, ...) and report explicit ids used twice.

    Explicit ids are claimed first, so a derived id never steals an id the author
    chose, wherever the two questions sit in the module.
    """
    problems: list[tuple[int, str]] = []
    first_line_of: dict[str, int] = {}
    for question in questions:
        if not question.explicit_id:
            continue
        if question.id in first_line_of:
            problems.append(
                (
                    question.line,
                    f"duplicate question id '{question.id}' (already used by the question "
                    f"at line {first_line_of[question.id]}); ids must be unique in a module",
                )
            )
        else:
            first_line_of[question.id] = question.line
    taken = set(first_line_of)
    result: list[Question] = []
    for question in questions:
        if question.explicit_id:
            result.append(question)
            continue
        base = question.id or "question"
        candidate, counter = base, 1
        while candidate in taken:
            counter += 1
            candidate = f"{base}-{counter}"
        taken.add(candidate)
        result.append(question if candidate == question.id else replace(question, id=candidate))
    return result, problems


def derived_id(*texts: str) -> str:
    """Slug id from the first of `texts` that gives a non-empty slug, else "question"."""
    for text in texts:
        slug = slugify(text)
        if slug:
            return slug
    return "question"


def ids_of(items: Iterable[Option | AcceptedAnswer | MatchPair | NumericAnswer | Gap]) -> list[str]:
    """The ids of `items`, in order (handy for form values and tests)."""
    return [item.id for item in items]
