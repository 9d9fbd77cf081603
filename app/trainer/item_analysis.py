"""Question statistics with Moodle's definitions, as pure functions over plain data.

For each question, over the attempts analysed (one per learner by default: their first):

- facility index F: the mean score on the question as a percentage of its maximum;
- standard deviation SD: the sample standard deviation (n - 1) of that score, as a percentage;
- discrimination index D: 100 x the Pearson correlation between the score on the question and
  the score on the rest of the quiz (the other questions of the same attempt), so a question
  answered well by those who did badly elsewhere discriminates negatively;
- how often each option was chosen (choice and true/false questions).

These are the formulas of Moodle's quiz statistics report (docs.moodle.org "Quiz statistics
calculations"); every question weighs the same here, as in our grading.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.content.questions import Question, QuestionType

TOO_EASY = 90.0  # F above this: nearly everyone gets it right
TOO_HARD = 20.0  # F below this: nearly everyone gets it wrong
CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.TRUE_FALSE)


@dataclass(frozen=True)
class AttemptData:
    """The part of a stored attempt the statistics read."""

    learner: str
    submitted_at: datetime
    scores: dict[str, float]
    answers: dict[str, Any]


@dataclass
class QuestionStats:
    """What the analysis found for one question."""

    question: Question
    attempts: int = 0
    facility: float | None = None
    sd: float | None = None
    discrimination: float | None = None
    option_counts: dict[str, int] = field(default_factory=dict)
    flags: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The flags as one text, e.g. "too_hard;negative_discrimination" ("" when none)."""
        return ";".join(self.flags)


def first_attempts(attempts: Iterable[AttemptData]) -> list[AttemptData]:
    """Each learner's earliest attempt, as Moodle analyses by default."""
    first: dict[str, AttemptData] = {}
    for attempt in attempts:
        kept = first.get(attempt.learner)
        if kept is None or attempt.submitted_at < kept.submitted_at:
            first[attempt.learner] = attempt
    return sorted(first.values(), key=lambda a: (a.submitted_at, a.learner))


def mean(values: Sequence[float]) -> float:
    """Arithmetic mean of a non-empty sequence."""
    return sum(values) / len(values)


def sample_sd(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1); None below two values."""
    if len(values) < 2:
        return None
    m = mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def correlation(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r; None when either side does not vary (or fewer than two pairs)."""
    if len(xs) < 2:
        return None
    mx, my = mean(xs), mean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx <= 1e-12 or syy <= 1e-12:
        return None
    return sxy / math.sqrt(sxx * syy)


def _chosen(question: Question, answer: Any) -> list[str]:
    """Option ids a stored answer chose."""
    if question.type is QuestionType.MULTIPLE_CHOICE:
        return [a for a in answer if isinstance(a, str)] if isinstance(answer, list) else []
    return [answer] if isinstance(answer, str) else []


def analyse(questions: Sequence[Question], attempts: Sequence[AttemptData]) -> list[QuestionStats]:
    """Statistics for each graded question over `attempts` (already filtered and chosen)."""
    graded = [q for q in questions if q.is_graded]
    ids = [q.id for q in graded]
    # Each attempt's total over the graded questions, once: the rest of the quiz is total - x.
    totals = [sum(float(a.scores.get(i, 0.0)) for i in ids) for a in attempts]
    out: list[QuestionStats] = []
    for question in graded:
        xs: list[float] = []
        rests: list[float] = []
        counts = {o.id: 0 for o in question.options} if question.type in CHOICE_TYPES else {}
        for attempt, total in zip(attempts, totals, strict=True):
            if question.id not in attempt.scores:
                continue  # the question was added after this attempt
            x = float(attempt.scores[question.id])
            xs.append(x)
            rests.append(total - x)
            for chosen in _chosen(question, attempt.answers.get(question.id)):
                if chosen in counts:
                    counts[chosen] += 1
        stats = QuestionStats(question, attempts=len(xs), option_counts=counts)
        if xs:
            stats.facility = 100 * mean(xs)
            sd = sample_sd(xs)
            stats.sd = None if sd is None else 100 * sd
            r = correlation(xs, rests)
            stats.discrimination = None if r is None else 100 * r
            flags = []
            if stats.facility > TOO_EASY:
                flags.append("too_easy")
            if stats.facility < TOO_HARD:
                flags.append("too_hard")
            if stats.discrimination is not None and stats.discrimination < 0:
                flags.append("negative_discrimination")
            stats.flags = tuple(flags)
        out.append(stats)
    return out


def hardest(stats: Sequence[QuestionStats]) -> QuestionStats | None:
    """The question with the lowest facility index (None when nothing was answered)."""
    answered = [s for s in stats if s.facility is not None]
    return min(answered, key=lambda s: (s.facility, s.question.id)) if answered else None
