"""GIFT out: every question exported and parsed again is the same question.

"The same" is defined in `differences` below, per type. Two things GIFT cannot say are
defined explicitly:
- true/false options have no wording in GIFT (Moodle shows True/False), so for them only
  which one is right and each one's feedback are compared, not the trainer's "Vero"/"Falso";
- gap-fill questions have no GIFT twin: each gap becomes a missing-word short answer whose
  accepted answers (all at 100%) are the gap's alternatives, the text around the blank being
  the question's text with the other gaps filled with their first answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest

from app.content.errors import ContentError
from app.content.gift import parse_gift, parse_gift_raw, read_gift
from app.content.loader import load_catalogue
from app.content.questions import BLANK, Question, QuestionType, TextFormat, slugify
from app.content.quiz_syntax import parse_quiz
from app.quizzes.gift_export import (
    ExportError,
    gap_fill_as_short_answers,
    question_to_gift,
    to_gift,
)
from tests.conftest import CONTENT

COURSE = load_catalogue(CONTENT).courses["trial"]
COURSE_QUESTIONS = [
    (f"{entry.id}/{lang}/{q.id}", q)
    for entry in COURSE.entries
    for lang, module in sorted(entry.versions.items())
    for q in module.questions
]
CORPUS = Path(__file__).resolve().parent / "corpora" / "moodle-gift"
CORPUS_FILES = ("cases.json", "cases-fixtures.json", "cases-edge-derived.json", "cases-extra.json")

# Moodle's grade list (question/engine/bank.php): an imported fraction must be within 1e-5.
MOODLE_GRADES = [
    0, 1, 0.9, 0.8333333, 0.8, 0.75, 0.7, 0.6666667, 0.6, 0.5, 0.4, 0.3333333, 0.3, 0.25, 0.2,
    0.1666667, 0.1428571, 0.125, 0.1111111, 0.1, 0.05,
]  # fmt: skip


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _fmt(text: str, fmt: TextFormat) -> tuple[str, TextFormat | None]:
    # An empty text's format carries no meaning.
    return (text, fmt if text else None)


def differences(original: Question, back: Question) -> list[str]:
    """What differs between a question and its GIFT round trip ([] when they are the same)."""
    found: list[str] = []

    def check(name: str, a: object, b: object) -> None:
        if a != b:
            found.append(f"{name}: {a!r} != {b!r}")

    # Ids: the GIFT title carries the id (GIFT-born questions keep their own title).
    check("id", slugify(original.title or original.id), back.id)
    check("type", original.type, back.type)
    check("text_format", original.text_format, back.text_format)
    if original.text_parts and not original.text_parts[-1].strip():
        # A blank at the very end: GIFT reads `text {…}` as an ordinary question.
        check("text", original.text_parts[0].strip(), back.text)
        check("text_parts", (), back.text_parts)
    else:
        check("text", original.text, back.text)
        check("text_parts", original.text_parts, back.text_parts)
    check(
        "general_feedback",
        _fmt(original.general_feedback, original.general_feedback_format),
        _fmt(back.general_feedback, back.general_feedback_format),
    )
    check("idnumber", original.idnumber, back.idnumber)
    check("tags", original.tags, back.tags)
    check("outcomes", original.outcomes, back.outcomes)
    if original.type is QuestionType.TRUE_FALSE:

        def tf(q: Question) -> dict[str, tuple]:
            return {o.id: (o.fraction, *_fmt(o.feedback, o.feedback_format)) for o in q.options}

        check("true/false", tf(original), tf(back))
    else:
        check(
            "options",
            [
                (o.text, o.text_format, *_fmt(o.feedback, o.feedback_format))
                for o in original.options
            ],
            [(o.text, o.text_format, *_fmt(o.feedback, o.feedback_format)) for o in back.options],
        )
        fractions = [o.fraction for o in original.options], [o.fraction for o in back.options]
        if len(fractions[0]) != len(fractions[1]) or not all(map(_close, *fractions)):
            found.append(f"option fractions: {fractions[0]} != {fractions[1]}")
    check(
        "answers",
        [
            (a.text, round(a.fraction, 6), *_fmt(a.feedback, a.feedback_format))
            for a in original.answers
        ],
        [
            (a.text, round(a.fraction, 6), *_fmt(a.feedback, a.feedback_format))
            for a in back.answers
        ],
    )
    check(
        "pairs",
        [(p.prompt, p.prompt_format if p.prompt else None, p.answer) for p in original.pairs],
        [(p.prompt, p.prompt_format if p.prompt else None, p.answer) for p in back.pairs],
    )
    if len(original.numeric) != len(back.numeric):
        found.append(f"numeric answers: {len(original.numeric)} != {len(back.numeric)}")
    for a, b in zip(original.numeric, back.numeric, strict=False):
        same_interval = _close(a.value, b.value) and (
            a.value is None or _close(a.tolerance or 0.0, b.tolerance or 0.0)
        )
        if not same_interval or not _close(a.fraction, b.fraction):
            found.append(f"numeric: {a} != {b}")
        check(
            "numeric feedback",
            _fmt(a.feedback, a.feedback_format),
            _fmt(b.feedback, b.feedback_format),
        )
    return found


def round_trip(question: Question) -> list[Question]:
    return parse_gift_raw(question_to_gift(question))


def expected_twins(question: Question) -> list[Question]:
    """What a question should read back as: itself, or per-gap short answers for a gap-fill."""
    if question.type is QuestionType.GAP_FILL:
        return gap_fill_as_short_answers(question)
    return [question]


# --- the course -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "question"), COURSE_QUESTIONS, ids=[w for w, _ in COURSE_QUESTIONS]
)
def test_every_course_question_survives_the_round_trip(where: str, question: Question) -> None:
    back = round_trip(question)
    twins = expected_twins(question)
    assert len(back) == len(twins), question_to_gift(question)
    for twin, parsed in zip(twins, back, strict=True):
        assert differences(twin, parsed) == [], question_to_gift(question)


def test_a_gap_fill_reads_back_as_a_short_answer_with_the_gap_alternatives() -> None:
    (question,) = parse_quiz("1. It is called [[click and collect|click & collect]] online. {#cc}")
    (back,) = round_trip(question)
    assert back.type is QuestionType.SHORT_ANSWER and back.id == "cc"
    assert [a.text for a in back.answers] == ["click and collect", "click & collect"]
    assert all(a.fraction == 1.0 for a in back.answers)
    assert back.text == f"It is called {BLANK} online." == question.text
    assert back.text_parts == question.text_parts


def test_a_gap_fill_with_several_gaps_becomes_one_question_per_gap() -> None:
    (question,) = parse_quiz("1. [[CRM]] keeps data; [[ERP|E.R.P.]] plans resources. {#two}")
    first, second = round_trip(question)
    assert (first.id, second.id) == ("two-g1", "two-g2")
    assert first.text == f"{BLANK} keeps data; ERP plans resources."
    assert second.text == f"CRM keeps data; {BLANK} plans resources."
    assert [a.text for a in second.answers] == ["ERP", "E.R.P."]


def test_the_whole_course_exports_as_one_file_per_module_with_moodle_grades() -> None:
    for entry in COURSE.entries:
        for module in entry.versions.values():
            text = to_gift(module.questions, category=f"$course$/top/{COURSE.id}/{module.id}")
            items = read_gift(text)
            assert items[0].path == f"$course$/top/{COURSE.id}/{module.id}"
            back = [q for q in items if isinstance(q, Question)]
            assert len(back) == sum(len(expected_twins(q)) for q in module.questions)
            for question in back:
                fractions = [o.fraction for o in question.options]
                fractions += [a.fraction for a in question.answers]
                for fraction in fractions:
                    assert any(abs(abs(fraction) - g) < 1e-5 for g in MOODLE_GRADES), fraction
            # No blank line inside a question: Moodle would cut it in two.
            for block in text.split("\n\n"):
                assert "\n\n" not in block


# --- awkward texts --------------------------------------------------------------------------

AWKWARD = """\
1. Which is **right**? Braces {like this}, a = sign, a # hash, a ~ tilde, C:\\temp\\new {#awk}

   A second paragraph, and a list:

   - one
   - two
   - ( ) 50% off {really}
     > Feedback with = and # and ~ and \\n literally.
   - (x) [html] is not a format here
     > Two lines
     > of feedback.
   > General: {all} good.

