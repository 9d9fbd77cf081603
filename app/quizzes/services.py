"""Taking a quiz: attempt state, reading answers from a form, storing graded attempts.

An attempt starts when the quiz page is shown: the page carries a signed attempt state (a
random token, the start time and the answer order shown), so nothing is written for a page
nobody submits, and the order stays the one the learner saw. Submitting checks the state
and every field against it, grades on the server, and stores the attempt and one progress
statement in one transaction; the unique token makes a second submission a no-op.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, delete, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached
from werkzeug.datastructures import MultiDict

from app.accounts.models import utcnow
from app.content.model import Course, Module
from app.content.questions import Question, QuestionType
from app.database import rowcount, write_transaction, writes
from app.driver import run
from app.extensions import db
from app.progress import statements as progress
from app.quizzes.grading import score
from app.quizzes.models import LatestScore, QuizAttempt

#: Longest text a learner may type in one field; longer means a tampered or broken form.
MAX_ANSWER_LENGTH = 2000
#: Longest signed state accepted back (a course module's order is well under this).
MAX_STATE_LENGTH = 50_000
STATE_FIELD = "attempt"
_STATE_SALT = "academy.quiz-attempt"
# Form fields that are not answers.
_OTHER_FIELDS = {"csrf_token", STATE_FIELD}

_CHOICE_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.TRUE_FALSE)
# True/false keeps its True, False order: shuffling two words only confuses.
_SHUFFLED_TYPES = (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE)


class InvalidAnswers(ValueError):
    """A submitted form that this quiz page could not have produced; nothing is stored."""


@dataclass(frozen=True)
class AttemptState:
    """What the quiz page fixes for one attempt: token, start, and the order shown."""

    token: str
    course_id: str
    module_id: str
    language: str
    started_at: datetime
    # One entry per question in page order: {"id", "type", and "options" | "rows" and
    # "choices" | "gaps"}, the option and choice lists in the order shown.
    order: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, for signing."""
        return {
            "t": self.token,
            "c": self.course_id,
            "m": self.module_id,
            "l": self.language,
            "s": self.started_at.isoformat(),
            "o": self.order,
        }

    @classmethod
    def from_json(cls, data: Any) -> AttemptState:
        """Read a signed state back; raise InvalidAnswers if its shape is wrong."""
        try:
            return cls(
                token=str(data["t"]),
                course_id=str(data["c"]),
                module_id=str(data["m"]),
                language=str(data["l"]),
                started_at=datetime.fromisoformat(data["s"]),
                order=[dict(entry) for entry in data["o"]],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidAnswers("the attempt state is malformed") from error


def choice_id(text: str) -> str:
    """An opaque id for a matching answer: it names the text without hinting at its prompt."""
    return "c" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def matching_choices(question: Question) -> list[str]:
    """The distinct answer texts of a matching question (distractors included), in order."""
    return list(dict.fromkeys(pair.answer for pair in question.pairs))


def new_state(module: Module, now: datetime | None = None, seed: int | None = None) -> AttemptState:
    """A fresh attempt for a module: new token, start time and (maybe shuffled) order.

    :param seed: fixes the shuffle, for tests.
    """
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    order: list[dict[str, Any]] = []
    for question in module.questions:
        entry: dict[str, Any] = {"id": question.id, "type": str(question.type)}
        if question.type in _CHOICE_TYPES:
            ids = [o.id for o in question.options]
            if module.quiz.shuffle and question.type in _SHUFFLED_TYPES:
                rng.shuffle(ids)
            entry["options"] = ids
        elif question.type is QuestionType.MATCHING:
            entry["rows"] = [p.id for p in question.pairs if not p.is_distractor]
            # Always shuffled: in the written order, row n's answer would be choice n.
            choices = [choice_id(text) for text in matching_choices(question)]
            rng.shuffle(choices)
            entry["choices"] = choices
        elif question.type is QuestionType.GAP_FILL:
            entry["gaps"] = [g.id for g in question.gaps]
        order.append(entry)
    return AttemptState(
        token=secrets.token_urlsafe(24),
        course_id=module.course_id,
        module_id=module.id,
        language=module.language,
        started_at=now or utcnow(),
        order=order,
    )


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_STATE_SALT)


