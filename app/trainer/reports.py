"""Group reports read from the summary tables (never by replaying statements).

Every member gets a light row (status, best score, last activity per module: plain columns,
no JSON) for the filters, the sorting and the charts; only the learners a page shows get
the details (sections read, audio, attempts, PDF downloads). Mastery per outcome is counted
by the database from each learner's latest per-question scores. Only current members with
an account appear: guests cannot join a group, a learner who left is gone, and a deleted
account has no membership left.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, String, case, cast, func, literal, select

from app.accounts.models import User, utcnow
from app.content.model import Course, Module
from app.extensions import db
from app.progress.models import CourseCompletion, CourseProgress, ModuleProgress
from app.quizzes.models import LatestScore, QuizAttempt
from app.trainer.item_analysis import AttemptData, QuestionStats, analyse, first_attempts
from app.trainer.models import Group, GroupMember

NOT_STARTED, IN_PROGRESS, COMPLETED = "not_started", "in_progress", "completed"
STATUSES = (NOT_STARTED, IN_PROGRESS, COMPLETED)
SORTS = ("name", "email", "last_activity", "completed")


@dataclass
class Cell:
    """One learner in one module."""

    module_id: str
    status: str = NOT_STARTED
    sections_read: int = 0
    sections_total: int = 0
    best_score: float | None = None  # 0..1
    passed: bool = False
    attempts: int = 0
    audio_seconds: float = 0.0
    pdf_downloads: int = 0
    last_activity: datetime | None = None

    @property
    def audio_minutes(self) -> float:
        """Minutes of audio listened to, to one decimal."""
        return round(self.audio_seconds / 60, 1)


@dataclass
class LearnerRow:
    """One member of the group across the course's modules."""

    user_id: int
    name: str
    email: str
    cells: dict[str, Cell]
    completed_at: datetime | None = None
    certificate: str | None = None
    course_pdf_downloads: int = 0
    outcomes: dict[tuple[str, str], float] = field(default_factory=dict)  # (module, outcome)

    @property
    def learner_key(self) -> str:
        """The key the learner's progress is stored under."""
        return f"u:{self.user_id}"

    @property
    def last_activity(self) -> datetime | None:
        """Most recent activity in any module."""
        times = [c.last_activity for c in self.cells.values() if c.last_activity]
        return max(times) if times else None

    @property
    def modules_completed(self) -> int:
        """How many modules the learner completed."""
        return sum(1 for c in self.cells.values() if c.status == COMPLETED)

    @property
    def sections_read(self) -> int:
        """Sections read on any channel, all modules together."""
        return sum(c.sections_read for c in self.cells.values())

    @property
    def audio_minutes(self) -> float:
        """Audio minutes, all modules together."""
        return round(sum(c.audio_seconds for c in self.cells.values()) / 60, 1)

    @property
    def pdf_downloads(self) -> int:
        """PDF downloads of modules and of the whole course."""
        return sum(c.pdf_downloads for c in self.cells.values()) + self.course_pdf_downloads


@dataclass
class ModuleColumn:
    """A module as the report shows it: in the group's language (or the default one)."""

    id: str
    module: Module

    @property
    def pass_mark(self) -> int:
        """The quiz pass mark, in percent."""
        return self.module.quiz.pass_mark


@dataclass
class GroupReport:
    """A learners x modules matrix for one group."""

    group: Group
    modules: list[ModuleColumn]
    rows: list[LearnerRow]
    # (module, outcome id, text, members who mastered it, members assessed on it)
    mastery: list[tuple[ModuleColumn, str, str, int, int]] = field(default_factory=list)

    def completion_per_module(self) -> list[tuple[ModuleColumn, int, int, int]]:
        """(module, completed, in progress, not started) for each module."""
        out = []
        for column in self.modules:
            counts: defaultdict[str, int] = defaultdict(int)
            for row in self.rows:
                counts[row.cells[column.id].status] += 1
            out.append((column, counts[COMPLETED], counts[IN_PROGRESS], counts[NOT_STARTED]))
        return out

    def score_distribution(self) -> list[tuple[str, int]]:
        """How many best quiz scores fall in each tenth (0-9%, ..., 90-100%), all modules."""
        bins = [0] * 10
        for row in self.rows:
            for cell in row.cells.values():
                if cell.best_score is not None:
                    bins[min(9, int(cell.best_score * 10 + 1e-9))] += 1
        return [(f"{10 * i}-{10 * i + 9 if i < 9 else 100}%", n) for i, n in enumerate(bins)]

    def courses_completed(self) -> int:
        """Members who completed the whole course."""
        return sum(1 for row in self.rows if row.completed_at)