2. Several: [x] and ~ {#multi}
   - [x] a = b
   - [x] c # d
   - [ ] e ~ f
   - [ ] g: h
"""


def test_special_characters_line_breaks_and_paragraphs_survive() -> None:
    questions = parse_quiz(AWKWARD)
    for question in questions:
        (back,) = round_trip(question)
        assert differences(question, back) == [], question_to_gift(question)
    text = to_gift(questions)
    assert [q.id for q in parse_gift(text)] == ["awk", "multi"]


def test_gift_born_questions_of_every_kind_survive() -> None:
    source = """\
// [id:N-1] [tag:numbers] [tag:easy]
::Year:: [html]When was <b>Moodle</b> out? {#=2002:0#Right =%50%2002:2#Close ~#No####Later}

::Pi:: Pi to two places{#3.14..3.15} is what?

::Capital:: The capital of Italy is {=Rome =%50%Roma#Italian name =%0%*#No} city.

::Match:: Pair them. {
=[markdown]**Shop** -> physical
=Newsletter -> digital
= -> distractor
####[plain]Plain <general> feedback
}

::Weighted:: Pick {~%50%half ~%-100%wrong ~%50%other half}

::TF:: The sky is blue.{TRUE#Look again#Yes}

::About:: Just a description: no answer at all.
"""
    questions = parse_gift(source)
    assert {q.type for q in questions} == {
        QuestionType.NUMERICAL,
        QuestionType.SHORT_ANSWER,
        QuestionType.MATCHING,
        QuestionType.MULTIPLE_CHOICE,
        QuestionType.TRUE_FALSE,
        QuestionType.DESCRIPTION,
    }
    for question in questions:
        (back,) = round_trip(question)
        assert differences(question, back) == [], question_to_gift(question)


def test_a_matching_prompt_with_an_arrow_cannot_be_exported() -> None:
    (question,) = parse_gift("::M:: Pair. {=a -> c =d -> e}")
    arrow = replace(
        question, pairs=(replace(question.pairs[0], prompt="a -> b"), question.pairs[1])
    )
    with pytest.raises(ExportError):
        question_to_gift(arrow)


# --- Moodle's own corpus ----------------------------------------------------------------------


def _corpus_questions() -> list[tuple[str, Question]]:
    found = []
    for name in CORPUS_FILES:
        path = CORPUS / name
        if not path.exists():
            continue
        for case in json.loads(path.read_text(encoding="utf-8")):
            try:
                items = read_gift(case["gift"])
            except ContentError:
                continue
            for index, item in enumerate(items):
                if isinstance(item, Question) and item.type is not QuestionType.ESSAY:
                    found.append((f"{name}:{case['name']}:{index}", item))
    return found


CORPUS_QUESTIONS = _corpus_questions()


def test_the_corpus_is_there() -> None:
    assert len(CORPUS_QUESTIONS) > 50


@pytest.mark.parametrize(
    ("where", "question"), CORPUS_QUESTIONS, ids=[w for w, _ in CORPUS_QUESTIONS]
)
def test_every_moodle_corpus_question_survives_the_round_trip(
    where: str, question: Question
) -> None:
    text = question_to_gift(question)
    (back,) = parse_gift_raw(text)
    assert differences(question, back) == [], text


# --- flask content export-gift ----------------------------------------------------------------


def test_export_gift_command_prints_one_module(runner) -> None:
    result = runner.invoke(args=["content", "export-gift", "trial", "first-steps"])
    assert result.exit_code == 0, result.output
    module = COURSE.module("first-steps", COURSE.default_language)[0]
    items = read_gift(result.output)
    assert items[0].path == "$course$/top/trial/first-steps"
    back = [q for q in items if isinstance(q, Question)]
    assert [q.id for q in back] == [t.id for q in module.questions for t in expected_twins(q)]
    assert module.questions[0].text in result.output.replace("\\:", ":")


def test_export_gift_command_writes_the_whole_course_in_a_language(runner, tmp_path: Path) -> None:
    target = tmp_path / "course.gift"
    result = runner.invoke(
        args=["content", "export-gift", "trial", "--language", "en", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    items = read_gift(target.read_text(encoding="utf-8"))
    categories = [i.path for i in items if not isinstance(i, Question)]
    assert categories == [f"$course$/top/trial/{e.id}" for e in COURSE.visible]
    english = [q for e in COURSE.visible for q in e.versions["en"].questions]
    assert len([i for i in items if isinstance(i, Question)]) == sum(
        len(expected_twins(q)) for q in english
    )


def test_export_gift_command_names_what_it_cannot_find(runner) -> None:
    result = runner.invoke(args=["content", "export-gift", "nope"])
    assert result.exit_code != 0 and "no course 'nope'" in result.output
    result = runner.invoke(args=["content", "export-gift", "trial", "nope"])
    assert result.exit_code != 0 and "no visible module 'nope'" in result.output
