"""GIFT quiz syntax, parsed the way Moodle's importer parses it.

Written from the behaviour summary in shared/design/gift-spec.md (which cites
Moodle's question/format/gift/format.php); no Moodle code is used. The guiding
rule: a GIFT file Moodle imports must import here with the same questions, and
a question Moodle rejects is rejected here with a message a trainer can act on.
Where Moodle's PHP has quirks (a lone `0` line separates questions, a
non-numeric numerical answer becomes "any answer"), they are reproduced on
purpose, because files written for Moodle rely on them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from app.content.errors import ContentError
from app.content.questions import (
    BLANK,
    AcceptedAnswer,
    MatchPair,
    NumericAnswer,
    Option,
    Question,
    QuestionType,
    Syntax,
    TextFormat,
    assign_ids,
    derived_id,
    option_id,
    outcomes_from_tags,
    slugify,
)

# PHP's trim() strips exactly these; Python's str.strip() would also eat
# non-breaking and other Unicode spaces that Moodle keeps.
_PHP_WS = " \t\n\r\0\x0b"

# Escaped characters are swapped for private-use code points while the text is
# cut into pieces, so that `\{` or `\=` never act as syntax; they turn back into
# the plain character only when a finished piece of text is extracted.
_PROTECTED_BACKSLASH = "\ue000"
_ESCAPES = {
    ":": "\ue001",
    "#": "\ue002",
    "=": "\ue003",
    "{": "\ue004",
    "}": "\ue005",
    "~": "\ue006",
    "n": "\ue007",
}
_UNESCAPE = {placeholder: char for char, placeholder in _ESCAPES.items()}
_UNESCAPE[_ESCAPES["n"]] = "\n"
_UNESCAPE_TABLE = str.maketrans(_UNESCAPE)
_REESCAPE_TABLE = str.maketrans({p: "\\" + c for c, p in _ESCAPES.items()})

_FORMAT_PREFIX_RE = re.compile(r"\[(moodle|html|plain|markdown)\]")
_WEIGHT_RE = re.compile(r"%(-*[0-9]{1,2}\.?[0-9]*)%")
_PHP_NUMBER = r"[ \t\n\r\v\f]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_PHP_NUMERIC_RE = re.compile(_PHP_NUMBER + r"[ \t\n\r\v\f]*")
_PHP_LEADING_NUMERIC_RE = re.compile(_PHP_NUMBER)
_HTML_TAG_RE = re.compile(r"<[^>]*>")
# [:cntrl:] excluded as in Moodle, so an id or tag never spans lines.
_ID_RE = re.compile(r"\[id:((?:\\\]|[^\]\x00-\x1f\x7f])+)\]")
_TAG_RE = re.compile(r"\[tag:((?:\\\]|[^\]<>`\x00-\x1f\x7f])+)\]")

_TRUE_FALSE_WORDS = ("T", "TRUE", "F", "FALSE")
_CATEGORY_PREFIX = "$CATEGORY:"


@dataclass(frozen=True)
class GiftCategory:
    """A `$CATEGORY:` block: Moodle files questions under it; here it is only recorded."""

    path: str
    line: int


class _Rejected(Exception):
    """One GIFT question Moodle would not import; the message is for the trainer."""


def _php_trim(text: str) -> str:
    return text.strip(_PHP_WS)


def _php_empty(text: str) -> bool:
    # PHP's empty() is also true for "0"; Moodle's answer splitting depends on it.
    return text in ("", "0")


def _escape(text: str) -> str:
    text = text.replace("\\\\", _PROTECTED_BACKSLASH)
    for char, placeholder in _ESCAPES.items():
        text = text.replace("\\" + char, placeholder)
    return text.replace(_PROTECTED_BACKSLASH, "\\")


def _unescape(text: str) -> str:
    return text.translate(_UNESCAPE_TABLE)


def _with_format(text: str, default: TextFormat) -> tuple[str, TextFormat]:
    """Split a leading `[format]` off a piece of text; resolve escapes and trim it."""
    match = _FORMAT_PREFIX_RE.match(text)
    fmt = default
    if match:
        fmt = TextFormat(match.group(1))
        text = text[match.end() :]
    return _php_trim(_unescape(text)), fmt


def _with_feedback(answer: str, default: TextFormat) -> tuple[str, TextFormat, str, TextFormat]:
    """Split `answer # feedback` at the first `#`; both halves may carry a `[format]`."""
    text, _, feedback = answer.partition("#")
    text_value, text_format = _with_format(_php_trim(text), default)
    feedback_value, feedback_format = _with_format(_php_trim(feedback), default)
    return text_value, text_format, feedback_value, feedback_format


def _weight(answer: str) -> tuple[float, str] | None:
    """Read a leading `%n%` weight as a fraction, or None when there is none."""
    match = _WEIGHT_RE.match(answer)
    if not match:
        return None
    raw = match.group(1)
    if not _PHP_NUMERIC_RE.fullmatch(raw):
        # Moodle divides the raw text by 100: PHP 8 throws on "--5" and the import dies.
        raise _Rejected(
            f"the answer weight %{raw}% is not a number (Moodle's import crashes on it); "
            "write weights like %50% or %-100%"
        )
    fraction = float(raw) / 100
    if not -1 <= fraction <= 1:
        # Moodle rejects such a question later (the grade is not in its list).
        raise _Rejected(
            f"the answer weight %{raw}% is outside -100%..100%; Moodle rejects it "
            "(grades do not match grade options)"
        )
    return fraction, answer[match.end() :]


def _split_answers(answer_text: str, separator: str) -> list[str]:
    """Split on `separator`, dropping an empty (or PHP-empty "0") leading piece like Moodle."""
    pieces = answer_text.split(separator)
    pieces[0] = _php_trim(pieces[0])
    if _php_empty(pieces[0]):
        pieces.pop(0)
    return pieces


def _not_enough(kind: str, minimum: int) -> _Rejected:
    return _Rejected(
        f"this GIFT {kind} question needs at least {minimum} "
        f'{"answers" if minimum > 1 else "answer"}; Moodle rejects it with "There is an '
        'error in the question. There are not enough answers for this question type"'
    )


def _php_number(text: str) -> float:
    """Number value of a string in PHP 8 arithmetic (leading digits count, else TypeError)."""
    match = _PHP_LEADING_NUMERIC_RE.match(text)
    if not match:
        raise _Rejected(
            f"the numerical range bound '{text}' is not a number; Moodle's import crashes "
            "on it (PHP TypeError). Write ranges like {#1..5}"
        )
    return float(match.group(0))


def _finite(value: float, original: str) -> float:
    if not math.isfinite(value):
        raise _Rejected(f"the number '{original}' is too large to be used as an answer")
    return value


def _numeric_answer(text: str) -> tuple[float | None, float]:
    """Value and tolerance of one numerical answer: `min..max`, `value:tolerance` or `value`."""
    # The separators only count after position 0, as in Moodle (so "..5" is no range).
    if text.find("..") > 0:
        marker = text.find("..")
        high, low = _php_trim(text[marker + 2 :]), _php_trim(text[:marker])
        high_value, low_value = _php_number(high), _php_number(low)
        value = (high_value + low_value) / 2
        return _finite(value, text), _finite(high_value - value, text)
    if text.find(":") > 0:
        marker = text.find(":")
        tolerance_text, value_text = _php_trim(text[marker + 1 :]), _php_trim(text[:marker])
    else:
        tolerance_text, value_text = "0", _php_trim(text)
    if not _PHP_NUMERIC_RE.fullmatch(tolerance_text):
        raise _Rejected(
            f"the tolerance '{tolerance_text}' of the numerical answer '{text}' is not a number; "
            "Moodle rejects the question. Write value:tolerance, e.g. {#3.14:0.01}"
        )
    tolerance = _finite(float(tolerance_text), tolerance_text)
    # Moodle quirk kept on purpose: a non-numeric answer silently means "any response".
    if not _PHP_NUMERIC_RE.fullmatch(value_text):
        return None, tolerance
    return _finite(float(value_text), value_text), tolerance


def _cut(text: str, start: int, length: int) -> tuple[str, str]:
    """The text before and after removing `length` chars at `start`, with PHP's rules.

    PHP's substr_replace treats a negative length as "stop that many characters
    from the end"; Moodle hits that when a `}` comes before the `{`.
    """
    if length < 0:
        length = max(len(text) - start + length, 0)
    return text[:start], text[start + length :]


def _php_substr(text: str, start: int, length: int) -> str:
    if start > len(text):
        return ""
    end = start + length if length >= 0 else len(text) + length
    return text[start:end] if end > start else ""


def _clean_title(raw: str) -> str | None:
    title = _php_trim(_HTML_TAG_RE.sub("", _unescape(raw)))
    return title or None


def extract_idnumber_and_tags(comment: str) -> tuple[str, tuple[str, ...]]:
    """Moodle's `[id:...]` (first one) and `[tag:...]` (all) found in `//` comment text."""
    idnumber = ""
    match = _ID_RE.search(comment)
    if match:
        idnumber = _php_trim(match.group(1)).replace("\\]", "]")
    tags = tuple(_php_trim(raw).replace("\\]", "]") for raw in _TAG_RE.findall(comment))
    return idnumber, tags


