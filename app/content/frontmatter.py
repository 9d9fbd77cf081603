"""The YAML a trainer writes, read and checked key by key: a module's front matter and course.yml.

Every problem is reported at the line of the key (or list item) to fix, in plain words; a
value that cannot be used is replaced by a default so the checks after it still run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from app.content.errors import Collector
from app.content.ids import VALID_ID
from app.content.model import Course, EqfRange, Outcome, QuizSettings

LANGUAGE_CODE = re.compile(r"^[a-z]{2}$")
MODULE_KEYS = {
    "id",
    "title",
    "eqf",
    "duration",
    "description",
    "keywords",
    "outcomes",
    "bibliography",
    "quiz",
}
COURSE_KEYS = {
    "id",
    "default_language",
    "languages",
    "title",
    "description",
    "eqf",
    "pass_mark",
    "lexicon",
    "trainers",
}


# libyaml parses the same YAML many times faster than PyYAML's Python parser, and the studio's
# preview reads a module's front matter on every keystroke. Its error texts differ, so a file that
# fails is read again by PyYAML's parser, whose marks and wording `_yaml_error` knows.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _safe_load(text: str) -> Any:
    """`yaml.safe_load` by libyaml when installed; errors come from PyYAML's own parser."""
    try:
        return yaml.load(text, Loader=_FAST_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def key_lines(yaml_text: str, first_line: int) -> dict[str, int]:
    """Map each top-level key of a YAML mapping to its file line, for error messages."""
    try:
        node = yaml.compose(yaml_text, Loader=_FAST_LOADER)
    except (yaml.YAMLError, RecursionError):
        return {}
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        key.value: key.start_mark.line + first_line
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def item_lines(yaml_text: str, first_line: int, key: str) -> list[int]:
    """File line of each item of the top-level list `key`, for errors about one item."""
    try:
        node = yaml.compose(yaml_text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return []
    if not isinstance(node, yaml.MappingNode):
        return []
    for key_node, value in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            if isinstance(value, yaml.SequenceNode):
                return [item.start_mark.line + first_line for item in value.value]
    return []


_OUTCOME_ID_SUFFIX = re.compile(r"[ \t]*\{#([^{}]*)\}[ \t]*$")


def outcome_ids(
    texts: tuple[str, ...], item_lines: list[int], key_line: int, out: Collector
) -> tuple[tuple[str, ...], tuple[Outcome, ...]]:
    """Give each outcome its id: `{#id}` at the end of its text, or its position (o1, o2, ...)."""
    plain: list[str] = []
    outcomes: list[Outcome] = []
    seen: dict[str, int] = {}
    for index, text in enumerate(texts):
        line = item_lines[index] if index < len(item_lines) else key_line
        outcome_id = f"o{index + 1}"
        match = _OUTCOME_ID_SUFFIX.search(text)
        if match:
            explicit = match.group(1).strip()
            text = text[: match.start()].strip()
            if VALID_ID.match(explicit):
                outcome_id = explicit
            else:
                out.add(
                    line,
                    f"outcome id '{explicit}' must be lowercase letters, digits, '-' or '_'",
                )
        if outcome_id in seen:
            out.add(line, f"outcome id '{outcome_id}' is already used at line {seen[outcome_id]}")
        seen.setdefault(outcome_id, line)
        plain.append(text)
        outcomes.append(Outcome(outcome_id, text, line))
    return tuple(plain), tuple(outcomes)


def _yaml_reference(text: str) -> tuple[int, str] | None:
    """The first YAML anchor (`&name`) or alias (`*name`) in `text`: (0-based line, kind).

    Aliases can expand a few hundred bytes into gigabytes ("billion laughs"); content needs
    neither, so they are refused before anything is built. Scanning is linear in the text.
    """
    # A text libyaml cannot scan is scanned again by PyYAML, whose parser then reads it.
    loaders: list[type[yaml.SafeLoader]] = [_FAST_LOADER]
    if _FAST_LOADER is not yaml.SafeLoader:
        loaders.append(yaml.SafeLoader)
    for loader in loaders:
        try:
            for token in yaml.scan(text, Loader=loader):
                if isinstance(token, yaml.AnchorToken):
                    return token.start_mark.line, "anchor"
                if isinstance(token, yaml.AliasToken):
                    return token.start_mark.line, "alias"
        except yaml.YAMLError:
            continue
        return None
    return None  # the parser reports the syntax error, in words, below


def _yaml_error(exc: yaml.YAMLError) -> tuple[int, str]:
    """The 0-based line a trainer must fix, and what is wrong there, in plain words.

    PyYAML often notices a mistake on the line after it (a key without its colon is found
    when the next line starts); its context mark is then the line at fault.
    """
    problem = str(getattr(exc, "problem", "") or "")
    context = str(getattr(exc, "context", "") or "")
    problem_mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    at = problem_mark.line if problem_mark else 0
    before = context_mark.line if context_mark else at
    if "could not find expected ':'" in problem:
        return before, "this line needs a colon after its key, e.g. 'duration: 20'"
    if "quoted scalar" in context:
        return before, "a quote opened on this line is never closed: add the closing quote"
    if "flow sequence" in context:
        return before, "a list opened with '[' on this line is not closed with ']'"
    if "flow mapping" in context:
        return before, "a mapping opened with '{' on this line is not closed with '}'"
    if "'\\t'" in problem or "\t" in problem:
        return at, "this line is indented with a tab: YAML needs spaces"
    if "mapping values are not allowed" in problem:
        return at, (
            "a text with ': ' in it must be in quotes, e.g. title: \"Omnichannel: basics\" "
            "(or this line is indented more than it should be)"
        )
    if "expected <block end>" in problem or "block mapping" in context:
        return at, "this line is not indented like the lines above it: line them up"
    return at, f"this line cannot be read as YAML ({problem or exc})"


# Deepest `[`/`{` nesting accepted in YAML: PyYAML's scanner slows down with the square of it
# (10,000 levels take 20 s), and content needs two or three.
MAX_YAML_NESTING = 32


def _too_deep(text: str) -> int | None:
    """The 0-based line where `[`/`{` nesting passes MAX_YAML_NESTING, or None (one pass)."""
    depth, line, quote = 0, 0, ""
    for char in text:
        if char == "\n":
            line += 1
            if quote == "'":  # a plain single-quoted scalar rarely spans lines; stay safe
                quote = ""
        elif quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            if depth > MAX_YAML_NESTING:
                return line
        elif char in "]}":
            depth = max(0, depth - 1)
    return None


def load_yaml(text: str, first_line: int, out: Collector) -> dict[str, Any] | None:
    """Parse YAML text that starts at `first_line` of the file; report a syntax error there."""
    deep = _too_deep(text)
    if deep is not None:
        out.add(
            first_line + deep,
            f"invalid YAML: lists or mappings are nested more than {MAX_YAML_NESTING} deep",
        )
        return None
    reference = _yaml_reference(text)
    if reference is not None:
        line, kind = reference
        out.add(
            first_line + line,
            f"YAML {kind}s ('&name' and '*name') are not allowed in content files: "
            "write the value out in full",
        )
        return None
    try:
        data = _safe_load(text)
    except yaml.YAMLError as exc:
        line, reason = _yaml_error(exc)
        out.add(first_line + line, f"invalid YAML: {reason}")
        return None
    except RecursionError:
        out.add(first_line, "invalid YAML: lists or mappings are nested too deeply")
        return None
    if data is None:
        return {}
    if not isinstance(data, dict):
        out.add(first_line, "expected a YAML mapping of keys to values")
        return None
    return data


def parse_eqf(value: object) -> EqfRange | None:
    """Read an EQF level (4) or range ("3-5") within 3..5; None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        low = high = value
    elif isinstance(value, str) and re.fullmatch(r"\s*\d\s*(-\s*\d\s*)?", value):
        parts = [int(p) for p in value.split("-")]
        low, high = parts[0], parts[-1]
    else:
        return None
    if not (3 <= low <= high <= 5):
        return None
    return EqfRange(low, high)


def _percentage(value: object) -> int | None:
    """A whole percentage from 0 to 100, or None."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        return None
    return value


def _text(value: object) -> str | None:
    """A non-empty string, stripped, or None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def _text_list(value: object) -> tuple[str, ...] | None:
    """A list of non-empty strings, or None when anything in it is not one."""
    if not isinstance(value, list):
        return None
    texts = [text for text in map(_text, value) if text is not None]
    return tuple(texts) if len(texts) == len(value) else None


def _per_language(
    data: dict[str, Any], key: str, languages: Iterable[str], lines: dict[str, int], out: Collector
) -> dict[str, str]:
    """Read a `{it: ..., en: ...}` text, reporting each missing translation."""
    value = data.get(key)
    line = lines.get(key, 1)
    if isinstance(value, str) and value.strip():
        return dict.fromkeys(languages, value.strip())
    if not isinstance(value, dict):
        out.add(line, f"'{key}' must give a text per language, e.g. {{it: ..., en: ...}}")
        return {}
    texts = {lang: str(text).strip() for lang, text in value.items() if _text(text)}
    for lang in languages:
        if lang not in texts:
            out.add(line, f"'{key}' has no '{lang}' translation")
    return texts


def split_front_matter(raw: str, out: Collector) -> tuple[str, int, str, int] | None:
    """Return (yaml, yaml's first line, body, body's first line) or report the problem."""
    lines = raw.split("\n")
    if not lines or lines[0].strip() != "---":
        out.add(1, "the file must start with front matter: a line '---', YAML keys, then '---'")
        return None
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "\n".join(lines[1:index]), 2, "\n".join(lines[index + 1 :]), index + 2
    out.add(1, "front matter is not closed: add a line '---' after the YAML keys")
    return None


def module_fields(
    meta: dict[str, Any], lines: dict[str, int], course: Course, slug: str, out: Collector
) -> dict[str, Any]:
    """Validate front matter keys; report each problem at its key's line."""

    def line(key: str) -> int:
        return lines.get(key, 1)

    for key in sorted(set(meta) - MODULE_KEYS):
        known = ", ".join(sorted(MODULE_KEYS))
        out.add(line(key), f"unknown front matter key '{key}' (known: {known})")

    fields: dict[str, Any] = {}
    module_id = meta.get("id", slug)
    if not isinstance(module_id, str) or not VALID_ID.match(module_id):
        out.add(line("id"), "id must be lowercase letters, digits and hyphens")
        module_id = slug
    fields["id"] = module_id

    for key in ("title", "description"):
        fields[key] = _text(meta.get(key)) or ""
        if not fields[key]:
            out.add(line(key), f"'{key}' is required and must be a non-empty text")

    eqf = parse_eqf(meta.get("eqf"))
    if eqf is None:
        out.add(line("eqf"), "'eqf' is required: a level (4) or a range (3-5) within 3..5")
        eqf = course.eqf
    fields["eqf"] = eqf

    duration = meta.get("duration")
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 600:
        out.add(line("duration"), "'duration' is required: whole minutes from 1 to 600")
        duration = 0
    fields["duration"] = duration

    for key, required in (("keywords", True), ("outcomes", True), ("bibliography", False)):
        value = meta.get(key)
        if value is None and not required:
            fields[key] = ()
            continue
        items = _text_list(value)
        if not items:
            out.add(line(key), f"'{key}' must be a list of non-empty texts")
            items = ()
        fields[key] = items

    quiz = meta.get("quiz") or {}
    pass_mark, shuffle = course.pass_mark, False
    if not isinstance(quiz, dict):
        out.add(line("quiz"), "'quiz' must be a mapping with pass_mark and/or shuffle")
    else:
        for key in sorted(set(quiz) - {"pass_mark", "shuffle"}):
            out.add(line("quiz"), f"unknown quiz setting '{key}' (known: pass_mark, shuffle)")
        checked = _percentage(quiz.get("pass_mark", pass_mark))
        if checked is None:
            out.add(line("quiz"), "quiz pass_mark must be a whole percentage from 0 to 100")
        pass_mark = course.pass_mark if checked is None else checked
        shuffle = quiz.get("shuffle", False)
        if not isinstance(shuffle, bool):
            out.add(line("quiz"), "quiz shuffle must be true or false")
            shuffle = False
    fields["quiz"] = QuizSettings(pass_mark=pass_mark, shuffle=shuffle)
    return fields


def course_fields(
    data: dict[str, Any], lines: dict[str, int], folder: Path, out: Collector
) -> Course:
    """Check course.yml's keys; report each problem at its key's line (no modules yet)."""
    for key in sorted(set(data) - COURSE_KEYS):
        out.add(lines.get(key, 1), f"unknown key '{key}' (known: {', '.join(sorted(COURSE_KEYS))})")

    course_id = data.get("id", folder.name)
    if not isinstance(course_id, str) or not VALID_ID.match(course_id):
        out.add(lines.get("id", 1), "course id must be lowercase letters, digits and hyphens")
        course_id = folder.name

    languages = data.get("languages", ["it"])
    if (
        not isinstance(languages, list)
        or not languages
        or not all(isinstance(lang, str) and LANGUAGE_CODE.match(lang) for lang in languages)
    ):
        out.add(lines.get("languages", 1), "'languages' must be a list of two-letter codes")
        languages = ["it"]
    default_language = data.get("default_language", languages[0])
    if default_language not in languages:
        out.add(
            lines.get("default_language", 1),
            f"default_language '{default_language}' is not one of the course languages",
        )
        default_language = languages[0]

    eqf = parse_eqf(data.get("eqf", "3-5"))
    if eqf is None:
        out.add(lines.get("eqf", 1), "eqf must be a level (4) or a range (3-5) within 3..5")
        eqf = EqfRange(3, 5)
    pass_mark = _percentage(data.get("pass_mark", 70))
    if pass_mark is None:
        out.add(lines.get("pass_mark", 1), "pass_mark must be a whole percentage from 0 to 100")
        pass_mark = 70

    lexicon_raw = data.get("lexicon", {}) or {}
    lexicon: dict[str, dict[str, str]] = {}
    if not isinstance(lexicon_raw, dict) or not all(
        isinstance(v, dict) for v in lexicon_raw.values()
    ):
        out.add(lines.get("lexicon", 1), "lexicon must map a language to {word: pronunciation}")
    else:
        lexicon = {
            str(lang): {str(k): str(v) for k, v in words.items()}
            for lang, words in lexicon_raw.items()
        }

    trainers_raw = data.get("trainers", []) or []
    if not isinstance(trainers_raw, list) or not all(
        isinstance(t, str) and "@" in t for t in trainers_raw
    ):
        out.add(lines.get("trainers", 1), "trainers must be a list of e-mail addresses")
        trainers_raw = []

    course = Course(
        id=course_id,
        folder=folder.name,
        default_language=default_language,
        languages=tuple(languages),
        title=_per_language(data, "title", languages, lines, out),
        description=_per_language(data, "description", languages, lines, out),
        eqf=eqf,
        pass_mark=pass_mark,
        lexicon=lexicon,
        trainers=tuple(t.strip().lower() for t in trainers_raw),
    )
    return course
