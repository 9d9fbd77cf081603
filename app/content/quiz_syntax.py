"""The `quiz` fenced block (Markdown task lists) and the module-level entry point.

A `quiz` block is a numbered list; each item is a question:

    1. Question text {#optional-id outcome=o1,o2}
       continued on indented lines
       - ( ) option            single choice: exactly one (x)
         > feedback for this option
       - (x) right option
       > general feedback (at question level, after the options)
    2. Several right answers?
       - [x] yes               multiple choice: at least one [x]
       - [ ] no
    3. Fill [[the gap|a gap]] like this.

`parse_blocks` parses every `quiz` and `gift` block of a module and reports all
problems at once, as file lines, in one ContentError.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from app.content.errors import ContentError
from app.content.gift import read_gift_partial
from app.content.questions import (
    BLANK,
    OUTCOME_TAG_PREFIX,
    Gap,
    Option,
    Question,
    QuestionType,
    Syntax,
    assign_ids,
    derived_id,
    option_id,
)

# Up to 3 spaces of indent, as in CommonMark: deeper numbered lines belong to the text.
_QUESTION_RE = re.compile(r"( {0,3})([0-9]{1,9})[.)](?:[ \t]+(.*))?")
_OPTION_RE = re.compile(r"( *)[-*+][ \t]+(\([ ]?\)|\([xX]\)|\[[ ]?\]|\[[xX]\])(?:[ \t]+(.*))?")
_FEEDBACK_RE = re.compile(r"( *)>[ \t]?(.*)")
# The attribute block ending a question's first line: `{#id}`, `{outcome=o1,o2}` or both.
_ATTRS_SUFFIX_RE = re.compile(r"[ \t]*\{((?:#|outcomes?[ \t]*=)[^{}]*)\}[ \t]*$")
_OUTCOME_ATTR_RE = re.compile(r"outcomes?[ \t]*=[ \t]*((?:[^\s,]+[ \t]*,[ \t]*)*[^\s,]*)")
_VALID_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_GAP_RE = re.compile(r"\[\[(.*?)\]\]")

ESSAY_MESSAGE = "essay questions are not allowed in a self-assessment (nobody can grade them here)"


@dataclass
class _DraftOption:
    line: int
    indent: int
    single: bool
    checked: bool
    text: list[str]
    feedback: list[str] = field(default_factory=list)


@dataclass
class _Draft:
    number: str
    line: int
    text: list[tuple[int, str]]  # (file line, raw line); the first is the item text
    options: list[_DraftOption] = field(default_factory=list)
    general: list[str] = field(default_factory=list)
    general_line: int | None = None
    # Set once general feedback is seen; later options mean it was misplaced.
    general_before_option: bool = False


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _join(lines: list[str]) -> str:
    return "\n".join(lines).strip()


class _QuizParser:
    """Line-by-line reader of one `quiz` block, collecting every problem it sees."""

    def __init__(self, first_line: int) -> None:
        self.first_line = first_line
        self.drafts: list[_Draft] = []
        self.problems: list[tuple[int, str]] = []
        self.in_stray_run = False

    @property
    def current(self) -> _Draft | None:
        return self.drafts[-1] if self.drafts else None

    def problem(self, line: int, message: str) -> None:
        self.problems.append((line, message))

    def stray(self, line: int, text: str) -> None:
        # One report per run of stray lines: a stray paragraph is one mistake.
        if not self.in_stray_run:
            snippet = text.strip()
            snippet = snippet if len(snippet) <= 40 else snippet[:37] + "..."
            self.problem(
                line,
                f"'{snippet}' is not part of a quiz question: each question is a numbered "
                "item ('1. ...') and its options, feedback and continuation lines are indented "
                "under it",
            )
        self.in_stray_run = True

    def feed(self, index: int, raw: str) -> None:
        line_no = self.first_line + index
        line = raw.expandtabs(4).rstrip()
        if not line.strip():
            self.in_stray_run = False
            return
        question = _QUESTION_RE.fullmatch(line)
        if question:
            self.in_stray_run = False
            self.drafts.append(
                _Draft(
                    number=question.group(2),
                    line=line_no,
                    text=[(line_no, question.group(3) or "")],
                )
            )
            return
        draft = self.current
        feedback = _FEEDBACK_RE.fullmatch(line)
        if draft is None:
            if feedback:
                self.problem(
                    line_no, "feedback '>' with nothing to attach to: no question before it"
                )
            else:
                self.stray(line_no, line)
            return
        option = _OPTION_RE.fullmatch(line)
        if option:
            self.in_stray_run = False
            self.add_option(draft, line_no, option)
        elif feedback:
            self.in_stray_run = False
            self.add_feedback(draft, line_no, len(feedback.group(1)), feedback.group(2))
        else:
            self.add_text(draft, line_no, line)

    def add_option(self, draft: _Draft, line_no: int, match: re.Match[str]) -> None:
        if draft.general and not draft.general_before_option:
            draft.general_before_option = True
            self.problem(
                draft.general_line or line_no,
                f"question {draft.number}: this '>' feedback is not indented under an option, "
                "so it reads as general feedback, but options follow it; indent it under its "
                "option, or move general feedback after the last option",
            )
        marker = match.group(2)
        draft.options.append(
            _DraftOption(
                line=line_no,
                indent=len(match.group(1)),
                single=marker.startswith("("),
                checked=marker[1:2] in ("x", "X"),
                text=[match.group(3) or ""],
            )
        )

    def add_feedback(self, draft: _Draft, line_no: int, indent: int, text: str) -> None:
        last = draft.options[-1] if draft.options else None
        if last is not None and not draft.general and indent > last.indent:
            last.feedback.append(text)
            return
        if not draft.general:
            draft.general_line = line_no
        draft.general.append(text)

    def add_text(self, draft: _Draft, line_no: int, line: str) -> None:
        indent = _indent(line)
        if indent == 0:
            self.stray(line_no, line)
            return
        self.in_stray_run = False
        if draft.general:
            # A lazy continuation of the general feedback paragraph.
            draft.general.append(line.strip())
        elif draft.options:
            last = draft.options[-1]
            if indent <= last.indent:
                self.problem(
                    line_no,
                    f"question {draft.number}: '{line.strip()[:40]}' is not an option; options "
                    "start with '- ( )', '- (x)', '- [ ]' or '- [x]'",
                )
            elif last.feedback:
                last.feedback.append(line.strip())
            else:
                last.text.append(line.strip())
        else:
            draft.text.append((line_no, line))

    def finish(self) -> list[Question]:
        questions = []
        for draft in self.drafts:
            question = self.build(draft)
            if question is not None:
                questions.append(question)
        return questions

    def build(self, draft: _Draft) -> Question | None:
        """Turn a draft into a Question, or record why it can't be one."""
        label = f"question {draft.number}"
        first = draft.text[0][1]
        explicit: str | None = None
        outcomes: tuple[str, ...] = ()
        attrs_match = _ATTRS_SUFFIX_RE.search(first)
        if attrs_match:
            first = first[: attrs_match.start()]
            explicit, outcomes = self.attributes(label, draft.line, attrs_match.group(1))
        rest = textwrap.dedent("\n".join(line for _, line in draft.text[1:]))
        text = "\n".join(part for part in (first.strip(), rest.strip()) if part)
        text_lines = [(draft.line, first), *draft.text[1:]]
        before_count = len(self.problems)
        if not text:
            self.problem(draft.line, f"{label} has no text")
        gaps = self.gaps(label, text_lines)
        has_gap_syntax = any(_GAP_RE.search(line) for _, line in text_lines)
        if draft.options and has_gap_syntax:
            self.problem(
                draft.line,
                f"{label} has both options and gaps [[...]]; a question uses one or the other",
            )
        elif not draft.options and not has_gap_syntax:
            self.problem(
                draft.line,
                f"{label} has no options and no gaps: add options '- ( )'/'- (x)' (one right "
                "answer) or '- [ ]'/'- [x]' (several), or a gap like [[answer|other answer]]",
            )
        options = self.check_options(label, draft) if draft.options else ()
        if len(self.problems) > before_count:
            return None
        common: dict[str, Any] = {
            "id": explicit or derived_id(_GAP_RE.sub(" ", text)),
            "line": draft.line,
            "syntax": Syntax.QUIZ,
            "general_feedback": _join(draft.general),
            "explicit_id": explicit is not None,
            "outcomes": outcomes,
            # The same Moodle tags GIFT uses, so an export to Moodle carries the outcomes.
            "tags": tuple(OUTCOME_TAG_PREFIX + name for name in outcomes),
        }
        if gaps:
            parts = tuple(_GAP_RE.split(text)[::2])
            return Question(
                type=QuestionType.GAP_FILL,
                text=BLANK.join(parts),
                text_parts=parts,
                gaps=tuple(Gap(id=f"g{i + 1}", answers=answers) for i, answers in enumerate(gaps)),
                **common,
            )
        single = draft.options[0].single
        true_false = _as_true_false(options) if single else None
        if true_false:
            return Question(type=QuestionType.TRUE_FALSE, text=text, options=true_false, **common)
        return Question(
            type=QuestionType.SINGLE_CHOICE if single else QuestionType.MULTIPLE_CHOICE,
            text=text,
            options=options,
            **common,
        )

    def attributes(self, label: str, line: int, text: str) -> tuple[str | None, tuple[str, ...]]:
        """Read `#id` and `outcome=a,b` from a question's `{...}` block; report anything else."""
        explicit: str | None = None
        outcomes: list[str] = []
        rest = text
        for match in _OUTCOME_ATTR_RE.finditer(text):
            names = [name.strip() for name in match.group(1).split(",")]
            if not all(names):
                self.problem(
                    line,
                    f"{label}: '{match.group(0).strip()}' names no outcome; write "
                    "outcome=o1 or outcome=o1,o2 with the ids of the module's outcomes",
                )
            outcomes.extend(name for name in names if name and name not in outcomes)
            rest = rest.replace(match.group(0), " ", 1)
        words = rest.split()
        for word in (w for w in words if "=" in w):
            self.problem(
                line,
                f"{label}: '{word}' is not understood in '{{{text.strip()}}}'; the block "
                "takes the question id '#id' and the outcomes it assesses 'outcome=o1,o2'",
            )
        # Everything else is the id, so `{#two words}` is reported as the id it tried to be.
        id_words = [w for w in words if "=" not in w]
        if id_words:
            explicit = " ".join(id_words).removeprefix("#")
            if not id_words[0].startswith("#") or not _VALID_ID_RE.fullmatch(explicit):
                self.problem(
                    line,
                    f"{label}: '{{#{explicit}}}' is not a valid question id; use letters, "
                    "digits, '-' and '_' (starting with a letter or digit)",
                )
                explicit = None
        return explicit, tuple(outcomes)

    def gaps(self, label: str, text_lines: list[tuple[int, str]]) -> list[tuple[str, ...]]:
        found: list[tuple[str, ...]] = []
        for line_no, line in text_lines:
            for match in _GAP_RE.finditer(line):
                answers = tuple(answer.strip() for answer in match.group(1).split("|"))
                if not any(answers):
                    self.problem(line_no, f"{label}: empty gap {match.group(0)}; write [[answer]]")
                elif not all(answers):
                    self.problem(
                        line_no,
                        f"{label}: gap {match.group(0)} has an empty alternative; "
                        "separate accepted answers with '|', e.g. [[color|colour]]",
                    )
                else:
                    found.append(answers)
        return found

    def check_options(self, label: str, draft: _Draft) -> tuple[Option, ...]:
        """Validate a choice question's options and give them their fractions."""
        options = draft.options
        single = options[0].single
        for option in options[1:]:
            if option.single != single:
                self.problem(
                    option.line,
                    f"{label} mixes ( ) and [ ] options; use ( )/(x) for one right answer "
                    "or [ ]/[x] for several",
                )
                return ()
        for option in options:
            if not _join(option.text):
                self.problem(option.line, f"{label}: an option has no text")
        if len(options) < 2:
            self.problem(draft.line, f"{label} has only one option; a choice needs at least two")
        checked = [option for option in options if option.checked]
        if single and not checked:
            self.problem(draft.line, f"{label} has no correct option: mark exactly one with (x)")
        elif single and len(checked) > 1:
            self.problem(
                checked[1].line,
                f"{label} has {len(checked)} options marked (x), but a single-choice question "
                "has exactly one; use [ ]/[x] options for several right answers",
            )
        elif not single and not checked:
            self.problem(draft.line, f"{label} has no correct option: mark at least one with [x]")
        wrong = len(options) - len(checked)
        fractions = {True: 1.0, False: 0.0}
        if not single and checked:
            # Right options share +1 and wrong ones share -1, so ticking everything scores 0.
            fractions = {True: 1 / len(checked), False: -1 / wrong if wrong else 0.0}
        return tuple(
            Option(
                id=option_id(index),
                text=_join(option.text),
                fraction=fractions[option.checked],
                feedback=_join(option.feedback),
            )
            for index, option in enumerate(options)
        )


