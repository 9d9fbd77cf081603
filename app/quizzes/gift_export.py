"""Questions out as GIFT that Moodle imports, and that our own parser reads back the same.

Every text is written on one line with GIFT's escapes (`\\~ \\= \\# \\{ \\} \\:`, `\\\\`, and
`\\n` for a line break), because a blank line always ends a GIFT question and Moodle trims
every line. Formats are written out (`[markdown]` for task-list questions), so Moodle renders
them as the platform does.

Gap-fill questions have no GIFT twin. One with a single gap becomes a missing-word short
answer (`before {=a =b} after`); one with several gaps becomes one such question per gap,
the other gaps shown filled with their first accepted answer, with ids `<id>-g1`, `<id>-g2`...
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from app.content.model import Course, Module
from app.content.questions import (
    BLANK,
    OUTCOME_TAG_PREFIX,
    AcceptedAnswer,
    Question,
    QuestionType,
    TextFormat,
    option_id,
    outcomes_from_tags,
)

_ESCAPED = str.maketrans({c: "\\" + c for c in "~=#{}:"} | {"\n": "\\n", "\r": ""})
# Texts starting like this would lose their first bracket to GIFT's format syntax.
_FORMAT_LIKE_RE = re.compile(r"\[(moodle|html|plain|markdown)\]")


class ExportError(ValueError):
    """A question GIFT cannot express."""


def escape(text: str) -> str:
    """A text as one GIFT line: specials and line breaks escaped."""
    return text.replace("\\", "\\\\").translate(_ESCAPED)


def _formatted(text: str, fmt: TextFormat, default: TextFormat) -> str:
    """Escaped text with a `[format]` prefix when it differs from the default (or must)."""
    needs_prefix = fmt != default or _FORMAT_LIKE_RE.match(text)
    return (f"[{fmt}]" if needs_prefix else "") + escape(text)


def _weight(fraction: float) -> str:
    """A `%n%` weight with up to 5 decimals, as Moodle writes its grade list (33.33333)."""
    number = f"{fraction * 100:.5f}".rstrip("0").rstrip(".")
    return f"%{'0' if number == '-0' else number}%"


def _feedback(text: str, fmt: TextFormat, default: TextFormat) -> str:
    return f"#{_formatted(text, fmt, default)}" if text else ""


def _number(value: float) -> str:
    """Shortest text that reads back as the same float."""
    return repr(float(value))


def _answer_block(question: Question) -> str:
    fmt = question.text_format
    lines: list[str] = []
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        for option in question.options:
            text = _formatted(option.text, option.text_format, fmt)
            if kind is QuestionType.SINGLE_CHOICE and option.fraction == 1.0:
                prefix = "="
            elif option.fraction == 0.0 and not text.startswith("%"):
                prefix = "~"
            else:
                prefix = "~" + _weight(option.fraction)
            lines.append(prefix + text + _feedback(option.feedback, option.feedback_format, fmt))
    elif kind is QuestionType.TRUE_FALSE:
        options = {o.id: o for o in question.options}
        right = "true" if options["true"].fraction > 0 else "false"
        wrong = "false" if right == "true" else "true"
        # Moodle's order: {TRUE#feedback for the wrong choice#feedback for the right one}.
        bits = [right.upper()]
        wrong_fb = _formatted(options[wrong].feedback, options[wrong].feedback_format, fmt)
        right_fb = _formatted(options[right].feedback, options[right].feedback_format, fmt)
        if wrong_fb or right_fb:
            bits.append(wrong_fb)
        if right_fb:
            bits.append(right_fb)
        lines.append("#".join(bits))
    elif kind is QuestionType.SHORT_ANSWER:
        for answer in question.answers:
            text = escape(answer.text)
            weight = (
                ""
                if answer.fraction == 1.0 and not text.startswith("%")
                else _weight(answer.fraction)
            )
            lines.append(
                f"={weight}{text}{_feedback(answer.feedback, answer.feedback_format, fmt)}"
            )
    elif kind is QuestionType.MATCHING:
        for pair in question.pairs:
            prompt = _formatted(pair.prompt, pair.prompt_format, fmt) if pair.prompt else ""
            if "->" in pair.prompt:
                raise ExportError(f"question {question.id}: '->' inside a matching prompt")
            lines.append(f"={prompt} -> {escape(pair.answer)}")
    elif kind is QuestionType.NUMERICAL:
        lines.append("#")
        for index, numeric in enumerate(question.numeric):
            feedback = _feedback(numeric.feedback, numeric.feedback_format, fmt)
            last = index == len(question.numeric) - 1
            if numeric.value is None and numeric.fraction == 0.0 and last:
                lines.append(f"~{feedback}")  # the catch-all wrong answer
                continue
            weight = "" if numeric.fraction == 1.0 else _weight(numeric.fraction)
            if numeric.value is None:
                value = "*"  # Moodle's "any answer"
            else:
                value = f"{_number(numeric.value)}:{_number(numeric.tolerance or 0.0)}"
            lines.append(f"={weight}{value}{feedback}")
    elif kind is QuestionType.ESSAY:
        pass
    else:
        raise ExportError(f"question {question.id}: {kind} has no GIFT answer block")
    if question.general_feedback:
        lines.append(
            "####" + _formatted(question.general_feedback, question.general_feedback_format, fmt)
        )
    if kind is QuestionType.NUMERICAL:
        return "{" + lines[0] + "\n".join(lines[1:]) + "}"
    if len(lines) <= 1:
        return "{" + "".join(lines) + "}"
    return "{\n" + "\n".join(lines) + "\n}"


def _bracketed(kind: str, value: str) -> str:
    return "[" + kind + ":" + value.replace("]", "\\]") + "]"


def _comments(question: Question) -> list[str]:
    """Moodle's idnumber and tags, which GIFT carries in a comment line."""
    bits = [_bracketed("id", question.idnumber)] if question.idnumber else []
    tags = list(question.tags)
    # Outcomes written in a quiz block travel to Moodle as tags, so they come back on import.
    named = set(outcomes_from_tags(tags))
    tags += [OUTCOME_TAG_PREFIX + name for name in question.outcomes if name not in named]
    bits += [_bracketed("tag", tag) for tag in tags]
    return [f"// {' '.join(bits)}"] if bits else []


