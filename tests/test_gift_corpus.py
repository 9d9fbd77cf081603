"""The GIFT parser against the Moodle GIFT corpus in tests/corpora/moodle-gift/.

Each parsed question is converted to the corpus's neutral form and compared with
the expected value. Cases where we differ from Moodle on purpose are listed in
DELIBERATE_DIFFERENCES and run as strict xfails. The last test prints, per corpus
file, how many cases pass (visible with `pytest -s` or `-rA`).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from app.content.errors import ContentError
from app.content.gift import (
    GiftCategory,
    decode_gift_bytes,
    extract_idnumber_and_tags,
    parse_gift_bytes,
    read_gift,
)
from app.content.questions import Question, QuestionType
from tests.report import TERMINAL_REPORT

CORPUS = Path(__file__).resolve().parent / "corpora" / "moodle-gift"

CASE_FILES = (
    "cases.json",
    "cases-fixtures.json",
    "cases-edge-derived.json",
    "cases-extra.json",
)
ALL_FILES = (*CASE_FILES, "cases-comment-metadata.json", "fixture-files.json")

# (file, case name) -> why we knowingly disagree with Moodle. Run as strict xfails.
DELIBERATE_DIFFERENCES: dict[tuple[str, str], str] = {}

# Moodle's rejection ids -> a phrase our trainer-facing message must contain.
ERROR_PHRASES = {
    "braceerror": "Could not find {...} around answers",
    "importminerror": "There are not enough answers for this question type",
    "giftmatchingformat": "Matching question answers are improperly formatted",
    "giftnonumericalanswers": "No answers found for numerical question",
    # Moodle's own string for this does not exist ("[[errornotnumbers]]").
    "errornotnumbers": "is not a number",
    "php-typeerror": "crashes",
}

_TYPE_NAMES = {
    QuestionType.SINGLE_CHOICE: "multichoice",
    QuestionType.MULTIPLE_CHOICE: "multichoice",
    QuestionType.TRUE_FALSE: "truefalse",
    QuestionType.SHORT_ANSWER: "shortanswer",
    QuestionType.MATCHING: "matching",
    QuestionType.NUMERICAL: "numerical",
    QuestionType.ESSAY: "essay",
    QuestionType.DESCRIPTION: "description",
}


def neutral(item: Question | GiftCategory) -> dict[str, Any]:
    """Convert a parsed item to the corpus's neutral question form."""
    if isinstance(item, GiftCategory):
        return {"type": "category", "category": item.path}
    q = item
    out: dict[str, Any] = {
        "type": _TYPE_NAMES[q.type],
        "title": q.title,
        "text": q.text,
        "text_format": q.text_format.value,
        "general_feedback": q.general_feedback,
        "general_feedback_format": q.general_feedback_format.value,
    }
    if q.type is not QuestionType.DESCRIPTION:
        out["missing_word"] = q.is_missing_word
    if q.idnumber:
        out["idnumber"] = q.idnumber
    if q.tags:
        out["tags"] = list(q.tags)
    if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        out["single"] = q.type is QuestionType.SINGLE_CHOICE
        out["answers"] = [
            {
                "text": o.text,
                "fraction": o.fraction,
                "feedback": o.feedback,
                "text_format": o.text_format.value,
                "feedback_format": o.feedback_format.value,
            }
            for o in q.options
        ]
    elif q.type is QuestionType.TRUE_FALSE:
        out["correct_answer"] = q.options[0].fraction == 1
        out["answers"] = [
            {
                "text": o.text,
                "fraction": o.fraction,
                "feedback": o.feedback,
                "feedback_format": o.feedback_format.value,
            }
            for o in q.options
        ]
    elif q.type is QuestionType.SHORT_ANSWER:
        out["answers"] = [
            {
                "text": a.text,
                "fraction": a.fraction,
                "feedback": a.feedback,
                "feedback_format": a.feedback_format.value,
            }
            for a in q.answers
        ]
    elif q.type is QuestionType.MATCHING:
        out["pairs"] = [
            {"question": p.prompt, "answer": p.answer, "question_format": p.prompt_format.value}
            for p in q.pairs
        ]
    elif q.type is QuestionType.NUMERICAL:
        out["numerical"] = [
            {
                "value": "*" if n.value is None else n.value,
                "tolerance": n.tolerance,
                "fraction": n.fraction,
                "feedback": n.feedback,
                "feedback_format": n.feedback_format.value,
            }
            for n in q.numeric
        ]
    return out


def assert_same(got: Any, expected: Any, path: str = "") -> None:
    """Deep equality, numbers within 1e-9, with a readable path on failure."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), f"{path}: expected an object, got {got!r}"
        assert set(got) == set(expected), f"{path}: keys {sorted(got)} != {sorted(expected)}"
        for key in expected:
            assert_same(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list), f"{path}: expected a list, got {got!r}"
        assert len(got) == len(expected), f"{path}: {len(got)} items != {len(expected)}"
        for index, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_same(g, e, f"{path}[{index}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert got == expected and type(got) is type(expected), f"{path}: {got!r} != {expected!r}"
    elif isinstance(expected, int | float):
        assert isinstance(got, int | float) and not isinstance(got, bool), f"{path}: {got!r}"
        assert math.isclose(got, expected, rel_tol=0, abs_tol=1e-9), (
            f"{path}: {got!r} != {expected!r}"
        )
    else:  # pragma: no cover - the corpus only holds JSON values
        raise AssertionError(f"{path}: unexpected expected value {expected!r}")


def assert_rejected(error: ContentError, expected_ids: list[str]) -> None:
    """The ContentError holds one problem per rejected block, each naming Moodle's rule."""
    messages = [message for _, message in error.problems]
    assert len(messages) == len(expected_ids), messages
    for message, error_id in zip(messages, expected_ids, strict=True):
        assert ERROR_PHRASES[error_id] in message, (error_id, message)