def _split_lines(text: str) -> list[str]:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\n" not in text and "\r" in text:
        # Old Mac files end lines with a bare CR; Moodle splits those on CR.
        return text.split("\r")
    return text.split("\n")


def _blocks(text: str, first_line: int) -> list[list[tuple[int, str]]]:
    """Trimmed lines grouped into question blocks, each line with its file line number."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for index, raw in enumerate(_split_lines(text)):
        line = _php_trim(raw)
        # PHP empty(): a line holding only "0" separates questions just like a blank one.
        if _php_empty(line):
            if current:
                blocks.append(current)
                current = []
        else:
            current.append((first_line + index, line))
    if current:
        blocks.append(current)
    return blocks


def _read_block(block: list[tuple[int, str]]) -> Question | GiftCategory | None:
    """One block to a question, a category or None (comments only); may raise _Rejected."""
    comments: list[str] = []
    body: list[str] = []
    line = block[0][0]
    question_line: int | None = None
    for number, text in block:
        if text.startswith("//"):
            comments.append(text)
            body.append(" ")  # Moodle keeps a blank-ish line where the comment was.
        else:
            body.append(text)
            if question_line is None:
                question_line = number
    line = question_line or line
    text = _php_trim("\n".join(body))
    if not text:
        return None
    text = _escape(text)
    if text.startswith(_CATEGORY_PREFIX):
        path = _php_trim(text[len(_CATEGORY_PREFIX) :]).translate(_REESCAPE_TABLE)
        return GiftCategory(path=path, line=line)

    title: str | None = None
    if text.startswith("::"):
        text = text[2:]
        end = text.find("::")
        if end >= 0:
            title = _clean_title(text[:end])
            text = _php_trim(text[end + 2 :])

    start, finish = text.find("{"), text.find("}")
    answer_text = ""
    parts: tuple[str, str] | None = None
    if start < 0 and finish < 0:
        raw_text = text
    elif start < 0 or finish < 0:
        brace = "{" if start >= 0 else "}"
        raise _Rejected(
            f"this GIFT question has a '{brace}' without its partner; Moodle rejects it with "
            '"Could not find {...} around answers". Write \\{ or \\} for a literal brace, '
            "and remember that a blank line always ends a question, even inside {...}"
        )
    else:
        length = finish - start
        answer_text = _php_trim(_php_substr(text, start + 1, length - 1))
        before, after = _cut(text, start, length + 1)
        if text.endswith("}"):
            raw_text = before + after
        else:
            # Text after the block: Moodle's "missing word" form, blank in place.
            raw_text = before + BLANK + after
            parts = (before, after)

    general_raw: str | None = None
    if start >= 0:
        separator = answer_text.rfind("####")
        if separator >= 0:
            general_raw = _php_trim(answer_text[separator + 4 :])
            answer_text = _php_trim(answer_text[:separator])

    question_text, fmt = _with_format(raw_text, TextFormat.MOODLE)
    text_parts: tuple[str, ...] = ()
    if parts is not None:
        before, after = parts
        prefix = _FORMAT_PREFIX_RE.match(raw_text)
        if prefix:
            before = before[prefix.end() :]
        text_parts = (
            _unescape(before).lstrip(_PHP_WS),
            _unescape(after).rstrip(_PHP_WS),
        )
    general, general_format = (
        _with_format(general_raw, fmt) if general_raw is not None else ("", fmt)
    )
    idnumber, tags = extract_idnumber_and_tags("\n".join(comments))
    title_slug = slugify(title) if title else ""
    common: dict[str, Any] = {
        "id": title_slug or derived_id(question_text),
        "text": question_text,
        "line": line,
        "syntax": Syntax.GIFT,
        "text_format": fmt,
        "text_parts": text_parts,
        "general_feedback": general,
        "general_feedback_format": general_format,
        "title": title,
        "idnumber": idnumber,
        "tags": tags,
        "outcomes": outcomes_from_tags(tags),
        "explicit_id": bool(title_slug),
    }

    if start < 0:
        return Question(type=QuestionType.DESCRIPTION, **common)
    if answer_text == "":
        return Question(type=QuestionType.ESSAY, **common)
    if answer_text.startswith("#"):
        return Question(type=QuestionType.NUMERICAL, numeric=_numerical(answer_text, fmt), **common)
    if "~" in answer_text:
        single = "=" in answer_text
        return Question(
            type=QuestionType.SINGLE_CHOICE if single else QuestionType.MULTIPLE_CHOICE,
            options=_multichoice(answer_text, fmt),
            **common,
        )
    if "=" in answer_text and "->" in answer_text:
        return Question(type=QuestionType.MATCHING, pairs=_matching(answer_text, fmt), **common)
    keyword = answer_text
    if answer_text.find("#") > 0:
        keyword = _php_trim(answer_text[: answer_text.find("#")])
    if keyword in _TRUE_FALSE_WORDS:
        return Question(
            type=QuestionType.TRUE_FALSE, options=_true_false(answer_text, fmt), **common
        )
    return Question(
        type=QuestionType.SHORT_ANSWER, answers=_short_answer(answer_text, fmt), **common
    )


def _multichoice(answer_text: str, fmt: TextFormat) -> tuple[Option, ...]:
    # Every unescaped "=" starts a new, fully right answer, even inside feedback.
    pieces = _split_answers(answer_text.replace("=", "~="), "~")
    if len(pieces) < 2:
        raise _not_enough("multiple-choice", 2)
    options = []
    for index, piece in enumerate(pieces):
        answer = _php_trim(piece)
        if answer.startswith("="):
            # After "=" a %n% stays in the text and the answer is worth 100%, as in Moodle.
            fraction, answer = 1.0, answer[1:]
        else:
            weighted = _weight(answer)
            fraction, answer = weighted if weighted else (0.0, answer)
        text, text_format, feedback, feedback_format = _with_feedback(answer, fmt)
        options.append(
            Option(
                id=option_id(index),
                text=text,
                fraction=fraction,
                feedback=feedback,
                text_format=text_format,
                feedback_format=feedback_format,
            )
        )
    return tuple(options)


def _matching(answer_text: str, fmt: TextFormat) -> tuple[MatchPair, ...]:
    pieces = _split_answers(answer_text, "=")
    if len(pieces) < 2:
        raise _Rejected(
            "this GIFT matching question needs at least 2 pairs '=question -> answer'; Moodle "
            'rejects it with "There is an error in the question. There are not enough answers '
            'for this question type"'
        )
    pairs = []
    for index, piece in enumerate(pieces):
        item = _php_trim(piece)
        marker = item.find("->")
        if marker < 0:
            raise _Rejected(
                f"the matching item '{_unescape(item)}' has no '->'; every '=' item must read "
                "'=question -> answer'. Moodle rejects it with \"Matching question answers "
                'are improperly formatted"'
            )
        prompt, prompt_format = _with_format(item[:marker], fmt)
        answer = _php_trim(_unescape(item[marker + 2 :]))
        pairs.append(
            MatchPair(
                id=option_id(index), prompt=prompt, answer=answer, prompt_format=prompt_format
            )
        )
    return tuple(pairs)


def _true_false(answer_text: str, fmt: TextFormat) -> tuple[Option, ...]:
    # {TRUE#a#b}: a is shown for the wrong choice, b for the right one (Moodle's order).
    bits = answer_text.split("#", 2)
    keyword, _ = _with_format(_php_trim(bits[0]), fmt)
    wrong = _with_format(_php_trim(bits[1]), fmt) if len(bits) > 1 else ("", fmt)
    right = _with_format(_php_trim(bits[2]), fmt) if len(bits) > 2 else ("", fmt)
    is_true = keyword in ("T", "TRUE")
    true_feedback, false_feedback = (right, wrong) if is_true else (wrong, right)
    return (
        Option(
            id="true",
            text="True",
            fraction=1.0 if is_true else 0.0,
            feedback=true_feedback[0],
            text_format=fmt,
            feedback_format=true_feedback[1],
        ),
        Option(
            id="false",
            text="False",
            fraction=0.0 if is_true else 1.0,
            feedback=false_feedback[0],
            text_format=fmt,
            feedback_format=false_feedback[1],
        ),
    )


def _short_answer(answer_text: str, fmt: TextFormat) -> tuple[AcceptedAnswer, ...]:
    pieces = _split_answers(answer_text, "=")
    if not pieces:
        raise _Rejected(
            "this GIFT short-answer question has no answer (Moodle reads a lone 0 as none; "
            'write {=0}); Moodle rejects it with "There are not enough answers for this '
            'question type"'
        )
    answers = []
    for index, piece in enumerate(pieces):
        answer = _php_trim(piece)
        weighted = _weight(answer)
        fraction, answer = weighted if weighted else (1.0, answer)
        text, _, feedback, feedback_format = _with_feedback(answer, fmt)
        answers.append(
            AcceptedAnswer(
                id=option_id(index),
                text=text,
                fraction=fraction,
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    return tuple(answers)


def _numerical(answer_text: str, fmt: TextFormat) -> tuple[NumericAnswer, ...]:
    body = answer_text[1:]
    # Everything from the first "~" only provides the catch-all wrong answer's feedback.
    tilde = body.find("~")
    wrong = body[tilde:] if tilde >= 0 else ""
    body = body[:tilde] if tilde >= 0 else body
    pieces = _split_answers(body, "=")
    if not pieces:
        raise _Rejected(
            "this GIFT numerical question has no answer: write e.g. {#3:0.5} or {#1..5} "
            '(a lone 0 counts as none in Moodle: write {#=0}). Moodle rejects it with "No '
            'answers found for numerical question"'
        )
    answers = []
    for index, piece in enumerate(pieces):
        answer = _php_trim(piece)
        weighted = _weight(answer)
        fraction, answer = weighted if weighted else (1.0, answer)
        text, _, feedback, feedback_format = _with_feedback(answer, fmt)
        value, tolerance = _numeric_answer(text)
        answers.append(
            NumericAnswer(
                id=option_id(index),
                value=value,
                tolerance=tolerance,
                fraction=fraction,
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    if wrong:
        _, _, feedback, feedback_format = _with_feedback(wrong, fmt)
        answers.append(
            NumericAnswer(
                id=option_id(len(answers)),
                value=None,
                tolerance=None,
                fraction=0.0,
                feedback=feedback,
                feedback_format=feedback_format,
            )
        )
    return tuple(answers)


def read_gift_partial(
    text: str, first_line: int = 1
) -> tuple[list[Question | GiftCategory], list[tuple[int, str]]]:
    """Parse GIFT text, returning what parsed and the problems of what did not.

    A rejected question is reported at its first non-comment line; the other
    questions still come back, so a caller can check them too. Ids are not
    de-duplicated here.
    """
    items: list[Question | GiftCategory] = []
    problems: list[tuple[int, str]] = []
    for block in _blocks(text, first_line):
        try:
            item = _read_block(block)
        except _Rejected as rejected:
            line = next((n for n, t in block if not t.startswith("//")), block[0][0])
            problems.append((line, str(rejected)))
            continue
        if item is not None:
            items.append(item)
    return items, problems


def read_gift(text: str, first_line: int = 1) -> list[Question | GiftCategory]:
    """Parse GIFT text into questions and categories; one ContentError lists every rejection."""
    items, problems = read_gift_partial(text, first_line)
    if problems:
        raise ContentError(problems)
    return items


def parse_gift_raw(text: str, first_line: int = 1) -> list[Question]:
    """Questions of a GIFT block (categories dropped), derived ids not yet de-duplicated."""
    return [item for item in read_gift(text, first_line) if isinstance(item, Question)]


def parse_gift(text: str, first_line: int = 1) -> list[Question]:
    """Parse GIFT text into questions with unique ids; raise ContentError listing every problem."""
    questions, problems = assign_ids(parse_gift_raw(text, first_line))
    if problems:
        raise ContentError(problems)
    return questions


def decode_gift_bytes(data: bytes, first_line: int = 1) -> str:
    """Decode a GIFT file; like Moodle, reject the whole file unless it is UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = first_line + data[: error.start].count(b"\n")
        raise ContentError.at(
            line,
            f"this GIFT file is not UTF-8 (byte 0x{data[error.start]:02X} cannot be read); "
            'Moodle rejects the whole file: "GIFT format files must use UTF-8". '
            "Save it again with UTF-8 encoding",
        ) from None


def parse_gift_bytes(data: bytes, first_line: int = 1) -> list[Question]:
    """Parse a GIFT file's bytes; a file that is not UTF-8 is rejected as a whole."""
    return parse_gift(decode_gift_bytes(data, first_line), first_line)