def dump_state(state: AttemptState, secret: str) -> str:
    """Sign an attempt state for the quiz form."""
    return str(_serializer(secret).dumps(state.to_json()))


def load_state(signed: str, secret: str) -> AttemptState:
    """Verify and read the attempt state a form sent back.

    :raises InvalidAnswers: when it is missing, too long or not signed by us.
    """
    if not signed or len(signed) > MAX_STATE_LENGTH:
        raise InvalidAnswers("the attempt state is missing or too long")
    try:
        data = _serializer(secret).loads(signed)
    except BadSignature as error:
        raise InvalidAnswers("the attempt state is not ours") from error
    return AttemptState.from_json(data)


def field_name(question_id: str, sub: str | None = None) -> str:
    """The form field of a question (or of one row or gap of it)."""
    return f"q.{question_id}" if sub is None else f"q.{question_id}.{sub}"


def _one_text(form: MultiDict[str, str], name: str) -> str | None:
    values = form.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidAnswers(f"{name} was sent {len(values)} times")
    if len(values[0]) > MAX_ANSWER_LENGTH:
        raise InvalidAnswers(f"{name} is longer than {MAX_ANSWER_LENGTH} characters")
    return values[0]


def parse_answers(state: AttemptState, form: MultiDict[str, str]) -> dict[str, Any]:
    """Turn a submitted form into answers, refusing anything the page could not have sent.

    Unknown fields, unknown option or choice ids, repeated single values and oversized
    texts raise InvalidAnswers. Unanswered questions are simply absent.
    """
    expected: set[str] = set(_OTHER_FIELDS)
    answers: dict[str, Any] = {}
    for entry in state.order:
        qid = str(entry.get("id", ""))
        kind = entry.get("type")
        if kind in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
            name = field_name(qid)
            expected.add(name)
            value = _one_text(form, name)
            if value is not None:
                if value not in entry.get("options", []):
                    raise InvalidAnswers(f"{name}: unknown option {value[:40]!r}")
                answers[qid] = value
        elif kind == QuestionType.MULTIPLE_CHOICE:
            name = field_name(qid)
            expected.add(name)
            values = form.getlist(name)
            if any(v not in entry.get("options", []) for v in values):
                raise InvalidAnswers(f"{name}: unknown option")
            if len(set(values)) != len(values):
                raise InvalidAnswers(f"{name}: an option was sent twice")
            if values:
                answers[qid] = values
        elif kind in (QuestionType.SHORT_ANSWER, QuestionType.NUMERICAL):
            name = field_name(qid)
            expected.add(name)
            value = _one_text(form, name)
            if value is not None and value.strip():
                answers[qid] = value
        elif kind == QuestionType.MATCHING:
            chosen: dict[str, str] = {}
            for row in entry.get("rows", []):
                name = field_name(qid, row)
                expected.add(name)
                value = _one_text(form, name)
                if value:
                    if value not in entry.get("choices", []):
                        raise InvalidAnswers(f"{name}: unknown choice")
                    chosen[row] = value
            if chosen:
                answers[qid] = chosen
        elif kind == QuestionType.GAP_FILL:
            typed: dict[str, str] = {}
            for gap in entry.get("gaps", []):
                name = field_name(qid, gap)
                expected.add(name)
                value = _one_text(form, name)
                if value is not None and value.strip():
                    typed[gap] = value
            if typed:
                answers[qid] = typed
    unknown = set(form.keys()) - expected
    if unknown:
        raise InvalidAnswers(f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
    return answers


def shown_questions(module: Module, state: AttemptState) -> list[Question]:
    """The questions of this attempt that still exist unchanged in kind, in page order.

    A question a trainer removed or turned into another kind since the page was shown is
    left out rather than graded against answers written for something else.
    """
    by_id = {q.id: q for q in module.questions}
    shown = []
    for entry in state.order:
        question = by_id.get(str(entry.get("id")))
        if question is not None and str(question.type) == entry.get("type"):
            shown.append(question)
    return shown


def _resolve_matching(question: Question, chosen: dict[str, str]) -> dict[str, str]:
    """Matching answers from choice ids to the answer texts grading compares."""
    texts = {choice_id(text): text for text in matching_choices(question)}
    return {row: texts[cid] for row, cid in chosen.items() if cid in texts}


def gradable_answers(questions: list[Question], answers: dict[str, Any]) -> dict[str, Any]:
    """Answers as grading reads them (matching choice ids become answer texts)."""
    out = dict(answers)
    for question in questions:
        if question.type is QuestionType.MATCHING and isinstance(out.get(question.id), dict):
            out[question.id] = _resolve_matching(question, out[question.id])
    return out


def attempt_by_token(token: str) -> QuizAttempt | None:
    """The stored attempt with this token, if any."""
    return db.session.scalar(select(QuizAttempt).where(QuizAttempt.token == token))


# Built once: a statement made per call cost more CPU than running it, inside the write lock.
_ATTEMPTS = QuizAttempt.__table__
_LATEST = LatestScore.__table__
_DELETE_LATEST = delete(_LATEST).where(
    _LATEST.c.learner == bindparam("learner"),
    _LATEST.c.course_id == bindparam("course_id"),
    _LATEST.c.module_id == bindparam("module_id"),
)
_LATEST_ATTEMPT_SCORES = (
    select(_ATTEMPTS.c.scores)
    .where(
        _ATTEMPTS.c.learner == bindparam("learner"),
        _ATTEMPTS.c.course_id == bindparam("course_id"),
        _ATTEMPTS.c.module_id == bindparam("module_id"),
    )
    .order_by(_ATTEMPTS.c.submitted_at.desc(), _ATTEMPTS.c.id.desc())
    # Written into the SQL, not bound: a prebuilt statement takes only the values it is given.
    .limit(literal_column("1"))
    .offset(literal_column("0"))
)
_INSERT_LATEST = insert(_LATEST)
_INSERT_ATTEMPT = insert(_ATTEMPTS).returning(_ATTEMPTS.c.id)


def submit(
    learner: str,
    course: Course,
    module: Module,
    language: str,
    state: AttemptState,
    answers: dict[str, Any],
    now: datetime | None = None,
) -> tuple[QuizAttempt, bool]:
    """Grade and store an attempt, and record it as a passed or failed progress statement.

    Flushes; the caller commits. The progress statement and the attempt go in the same
    transaction, so a double submission losing the race on the unique token leaves neither.

    :param learner: learner key (`app.web.current_learner(create=True)` in a request).
    :param language: the page language, recorded in the progress statement.
    :returns: the attempt and whether it was stored now (False: this token was already used).
    """
    # Grading reads no row: done before the write transaction begins, so the database's one
    # write lock is held for the writes only (learners submitting at once queue behind it).
    questions = shown_questions(module, state)
    result = score(questions, gradable_answers(questions, answers))
    passed = result.passed(module.quiz.pass_mark)
    write_transaction()
    # After the lock is taken: attempts are stamped in the order they are stored.
    now = now or utcnow()
    duration = max(0.0, (now - state.started_at).total_seconds())
    row = {
        "token": state.token,
        "learner": learner,
        "course_id": course.id,
        "module_id": module.id,
        "language": module.language,
        "question_order": state.order,
        "answers": answers,
        "scores": result.per_question,
        "score": result.total,
        "passed": passed,
        "pass_mark": module.quiz.pass_mark,
        "started_at": min(state.started_at, now),
        "submitted_at": now,
        "duration_seconds": duration,
    }
    try:
        # The attempt first: its unique token is the check for a form sent twice, before any
        # statement is recorded (no SELECT needed first). One prebuilt INSERT run on the
        # driver: the ORM's unit of work for a row nothing in this request changes again, and
        # SQLAlchemy's per-execution machinery, cost more than the INSERT, under the lock.
        ((attempt_id,),) = run(db.session.connection(), _INSERT_ATTEMPT, row)
    except IntegrityError:
        # The same form submitted again, or twice at once: the first one was stored.
        db.session.rollback()
        stored = attempt_by_token(state.token)
        if stored is None:
            raise
        return stored, False
    attempt = QuizAttempt(id=attempt_id, **row)
    # Known to be stored: a detached object, not one the session would INSERT again.
    make_transient_to_detached(attempt)
    # xAPI's pair for a graded attempt: "attempted", then its outcome.
    progress.record(
        learner, course, module, "attempted", language=language, result={"attempt": state.token}
    )
    progress.record(
        learner,
        course,
        module,
        "passed" if passed else "failed",
        language=language,
        result={
            "score": result.total,
            "raw": sum(result.per_question.values()),
            "max": len(result.per_question),
            "duration": duration,
            "attempt": state.token,
        },
        channel="web",
    )
    refresh_latest_scores(learner, course.id, module.id)
    return attempt, True


@writes
def refresh_latest_scores(learner: str, course_id: str, module_id: str) -> None:
    """Store the per-question scores of the learner's latest attempt at a module (flushes)."""
    db.session.flush()  # the attempts this transaction added are part of the question
    where = {"learner": learner, "course_id": course_id, "module_id": module_id}
    connection = db.session.connection()
    run(connection, _DELETE_LATEST, where)
    found = run(connection, _LATEST_ATTEMPT_SCORES, where)
    scores = found[0][0] if found else None
    rows = [
        {**where, "question_id": question_id, "score": float(value)}
        for question_id, value in (scores or {}).items()
    ]
    if rows:
        # One multi-row INSERT: nothing reads these rows back as objects in this request.
        connection.execute(_INSERT_LATEST, rows)


class AttemptListing(NamedTuple):
    """One attempt as the attempts list shows it (answers and per-question scores left out)."""

    token: str
    submitted_at: datetime
    score: float
    passed: bool
    duration_seconds: float


# Built once: every quiz page view of a learner reads this list.
_ATTEMPT_LIST = (
    select(
        _ATTEMPTS.c.token,
        _ATTEMPTS.c.submitted_at,
        _ATTEMPTS.c.score,
        _ATTEMPTS.c.passed,
        _ATTEMPTS.c.duration_seconds,
    )
    .where(
        _ATTEMPTS.c.learner == bindparam("learner"),
        _ATTEMPTS.c.course_id == bindparam("course_id"),
        _ATTEMPTS.c.module_id == bindparam("module_id"),
    )
    .order_by(_ATTEMPTS.c.submitted_at.desc(), _ATTEMPTS.c.id.desc())
)


def attempts_of(learner: str | None, course_id: str, module_id: str) -> list[AttemptListing]:
    """A learner's attempts at a module's quiz, newest first: dates, scores and times only."""
    if learner is None:
        return []
    rows = db.session.execute(
        _ATTEMPT_LIST, {"learner": learner, "course_id": course_id, "module_id": module_id}
    )
    return [AttemptListing(*row) for row in rows]


def best_score(attempts: list[AttemptListing]) -> float | None:
    """The best score among attempts (the one that counts), or None."""
    return max((a.score for a in attempts), default=None)


@writes
def move_guest_attempts(guest: str, learner: str) -> int:
    """Give a guest's attempts to the account they just signed in to (flushes, no commit)."""
    touched = {
        (course_id, module_id)
        for course_id, module_id in db.session.execute(
            select(QuizAttempt.course_id, QuizAttempt.module_id)
            .where(QuizAttempt.learner == guest)
            .distinct()
        )
    }
    moved = rowcount(
        db.session.execute(
            update(QuizAttempt).where(QuizAttempt.learner == guest).values(learner=learner)
        )
    )
    db.session.execute(delete(LatestScore).where(LatestScore.learner == guest))
    for course_id, module_id in sorted(touched):
        refresh_latest_scores(learner, course_id, module_id)
    db.session.flush()
    return moved


@writes
def delete_attempts(learner: str) -> None:
    """Remove every attempt of a learner (flushes, no commit)."""
    db.session.execute(delete(QuizAttempt).where(QuizAttempt.learner == learner))
    db.session.execute(delete(LatestScore).where(LatestScore.learner == learner))
    db.session.flush()


def export_attempts(learner: str) -> list[dict[str, Any]]:
    """A learner's attempts, JSON-ready, oldest first."""
    rows = db.session.scalars(
        select(QuizAttempt).where(QuizAttempt.learner == learner).order_by(QuizAttempt.id)
    )
    return [
        {
            "course": a.course_id,
            "module": a.module_id,
            "language": a.language,
            "attempt": a.token,
            "answers": a.answers,
            "scores": a.scores,
            "score": a.score,
            "passed": a.passed,
            "pass_mark": a.pass_mark,
            "started_at": a.started_at.isoformat(),
            "submitted_at": a.submitted_at.isoformat(),
            "duration_seconds": a.duration_seconds,
        }
        for a in rows
    ]