def module_columns(course: Course, language: str) -> list[ModuleColumn]:
    """The visible modules of a course, each in `language` or its fallback."""
    columns = []
    for entry in course.visible:
        found = course.module(entry.id, language)
        if found is not None:
            columns.append(ModuleColumn(entry.id, found[0]))
    return columns


def member_rows(group: Group) -> list[tuple[int, str, str]]:
    """(user id, display name, e-mail) of the group's current members."""
    return list(
        db.session.execute(
            select(User.id, User.display_name, User.email)
            .join(GroupMember, GroupMember.user_id == User.id)
            .where(GroupMember.group_id == group.id)
            .order_by(User.display_name, User.id)
        ).all()
    )


def _status(row_completed: datetime | None, statements: int) -> str:
    if row_completed is not None:
        return COMPLETED
    return IN_PROGRESS if statements else NOT_STARTED


def member_keys_query(group: Group) -> Select[str]:
    """A query of the learner keys ("u:<id>") of the group's current members."""
    key = literal("u:", String) + cast(GroupMember.user_id, String)
    return select(key).where(GroupMember.group_id == group.id)


def group_report(
    group: Group,
    course: Course,
    details: bool = True,
    with_mastery: bool = True,
    with_sections: bool = False,
) -> GroupReport:
    """The progress of every current member in every visible module of the group's course.

    :param details: every row's details; False: light rows only, see `add_details`.
    :param with_mastery: count mastery per outcome for the group.
    :param with_sections: sections read in every row even without details (to sort by them).
    """
    columns = module_columns(course, group.language)
    totals = {c.id: len(_sections(c)) for c in columns}
    rows: dict[str, LearnerRow] = {}
    for user_id, name, email in member_rows(group):
        cells = {c.id: Cell(c.id, sections_total=totals[c.id]) for c in columns}
        rows[f"u:{user_id}"] = LearnerRow(user_id, name, email, cells)
    report = GroupReport(group, columns, list(rows.values()))
    if not rows:
        report.mastery = _mastery(columns, None, course.id) if with_mastery else []
        return report
    members = member_keys_query(group)
    _fill_light(rows, members, course.id, columns if details else None)
    if details:
        _fill_attempts(rows, members, course.id)
    elif with_sections:
        _fill_sections(rows, members, course.id, columns)
    if with_mastery:
        report.mastery = _mastery(columns, members, course.id)
    return report


def add_details(report: GroupReport, course_id: str, shown: Iterable[LearnerRow]) -> None:
    """Sections read, audio and attempts of the rows a page shows (light rows before)."""
    rows = {row.learner_key: row for row in shown}
    for chunk in _chunks(list(rows)):
        _fill_details(rows, chunk, course_id, report.modules)


def _sections(column: ModuleColumn) -> set[str]:
    return {s.id for s in column.module.reading_sections}


