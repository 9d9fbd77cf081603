"""CSV exports of the reports: UTF-8 with a BOM, ISO 8601 UTC times, stable columns.

The columns are documented in docs/reports.md; scripts depend on them, so add columns at the
end and never rename one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from app.content.questions import option_id
from app.trainer.item_analysis import QuestionStats
from app.trainer.reports import GroupReport, LearnerRow

BOM = "\ufeff"  # so Excel (in Italian too) reads the file as UTF-8
PROGRESS_COLUMNS = (
    "learner",
    "email",
    "module_id",
    "status",
    "sections_read",
    "sections_total",
    "best_score",
    "attempts",
    "audio_minutes",
    "pdf_downloaded",
    "last_activity",
)
ITEM_COLUMNS = (
    "question_id",
    "type",
    "outcome",
    "attempts",
    "facility",
    "sd",
    "discrimination",
    "flag",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Stop a spreadsheet from reading a text cell as a formula (OWASP's CSV injection advice)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def iso_utc(moment: datetime | None) -> str:
    """ISO 8601 in UTC with a Z, to the second; "" for no time."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return neutralise(value)
    return "" if value is None else str(value)


def csv_chunks(
    header: Sequence[str], rows: Iterable[Sequence[Any]], size: int = 500
) -> Iterator[str]:
    """The CSV text in pieces of `size` rows, BOM first, CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for n, row in enumerate(rows, 1):
        # Numbers arrive already formatted by the callers below, never as learner text.
        writer.writerow([value if isinstance(value, _Raw) else _cell(value) for value in row])
        if n % size == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The CSV text, BOM first, CRLF line ends (RFC 4180); text cells neutralised."""
    return "".join(csv_chunks(header, rows))


class _Raw(str):
    """A value we formatted ourselves (a number, a time): written as is, never neutralised."""


def progress_rows(
    report: GroupReport, rows: Sequence[LearnerRow] | None = None
) -> Iterator[list[Any]]:
    """One row per learner and module, in the report's order."""
    for row in report.rows if rows is None else rows:
        for column in report.modules:
            cell = row.cells[column.id]
            best = None if cell.best_score is None else 100 * cell.best_score
            yield (
                [
                    row.name,
                    row.email,
                    column.id,
                    cell.status,
                    _Raw(cell.sections_read),
                    _Raw(cell.sections_total),
                    _Raw(_number(best)),
                    _Raw(cell.attempts),
                    _Raw(_number(cell.audio_seconds / 60)),
                    _Raw(cell.pdf_downloads),
                    _Raw(iso_utc(cell.last_activity)),
                ]
            )


def progress_csv(report: GroupReport, rows: Sequence[LearnerRow] | None = None) -> str:
    """The group progress report as CSV."""
    return to_csv(PROGRESS_COLUMNS, progress_rows(report, rows))


def progress_csv_chunks(report: GroupReport) -> Iterator[str]:
    """The group progress report as CSV, in pieces to send as they are written."""
    return csv_chunks(PROGRESS_COLUMNS, progress_rows(report))


def items_csv(stats: Sequence[QuestionStats]) -> str:
    """The question statistics as CSV: one row per question, then a column per option."""
    width = max((len(s.question.options) for s in stats if s.option_counts), default=0)
    header = [*ITEM_COLUMNS, *(f"option_{option_id(i)}" for i in range(width))]
    rows = []
    for s in stats:
        counts = (
            [_Raw(s.option_counts.get(o.id, 0)) for o in s.question.options]
            if s.option_counts
            else []
        )
        rows.append(
            [
                s.question.id,
                str(s.question.type),
                ";".join(s.question.outcomes),
                _Raw(s.attempts),
                _Raw(_number(s.facility)),
                _Raw(_number(s.sd)),
                _Raw(_number(s.discrimination)),
                s.flag,
                *counts,
                *([""] * (width - len(counts))),
            ]
        )
    return to_csv(header, rows)