def _title(question: Question) -> str:
    return escape(question.title or question.id)


def question_to_gift(question: Question) -> str:
    """One question as GIFT (several questions for a gap-fill with several gaps)."""
    if question.type is QuestionType.GAP_FILL:
        return "\n\n".join(question_to_gift(q) for q in gap_fill_as_short_answers(question))
    head = "\n".join(_comments(question))
    prefix = f"{head}\n" if head else ""
    block = "" if question.type is QuestionType.DESCRIPTION else _answer_block(question)
    # The format is always written: GIFT's default is Moodle's auto-format, ours Markdown.
    fmt = f"[{question.text_format}]"
    if question.text_parts and block:
        before, after = question.text_parts[0], BLANK.join(question.text_parts[1:])
        return f"{prefix}::{_title(question)}:: {fmt}{escape(before)}{block}{escape(after)}"
    text = escape(question.text)
    space = " " if text and block else ""
    return f"{prefix}::{_title(question)}:: {fmt}{text}{space}{block}"


def gap_fill_as_short_answers(question: Question) -> list[Question]:
    """A gap-fill question as missing-word short-answer questions, one per gap."""
    parts = question.text_parts
    result = []
    for index, gap in enumerate(question.gaps):
        before = "".join(
            parts[i] + (question.gaps[i].answers[0] if i < index else "") for i in range(index + 1)
        )
        after = "".join(
            (question.gaps[i - 1].answers[0] if i - 1 > index else "") + parts[i]
            for i in range(index + 1, len(parts))
        )
        suffix = f"-g{index + 1}" if len(question.gaps) > 1 else ""
        result.append(
            replace(
                question,
                id=question.id + suffix,
                title=(question.title or question.id) + suffix,
                type=QuestionType.SHORT_ANSWER,
                text=before + BLANK + after,
                text_parts=(before, after),
                gaps=(),
                answers=tuple(
                    AcceptedAnswer(id=option_id(i), text=text) for i, text in enumerate(gap.answers)
                ),
                general_feedback=question.general_feedback
                if index == len(question.gaps) - 1
                else "",
            )
        )
    return result


def to_gift(questions: Iterable[Question], category: str | None = None, header: str = "") -> str:
    """Questions as one GIFT file: optional comment header and `$CATEGORY`, then each question."""
    blocks: list[str] = []
    if header:
        blocks.append("\n".join(f"// {line}".rstrip() for line in header.splitlines()))
    if category:
        blocks.append(f"$CATEGORY: {category}")
    blocks += [question_to_gift(q) for q in questions if q.type is not QuestionType.ESSAY]
    return "\n\n".join(blocks) + "\n"


def module_to_gift(course: Course, module: Module) -> str:
    """A module's questions as a GIFT file, filed under course/module in Moodle."""
    return to_gift(
        module.questions,
        category=f"$course$/top/{course.id}/{module.id}",
        header=f"{course.text(course.title, module.language)}: {module.title} "
        f"({module.language})\nExported from Omnichannel Academy ({module.path})",
    )