def _chunks(keys: list[str], size: int = 900) -> Iterable[list[str]]:
    """Keys in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def _fill_light(
    rows: dict[str, LearnerRow],
    members: Any,
    course_id: str,
    columns: list[ModuleColumn] | None = None,
) -> None:
    """Status, best score, PDF downloads and last activity of every cell; completions.

    :param columns: also the details of every cell (sections read, audio), in the same query.
    """
    detail_columns = (ModuleProgress.sections_read, ModuleProgress.audio_seconds) if columns else ()
    sections = {c.id: _sections(c) for c in columns or ()}
    result = db.session.execute(
        select(
            ModuleProgress.learner,
            ModuleProgress.module_id,
            ModuleProgress.best_score,
            ModuleProgress.quiz_passed,
            ModuleProgress.completed_at,
            ModuleProgress.last_activity,
            ModuleProgress.statements,
            ModuleProgress.pdf_downloads,
            *detail_columns,
        ).where(ModuleProgress.course_id == course_id, ModuleProgress.learner.in_(members))
    )
    for learner, module_id, best, passed, done, last, count, pdfs, *detail in result:
        row = rows.get(learner)
        cell = row.cells.get(module_id) if row is not None else None
        if cell is None:  # a module since removed or hidden
            continue
        cell.status = _status(done, count)
        cell.best_score = best
        cell.passed = bool(passed)
        cell.last_activity = last
        cell.pdf_downloads = pdfs or 0
        if detail:
            read, audio = detail
            current = sections[module_id]
            cell.sections_read = sum(1 for s in read or [] if s in current)
            cell.audio_seconds = audio or 0.0
    completions = db.session.execute(
        select(
            CourseCompletion.learner, CourseCompletion.completed_at, CourseCompletion.code
        ).where(CourseCompletion.course_id == course_id, CourseCompletion.learner.in_(members))
    )
    for learner, completed_at, code in completions:
        if learner in rows:
            rows[learner].completed_at = completed_at
            rows[learner].certificate = code
    downloads = db.session.execute(
        select(CourseProgress.learner, CourseProgress.pdf_downloads).where(
            CourseProgress.course_id == course_id, CourseProgress.learner.in_(members)
        )
    )
    for learner, count in downloads:
        if learner in rows:
            rows[learner].course_pdf_downloads = count or 0


def _fill_sections(
    rows: dict[str, LearnerRow], learners: Any, course_id: str, columns: list[ModuleColumn]
) -> None:
    """Sections read (those the module still has) of every cell of these learners."""
    sections = {c.id: _sections(c) for c in columns}
    result = db.session.execute(
        select(
            ModuleProgress.learner, ModuleProgress.module_id, ModuleProgress.sections_read
        ).where(ModuleProgress.course_id == course_id, ModuleProgress.learner.in_(learners))
    )
    for learner, module_id, read in result:
        row = rows.get(learner)
        cell = row.cells.get(module_id) if row is not None else None
        if cell is not None:
            current = sections[module_id]
            cell.sections_read = sum(1 for s in read or [] if s in current)


def _fill_details(
    rows: dict[str, LearnerRow], learners: Any, course_id: str, columns: list[ModuleColumn]
) -> None:
    """Sections read, audio listened and attempts of these learners' cells."""
    sections = {c.id: _sections(c) for c in columns}
    result = db.session.execute(
        select(
            ModuleProgress.learner,
            ModuleProgress.module_id,
            ModuleProgress.sections_read,
            ModuleProgress.audio_seconds,
        ).where(ModuleProgress.course_id == course_id, ModuleProgress.learner.in_(learners))
    )
    for learner, module_id, read, audio in result:
        row = rows.get(learner)
        cell = row.cells.get(module_id) if row is not None else None
        if cell is None:
            continue
        current = sections[module_id]
        cell.sections_read = sum(1 for s in read or [] if s in current)
        cell.audio_seconds = audio or 0.0
    _fill_attempts(rows, learners, course_id)


def _fill_attempts(rows: dict[str, LearnerRow], learners: Any, course_id: str) -> None:
    """How many times each of these learners took each module's quiz."""
    attempts = db.session.execute(
        select(QuizAttempt.learner, QuizAttempt.module_id, func.count())
        .where(QuizAttempt.course_id == course_id, QuizAttempt.learner.in_(learners))
        .group_by(QuizAttempt.learner, QuizAttempt.module_id)
    )
    for learner, module_id, count in attempts:
        row = rows.get(learner)
        cell = row.cells.get(module_id) if row is not None else None
        if cell is not None:
            cell.attempts = count


