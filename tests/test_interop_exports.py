"""Exports other tools read: GIFT parsed by gift-pegjs, Moodle XML read back as Moodle would.

Both run through the real commands (`flask content export-gift|export-moodle-xml`) on the
fixture course tests/courses/interop, whose first module uses every question type.
gift-pegjs (npm, pinned in package-lock.json) is an independent GIFT parser: what it reads
must be, item by item, the answers, weights and feedback of our own model.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask

from app.content.loader import load_catalogue
from app.content.questions import BLANK, Question, QuestionType
from app.quizzes.gift_export import gap_fill_as_short_answers
from app.quizzes.moodle_xml import moodle_tags
from tests.conftest import make_app
from tests.node import require, run_node

COURSES = Path(__file__).resolve().parent / "courses"
COURSE = load_catalogue(COURSES).courses["interop"]
GIFT_TYPES = {
    QuestionType.SINGLE_CHOICE: "MC",
    QuestionType.MULTIPLE_CHOICE: "MC",
    QuestionType.TRUE_FALSE: "TF",
    QuestionType.SHORT_ANSWER: "Short",
    QuestionType.MATCHING: "Matching",
    QuestionType.NUMERICAL: "Numerical",
    QuestionType.DESCRIPTION: "Description",
}


def _questions(language: str) -> list[tuple[str, Question]]:
    """(module id, question) for every question of the course in `language`, in file order."""
    out = []
    for entry in COURSE.visible:
        module = COURSE.module(entry.id, language)[0]  # type: ignore[index]
        out += [(module.id, q) for q in module.questions]
    return out


def _words(text: str) -> str:
    """Text with its whitespace collapsed (gift-pegjs pads the blank of a missing word)."""
    return " ".join(text.replace(BLANK, f" {BLANK} ").split())


def _feedback(item: dict | None) -> tuple[str, str] | None:
    return (item["text"], item["format"]) if item else None


def _ours(text: str, fmt: str) -> tuple[str, str] | None:
    return (text, str(fmt)) if text else None


def _weight(choice: dict) -> float:
    """gift-pegjs's weight as a fraction: no weight means 100% if marked right, else 0."""
    if choice["weight"] is None:
        return 1.0 if choice["isCorrect"] else 0.0
    return choice["weight"] / 100


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The app serving the fixture courses; these tests need no database."""
    return make_app(tmp_path_factory.mktemp("exports"), COURSES, migrate=False)


def _export(app: Flask, command: str, *args: str, tmp_path: Path) -> str:
    target = tmp_path / f"{command}.out"
    result = app.test_cli_runner().invoke(
        args=["content", command, "interop", *args, "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    return target.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["en", "it"])
def test_gift_pegjs_reads_our_gift_item_by_item_as_our_model(
    app: Flask, tmp_path: Path, language: str
) -> None:
    require("gift-pegjs")
    gift = _export(app, "export-gift", "-l", language, tmp_path=tmp_path)
    parsed = run_node("gift_parse.js", stdin=gift)

    expected: list[tuple[str, Question]] = []
    for module_id, question in _questions(language):
        if question.type is QuestionType.GAP_FILL:
            expected += [(module_id, q) for q in gap_fill_as_short_answers(question)]
        else:
            expected.append((module_id, question))
    categories = [item["title"] for item in parsed if item["type"] == "Category"]
    assert categories == [f"$course$/top/interop/{e.id}" for e in COURSE.visible]
    items = [item for item in parsed if item["type"] != "Category"]
    assert len(items) == len(expected)

    for item, (_, question) in zip(items, expected, strict=True):
        where = question.id
        assert item["type"] == GIFT_TYPES[question.type], where
        assert item["title"] == (question.title or question.id), where
        assert item["stem"]["format"] == question.text_format, where
        assert _words(item["stem"]["text"]) == _words(question.text), where
        assert (item["tags"] or []) == moodle_tags(question), where
        assert (item["id"] or "") == question.idnumber, where
        if question.type is QuestionType.DESCRIPTION:
            continue
        assert _feedback(item["globalFeedback"]) == _ours(
            question.general_feedback, question.general_feedback_format
        ), where
        kind = question.type
        if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
            assert [
                (c["text"]["text"], c["text"]["format"], _weight(c), _feedback(c["feedback"]))
                for c in item["choices"]
            ] == [
                (o.text, o.text_format, o.fraction, _ours(o.feedback, o.feedback_format))
                for o in question.options
            ], where
        elif kind is QuestionType.TRUE_FALSE:
            options = {o.id: o for o in question.options}
            right = "true" if options["true"].fraction > 0 else "false"
            wrong = "false" if right == "true" else "true"
            assert item["isTrue"] is (right == "true"), where
            # GIFT's order, {TRUE#for the wrong choice#for the right one}: gift-pegjs calls
            # the first "trueFeedback" and the second "falseFeedback" whatever the answer.
            assert _feedback(item["trueFeedback"]) == _ours(
                options[wrong].feedback, options[wrong].feedback_format
            ), where
            assert _feedback(item["falseFeedback"]) == _ours(
                options[right].feedback, options[right].feedback_format
            ), where
        elif kind is QuestionType.SHORT_ANSWER:
            assert [
                (c["text"]["text"], _weight(c), _feedback(c["feedback"])) for c in item["choices"]
            ] == [
                (a.text, a.fraction, _ours(a.feedback, a.feedback_format)) for a in question.answers
            ], where
        elif kind is QuestionType.MATCHING:
            assert [(p["subquestion"]["text"], p["subanswer"]) for p in item["matchPairs"]] == [
                (p.prompt, p.answer) for p in question.pairs
            ], where
        elif kind is QuestionType.NUMERICAL:
            got = []
            for choice in item["choices"]:
                value = choice["text"]
                number = (
                    (None, None) if value.get("text") == "*" else (value["number"], value["range"])
                )
                got.append((*number, _weight(choice), _feedback(choice["feedback"])))
            assert got == [
                (
                    n.value,
                    None if n.value is None else n.tolerance,
                    n.fraction,
                    _ours(n.feedback, n.feedback_format),
                )
                for n in question.numeric
            ], where


def _text(element: ET.Element, tag: str) -> tuple[str, str | None]:
    found = element.find(tag)
    assert found is not None, f"no <{tag}> in {element.tag}"
    return (found.findtext("text") or "", found.get("format"))


def _percent(fraction: float) -> float:
    return round(fraction * 100, 5)


@pytest.mark.parametrize("language", ["en", "it"])
def test_moodle_xml_holds_every_question_type_with_feedback_grades_and_tags(
    app: Flask, tmp_path: Path, language: str
) -> None:
    xml = _export(app, "export-moodle-xml", "-l", language, tmp_path=tmp_path)
    root = ET.fromstring(xml)
    assert root.tag == "quiz"
    elements = root.findall("question")
    categories = [q.findtext("category/text") for q in elements if q.get("type") == "category"]
    assert categories == [f"$course$/top/interop/{e.id}" for e in COURSE.visible]
    items = [q for q in elements if q.get("type") != "category"]
    expected = _questions(language)
    assert len(items) == len(expected)
    assert [t.findtext("text") for t in items[0].findall("tags/tag")] == ["outcome:o1"]
    used_types = {q.type for _, q in expected}
    assert used_types == set(QuestionType) - {QuestionType.ESSAY}  # the fixture uses them all

    for item, (_, question) in zip(items, expected, strict=True):
        where = question.id
        kind = question.type
        assert (
            item.get("type")
            == {
                QuestionType.SINGLE_CHOICE: "multichoice",
                QuestionType.MULTIPLE_CHOICE: "multichoice",
                QuestionType.TRUE_FALSE: "truefalse",
                QuestionType.SHORT_ANSWER: "shortanswer",
                QuestionType.MATCHING: "matching",
                QuestionType.NUMERICAL: "numerical",
                QuestionType.GAP_FILL: "cloze",
                QuestionType.DESCRIPTION: "description",
            }[kind]
        ), where
        assert item.findtext("name/text") == (question.title or question.id), where
        text, fmt = _text(item, "questiontext")
        assert fmt == question.text_format, where
        assert [t.findtext("text") for t in item.findall("tags/tag")] == moodle_tags(question)
        assert (item.findtext("idnumber") or "") == question.idnumber, where
        feedback = _text(item, "generalfeedback")
        assert feedback[0] == question.general_feedback, where
        answers = item.findall("answer")

        def graded(answer: ET.Element) -> tuple[str, float, str]:
            return (
                answer.findtext("text") or "",
                float(answer.get("fraction", "nan")),
                answer.findtext("feedback/text") or "",
            )

        if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
            assert text == question.text, where
            single = "true" if kind is QuestionType.SINGLE_CHOICE else "false"
            assert item.findtext("single") == single, where
            assert [(*graded(a), a.get("format")) for a in answers] == [
                (o.text, _percent(o.fraction), o.feedback, o.text_format) for o in question.options
            ], where
        elif kind is QuestionType.TRUE_FALSE:
            options = {o.id: o for o in question.options}
            assert [graded(a) for a in answers] == [
                (v, _percent(options[v].fraction), options[v].feedback) for v in ("true", "false")
            ], where
        elif kind is QuestionType.SHORT_ANSWER:
            assert item.findtext("usecase") == "0", where  # our grading ignores case
            assert [graded(a) for a in answers] == [
                (a.text, _percent(a.fraction), a.feedback) for a in question.answers
            ], where
        elif kind is QuestionType.NUMERICAL:
            assert [(*graded(a), float(a.findtext("tolerance") or "nan")) for a in answers] == [
                (
                    "*" if n.value is None else repr(n.value),
                    _percent(n.fraction),
                    n.feedback,
                    abs(n.tolerance or 0.0),
                )
                for n in question.numeric
            ], where
        elif kind is QuestionType.MATCHING:
            assert [
                (s.findtext("text"), s.findtext("answer/text")) for s in item.findall("subquestion")
            ] == [(p.prompt, p.answer) for p in question.pairs], where
        elif kind is QuestionType.GAP_FILL:
            # Every gap embedded where it stands, with all its accepted answers.
            pieces = [question.text_parts[0]]
            for gap, after in zip(question.gaps, question.text_parts[1:], strict=True):
                pieces.append(
                    "{1:SHORTANSWER:" + "~".join(f"={a}" for a in gap.answers) + "}" + after
                )
            assert text == "".join(pieces), where
        else:
            assert text == question.text, where


def test_moodle_xml_of_one_module_to_standard_output(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["content", "export-moodle-xml", "interop", "loyalty"]
    )
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.output)
    assert [q.findtext("category/text") for q in root.findall("question[@type='category']")] == [
        "$course$/top/interop/loyalty"
    ]
    assert [q.findtext("name/text") for q in root.findall("question")[1:]] == ["q-where", "q-read"]


def test_moodle_xml_of_an_unknown_module_is_a_clear_error(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["content", "export-moodle-xml", "interop", "nope"])
    assert result.exit_code != 0
    assert "no visible module 'nope' in interop; modules: signals, loyalty" in result.output