def _parse_quiz_raw(text: str, first_line: int) -> tuple[list[Question], list[tuple[int, str]]]:
    parser = _QuizParser(first_line)
    for index, raw in enumerate(text.split("\n")):
        parser.feed(index, raw)
    questions = parser.finish()
    return questions, parser.problems


def parse_quiz(text: str, first_line: int = 1) -> list[Question]:
    """Parse one `quiz` block; raise one ContentError listing every problem (at file lines)."""
    questions, problems = _parse_quiz_raw(text, first_line)
    questions, id_problems = assign_ids(questions)
    if problems or id_problems:
        raise ContentError(problems + id_problems)
    return questions


def parse_blocks(blocks: Sequence[tuple[str, str, int]]) -> list[Question]:
    """Parse a module's `(kind, text, first_line)` quiz/gift blocks into its quiz questions.

    Derived ids are made unique across the module, duplicate explicit ids and essay
    questions are reported, and every problem of every block is raised in one
    ContentError.
    """
    questions: list[Question] = []
    problems: list[tuple[int, str]] = []
    for kind, text, first_line in blocks:
        if kind == "quiz":
            found, block_problems = _parse_quiz_raw(text, first_line)
            questions.extend(found)
            problems.extend(block_problems)
        elif kind == "gift":
            items, block_problems = read_gift_partial(text, first_line)
            questions.extend(item for item in items if isinstance(item, Question))
            problems.extend(block_problems)
        else:
            raise ValueError(f"unknown quiz block kind {kind!r} (expected 'quiz' or 'gift')")
    problems.extend((q.line, ESSAY_MESSAGE) for q in questions if q.type is QuestionType.ESSAY)
    questions, id_problems = assign_ids(questions)
    problems.extend(id_problems)
    if problems:
        raise ContentError(problems)
    return questions


# Words a trainer writes for the two options of a true/false question, per language.
_TRUE_WORDS = {"true", "vero", "t", "v"}
_FALSE_WORDS = {"false", "falso", "f"}


def _as_true_false(options: Sequence[Option]) -> tuple[Option, ...] | None:
    """Two single-choice options reading True/False (or Vero/Falso) make a true/false question.

    The options keep the trainer's wording but take GIFT's ids, "true" and "false", so both
    syntaxes grade and report true/false questions the same way.
    """
    if len(options) != 2:
        return None
    words = [option.text.strip().strip(".!").lower() for option in options]
    kinds = ["true" if w in _TRUE_WORDS else "false" if w in _FALSE_WORDS else "" for w in words]
    if sorted(kinds) != ["false", "true"]:
        return None
    # The trainer's order and wording stay; only the ids change.
    return tuple(replace(option, id=kind) for option, kind in zip(options, kinds, strict=True))