def _mastery(
    columns: list[ModuleColumn], members: Any, course_id: str
) -> list[tuple[ModuleColumn, str, str, int, int]]:
    """Mastery per outcome, counted by the database from the members' latest scores.

    Per module, one column per outcome: each learner's mean score on the questions assessing
    it (which question assesses which outcome, and the pass marks, come from the content as it
    is now), then, over the learners, how many were assessed and how many reached the mark.
    """
    outcomes: list[tuple[ModuleColumn, str, str, list[str]]] = []
    for c in columns:
        for outcome in c.module.learning_outcomes:
            questions = [q.id for q in c.module.questions if outcome.id in q.outcomes]
            outcomes.append((c, outcome.id, outcome.text, questions))
    found: dict[int, tuple[int, int]] = {}
    if members is not None:
        for c in columns:
            # One query per module: the database reads only that module's rows.
            assessed = [(n, o[3]) for n, o in enumerate(outcomes) if o[0] is c and o[3]]
            if assessed:
                found.update(_module_mastery(c, assessed, members, course_id))
    return [
        (c, outcome_id, text, *found.get(n, (0, 0)))
        for n, (c, outcome_id, text, _questions) in enumerate(outcomes)
    ]


def _module_mastery(
    column: ModuleColumn, assessed: list[tuple[int, list[str]]], members: Any, course_id: str
) -> dict[int, tuple[int, int]]:
    """(mastered, assessed) per outcome of one module, keyed by the outcome's position."""
    per_learner = (
        select(
            *(
                func.avg(case((LatestScore.question_id.in_(questions), LatestScore.score))).label(
                    f"o{n}"
                )
                for n, questions in assessed
            )
        )
        .where(
            LatestScore.course_id == course_id,
            LatestScore.module_id == column.id,
            LatestScore.learner.in_(members),
        )
        .group_by(LatestScore.learner)
        .subquery()
    )
    mark = column.pass_mark / 100 - 1e-9
    totals: list[Any] = []
    for n, _questions in assessed:
        value = per_learner.c[f"o{n}"]
        totals.append(func.count(value))
        totals.append(func.sum(case((value >= mark, 1), else_=0)))
    result = db.session.execute(select(*totals)).one()
    return {
        n: (int(result[2 * k + 1] or 0), int(result[2 * k] or 0))
        for k, (n, _questions) in enumerate(assessed)
    }


def fill_outcomes(row: LearnerRow, columns: list[ModuleColumn], course_id: str) -> None:
    """One member's standing on each outcome, from their latest attempt at each module."""
    latest: dict[str, tuple[datetime, dict[str, float]]] = {}
    result = db.session.execute(
        select(QuizAttempt.module_id, QuizAttempt.submitted_at, QuizAttempt.scores).where(
            QuizAttempt.course_id == course_id, QuizAttempt.learner == row.learner_key
        )
    )
    for module_id, submitted, scores in result:
        kept = latest.get(module_id)
        if kept is None or submitted > kept[0]:
            latest[module_id] = (submitted, scores or {})
    by_module = {c.id: c.module for c in columns}
    for module_id, (_, scores) in latest.items():
        module = by_module.get(module_id)
        if module is not None:
            for outcome_id, value in outcome_standing(module, scores).items():
                row.outcomes[(module_id, outcome_id)] = value


def outcome_standing(module: Module, scores: dict[str, float]) -> dict[str, float]:
    """Mean score (0..1) on the questions assessing each outcome, from one attempt's scores."""
    totals: dict[str, list[float]] = defaultdict(list)
    for question in module.questions:
        if question.id in scores:
            for outcome_id in question.outcomes:
                totals[outcome_id].append(float(scores[question.id]))
    return {
        o.id: sum(totals[o.id]) / len(totals[o.id])
        for o in module.learning_outcomes
        if totals.get(o.id)
    }