def expected_of(case: dict[str, Any]) -> Any:
    # We model Moodle's *file* import (lines trimmed), which is what a trainer's file goes
    # through; the corpus gives that result separately where Moodle's unit test differs.
    return case.get("expected_when_imported_from_file", case["expected"])


def check_case(case: dict[str, Any]) -> None:
    """Parse one corpus case and compare it with its expected result."""
    expected = expected_of(case)
    blocks = case.get("expected_blocks")
    if expected is None and blocks is not None:
        errors = [b["error"] for b in blocks if b is not None and "error" in b]
        if errors:
            with pytest.raises(ContentError) as info:
                read_gift(case["gift"])
            assert_rejected(info.value, errors)
            return
        assert_same([neutral(i) for i in read_gift(case["gift"])], [b for b in blocks if b])
        return
    if expected is None:
        assert read_gift(case["gift"]) == [], "a comment-only block gives no question"
        return
    if "error" in expected:
        with pytest.raises(ContentError) as info:
            read_gift(case["gift"])
        assert_rejected(info.value, [expected["error"]])
        return
    items = read_gift(case["gift"])
    assert len(items) == 1, f"expected one question, got {len(items)}"
    assert_same(neutral(items[0]), expected)


def check_metadata(case: dict[str, Any]) -> None:
    """Compare Moodle's [id:...]/[tag:...] extraction from a comment."""
    idnumber, tags = extract_idnumber_and_tags(case["comment"])
    assert {"idnumber": idnumber, "tags": list(tags)} == case["expected"]


def check_fixture_file(record: dict[str, Any]) -> None:
    """Question count of a whole fixture file, or its rejection as a whole."""
    data = (CORPUS / record["file"]).read_bytes()
    expected = record["expected"]
    if expected and expected.get("rejected"):
        with pytest.raises(ContentError) as info:
            parse_gift_bytes(data)
        assert "UTF-8" in info.value.problems[0][1]
        return
    count = expected["question_count"] if expected else record["derived_question_count"]
    items = read_gift(decode_gift_bytes(data))
    assert sum(isinstance(item, Question) for item in items) == count


CHECKERS = {"cases-comment-metadata.json": check_metadata, "fixture-files.json": check_fixture_file}


@cache
def load(file: str) -> list[dict[str, Any]]:
    return json.loads((CORPUS / file).read_text(encoding="utf-8"))


def case_name(file: str, case: dict[str, Any]) -> str:
    return case.get("name") or case["file"]


def run(file: str, case: dict[str, Any]) -> None:
    CHECKERS.get(file, check_case)(case)


def params() -> list[Any]:
    out = []
    for file in ALL_FILES:
        for case in load(file):
            name = case_name(file, case)
            reason = DELIBERATE_DIFFERENCES.get((file, name))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            out.append(pytest.param(file, case, id=f"{file}::{name}", marks=marks))
    return out


@pytest.mark.parametrize(("file", "case"), params())
def test_corpus_case(file: str, case: dict[str, Any]) -> None:
    run(file, case)


def test_deliberate_differences_name_real_cases() -> None:
    for file, name in DELIBERATE_DIFFERENCES:
        assert any(case_name(file, c) == name for c in load(file)), (file, name)


def test_windows_1252_rejected_at_the_offending_line() -> None:
    data = (CORPUS / "fixtures" / "questions_encoding_windows-1252.gift.txt").read_bytes()
    with pytest.raises(ContentError) as info:
        parse_gift_bytes(data, first_line=10)
    [(line, message)] = info.value.problems
    assert line == 10 + data[: data.index(b"\xf6")].count(b"\n")
    assert "not UTF-8" in message and "0xF6" in message


def test_fixture_file_duplicate_titles_are_duplicate_ids() -> None:
    # Moodle allows two questions named "2-08 TSL"; here a title is the question id,
    # so the module-level parser reports the clash instead of merging statistics.
    data = (CORPUS / "fixtures" / "questions.gift.txt").read_bytes()
    with pytest.raises(ContentError) as info:
        parse_gift_bytes(data)
    [(_, message)] = info.value.problems
    assert "duplicate question id '2-08-tsl'" in message


def test_corpus_summary() -> None:
    """Report "N of M cases pass" per corpus file and check it against the expectations."""
    assert CORPUS.is_dir(), f"the Moodle GIFT corpus is missing: {CORPUS}"
    lines = []
    for file in ALL_FILES:
        cases = load(file)
        passed = 0
        for case in cases:
            try:
                run(file, case)
            except (AssertionError, pytest.fail.Exception):
                continue
            passed += 1
        known = sum(1 for f, _ in DELIBERATE_DIFFERENCES if f == file)
        lines.append(
            f"{file}: {passed} of {len(cases)} cases pass ({known} deliberate differences)"
        )
        assert passed == len(cases) - known, lines[-1]
    # Shown at the end of every run by tests/conftest.py's terminal summary.
    TERMINAL_REPORT.append("Moodle GIFT corpus:")
    TERMINAL_REPORT.extend(f"  {line}" for line in lines)
