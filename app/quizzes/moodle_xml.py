"""Questions out as Moodle XML, the question bank's own import format.

Unlike GIFT, Moodle XML says everything our model holds: each text's format, every answer's
grade and feedback, a question's idnumber and tags (the outcome tags trainers put on questions),
and gap-fill questions with all their gaps in one question (Moodle's embedded answers, "Cloze").

Grades are percentages written as Moodle writes them (7 significant decimals at most); the
answers of a short-answer or gap question are compared ignoring case, as our grading does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from app.content.model import Course, Module
from app.content.questions import (
    OUTCOME_TAG_PREFIX,
    Question,
    QuestionType,
    TextFormat,
    outcomes_from_tags,
)

# Moodle's question type names (question/type/*) for ours.
MOODLE_TYPES: dict[QuestionType, str] = {
    QuestionType.SINGLE_CHOICE: "multichoice",
    QuestionType.MULTIPLE_CHOICE: "multichoice",
    QuestionType.TRUE_FALSE: "truefalse",
    QuestionType.SHORT_ANSWER: "shortanswer",
    QuestionType.MATCHING: "matching",
    QuestionType.NUMERICAL: "numerical",
    QuestionType.GAP_FILL: "cloze",
    QuestionType.DESCRIPTION: "description",
    QuestionType.ESSAY: "essay",
}
# Characters that end or split an embedded answer in Cloze text, escaped with a backslash.
_CLOZE_SPECIAL = str.maketrans({c: "\\" + c for c in '\\}#~/"='})


def percent(fraction: float) -> str:
    """A fraction in -1..1 as Moodle's percentage attribute: 100, 50, 33.33333, -100."""
    number = f"{fraction * 100:.5f}".rstrip("0").rstrip(".")
    return "0" if number in ("-0", "") else number


def _text(parent: ET.Element, tag: str, text: str, fmt: TextFormat | None = None) -> ET.Element:
    """`<tag format="..."><text>...</text></tag>`, the shape Moodle uses for every text."""
    element = ET.SubElement(parent, tag, {"format": str(fmt)} if fmt else {})
    ET.SubElement(element, "text").text = text
    return element


def _value(parent: ET.Element, tag: str, value: str) -> None:
    ET.SubElement(parent, tag).text = value


def _answer(
    parent: ET.Element,
    text: str,
    fraction: float,
    feedback: str,
    feedback_format: TextFormat,
    text_format: TextFormat | None = None,
) -> ET.Element:
    attributes = {"fraction": percent(fraction)}
    if text_format:
        attributes["format"] = str(text_format)
    answer = ET.SubElement(parent, "answer", attributes)
    _value(answer, "text", text)
    _text(answer, "feedback", feedback, feedback_format)
    return answer


def cloze_text(question: Question) -> str:
    """A gap-fill text with each gap embedded as a short answer: `{1:SHORTANSWER:=a~=b}`."""
    parts = question.text_parts
    out = [parts[0]]
    for gap, after in zip(question.gaps, parts[1:], strict=True):
        accepted = "~".join("=" + answer.translate(_CLOZE_SPECIAL) for answer in gap.answers)
        out.append("{1:SHORTANSWER:" + accepted + "}" + after)
    return "".join(out)


def question_element(question: Question, shuffle: bool = False) -> ET.Element:
    """One question as a Moodle XML `<question>` element."""
    kind = question.type
    element = ET.Element("question", {"type": MOODLE_TYPES[kind]})
    _text(element, "name", question.title or question.id)
    fmt = question.text_format
    body = cloze_text(question) if kind is QuestionType.GAP_FILL else question.text
    _text(element, "questiontext", body, fmt)
    _text(element, "generalfeedback", question.general_feedback, question.general_feedback_format)
    if kind is not QuestionType.DESCRIPTION:
        _value(element, "defaultgrade", "1")
        _value(element, "penalty", "0")
    _value(element, "hidden", "0")
    _value(element, "idnumber", question.idnumber)

    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        _value(element, "single", "true" if kind is QuestionType.SINGLE_CHOICE else "false")
        _value(element, "shuffleanswers", "true" if shuffle else "false")
        _value(element, "answernumbering", "abc")
        for option in question.options:
            _answer(
                element,
                option.text,
                option.fraction,
                option.feedback,
                option.feedback_format,
                option.text_format,
            )
    elif kind is QuestionType.TRUE_FALSE:
        options = {o.id: o for o in question.options}
        for value in ("true", "false"):
            option = options[value]
            _answer(element, value, option.fraction, option.feedback, option.feedback_format)
    elif kind is QuestionType.SHORT_ANSWER:
        _value(element, "usecase", "0")
        for answer in question.answers:
            _answer(element, answer.text, answer.fraction, answer.feedback, answer.feedback_format)
    elif kind is QuestionType.NUMERICAL:
        for numeric in question.numeric:
            node = _answer(
                element,
                "*" if numeric.value is None else repr(float(numeric.value)),
                numeric.fraction,
                numeric.feedback,
                numeric.feedback_format,
            )
            _value(node, "tolerance", repr(abs(float(numeric.tolerance or 0.0))))
    elif kind is QuestionType.MATCHING:
        _value(element, "shuffleanswers", "true")
        for pair in question.pairs:
            sub = _text(element, "subquestion", pair.prompt, pair.prompt_format)
            node = ET.SubElement(sub, "answer")
            _value(node, "text", pair.answer)

    tags = moodle_tags(question)
    if tags:
        container = ET.SubElement(element, "tags")
        for tag in tags:
            _text(container, "tag", tag)
    return element


def moodle_tags(question: Question) -> list[str]:
    """The question's tags, plus `outcome:<id>` for each outcome it assesses (as GIFT writes)."""
    tags = list(question.tags)
    named = set(outcomes_from_tags(tags))
    return tags + [OUTCOME_TAG_PREFIX + o for o in question.outcomes if o not in named]


def to_moodle_xml(
    questions: Iterable[Question], category: str | None = None, shuffle: bool = False
) -> ET.Element:
    """Questions as a Moodle XML `<quiz>`, filed under `category` when given."""
    quiz = ET.Element("quiz")
    if category:
        head = ET.SubElement(quiz, "question", {"type": "category"})
        _text(head, "category", category)
    for question in questions:
        quiz.append(question_element(question, shuffle))
    return quiz


def modules_to_moodle_xml(course: Course, modules: Iterable[Module]) -> str:
    """Several modules' questions as one Moodle XML file, one category per module."""
    quiz = ET.Element("quiz")
    for module in modules:
        note = (
            f"{course.text(course.title, module.language)}: {module.title} "
            f"({module.language}), from {module.path}"
        )
        quiz.append(ET.Comment(" " + note.replace("--", "- -") + " "))  # XML forbids "--" there
        quiz.extend(
            to_moodle_xml(
                module.questions,
                category=f"$course$/top/{course.id}/{module.id}",
                shuffle=module.quiz.shuffle,
            )
        )
    ET.indent(quiz)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, "unicode") + "\n"