def filter_rows(
    report: GroupReport,
    module_id: str | None = None,
    status: str | None = None,
    inactive_days: int | None = None,
    sort: str = "name",
    now: datetime | None = None,
) -> list[LearnerRow]:
    """The rows a trainer asked for: one module's status, inactive for N days, sorted.

    :param status: not_started / in_progress / completed, in `module_id` or else in any module.
    :param inactive_days: keep learners with no activity in the last N days (or none at all).
    :param sort: name, email, last_activity or completed; a leading "-" reverses it.
    """
    rows = list(report.rows)
    if status in STATUSES:
        if module_id:
            rows = [r for r in rows if module_id in r.cells and r.cells[module_id].status == status]
        else:
            rows = [r for r in rows if any(c.status == status for c in r.cells.values())]
    if inactive_days is not None:
        limit = (now or utcnow()) - timedelta(days=inactive_days)
        rows = [r for r in rows if r.last_activity is None or r.last_activity < limit]
    reverse = sort.startswith("-")
    key = sort.lstrip("-")
    oldest = datetime.min.replace(tzinfo=utcnow().tzinfo)
    keys = {
        "name": lambda r: (r.name.casefold(), r.user_id),
        "email": lambda r: (r.email, r.user_id),
        "last_activity": lambda r: (r.last_activity or oldest, r.user_id),
        "completed": lambda r: (r.modules_completed, r.sections_read, r.user_id),
    }
    rows.sort(key=keys.get(key, keys["name"]), reverse=reverse)
    return rows


def attempts_for_stats(
    course_id: str,
    module_id: str,
    language: str | None,
    group: Group | None,
    first_only: bool = True,
) -> list[AttemptData]:
    """Attempts of registered learners at a module (of a group's members when `group`).

    :param first_only: each learner's first attempt only, chosen by the database.
    """
    where = [
        QuizAttempt.course_id == course_id,
        QuizAttempt.module_id == module_id,
        # Guests appear in no report; accounts deleted since have no attempts left.
        QuizAttempt.learner.like("u:%"),
    ]
    if language:
        where.append(QuizAttempt.language == language)
    if group is not None:
        where.append(QuizAttempt.learner.in_(member_keys_query(group)))
    if not first_only:
        query = select(
            QuizAttempt.learner, QuizAttempt.submitted_at, QuizAttempt.scores, QuizAttempt.answers
        ).where(*where)
        return [AttemptData(*row) for row in db.session.execute(query)]
    order = func.row_number().over(
        partition_by=QuizAttempt.learner, order_by=(QuizAttempt.submitted_at, QuizAttempt.id)
    )
    ranked = select(QuizAttempt.id, order.label("n")).where(*where).subquery()
    query = (
        select(
            QuizAttempt.learner, QuizAttempt.submitted_at, QuizAttempt.scores, QuizAttempt.answers
        )
        .join(ranked, ranked.c.id == QuizAttempt.id)
        .where(ranked.c.n == 1)
    )
    return first_attempts(AttemptData(*row) for row in db.session.execute(query))


def question_stats(
    course: Course,
    module: Module,
    language: str | None,
    group: Group | None = None,
    all_attempts: bool = False,
) -> list[QuestionStats]:
    """Moodle's item statistics for a module's quiz, over a group or every registered learner.

    :param language: only attempts taken in this language (None: every language).
    :param all_attempts: every attempt instead of each learner's first.
    """
    attempts = attempts_for_stats(course.id, module.id, language, group, not all_attempts)
    return analyse(list(module.questions), attempts)


def learner_outcomes(
    learner: str | None, course: Course, language: str
) -> list[tuple[Module, list[tuple[str, float]]]]:
    """A learner's standing on each assessed outcome of each module, from their latest attempt.

    :returns: (module, [(outcome text, 0..1)]) for each module with an attempt.
    """
    if learner is None:
        return []
    latest: dict[str, tuple[datetime, dict[str, float]]] = {}
    rows = db.session.execute(
        select(QuizAttempt.module_id, QuizAttempt.submitted_at, QuizAttempt.scores).where(
            QuizAttempt.learner == learner, QuizAttempt.course_id == course.id
        )
    )
    for module_id, submitted, scores in rows:
        if module_id not in latest or submitted > latest[module_id][0]:
            latest[module_id] = (submitted, scores or {})
    out = []
    for column in module_columns(course, language):
        if column.id not in latest:
            continue
        standing = outcome_standing(column.module, latest[column.id][1])
        items = [
            (o.text, standing[o.id]) for o in column.module.learning_outcomes if o.id in standing
        ]
        if items:
            out.append((column.module, items))
    return out
