"""Walk content/, read course.yml and module files, and collect EVERY error with path:line.

Nothing here raises on a trainer's mistake: each problem is recorded and the file it belongs to
is left out, so one broken module never takes the rest of the course down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml
from markdown_it.token import Token

from app.content import quiz_syntax
from app.content.errors import ContentError, Problem
from app.content.markdown import (
    _EQF_INFO,
    CALLOUT_KINDS,
    MARKDOWN,
    VALID_ID,
    sanitise,
)
from app.content.model import (
    Catalogue,
    Course,
    EqfRange,
    Module,
    ModuleEntry,
    Outcome,
    QuizSettings,
    Section,
)

logger = logging.getLogger(__name__)

MODULE_FOLDER = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)$")
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
# Only pictures are served from media/: no HTML or script can ride along with a module.
MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
}
_MEDIA_NAME = re.compile(r"^media/[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")


# The content root being loaded: every path a trainer sees is relative to it, so error pages
# never show where the site lives on disk.
_CONTENT_ROOT: ContextVar[Path | None] = ContextVar("content_root", default=None)


def display_path(path: Path) -> str:
    """Show a path relative to the content root being loaded (else to the working directory)."""
    root = _CONTENT_ROOT.get()
    if root is not None:
        try:
            return path.absolute().relative_to(root).as_posix()
        except ValueError:
            pass
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


class _Collector:
    """Problems for one file, with a helper to add them at a line."""

    def __init__(self, path: Path) -> None:
        self.path = display_path(path)
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))


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


def _key_lines(yaml_text: str, first_line: int) -> dict[str, int]:
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


def _item_lines(yaml_text: str, first_line: int, key: str) -> list[int]:
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


def _outcomes(
    texts: tuple[str, ...], item_lines: list[int], key_line: int, out: _Collector
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


def _check_outcomes(
    outcomes: tuple[Outcome, ...], questions: list[Any], out: _Collector
) -> list[Problem]:
    """Errors for questions naming an unknown outcome; warnings for outcomes never assessed.

    An unassessed outcome is only a warning: a course is mapped to its outcomes over time, and
    hiding every module until then would take the course away from its learners.
    """
    known = {o.id for o in outcomes}
    listed = ", ".join(sorted(known)) or "none"
    for question in questions:
        for name in question.outcomes:
            if name not in known:
                out.add(
                    question.line,
                    f"question '{question.id}' names outcome '{name}', which this module does "
                    f"not have (its outcomes: {listed})",
                )
    assessed = {name for q in questions for name in q.outcomes}
    return [
        Problem(
            out.path,
            outcome.line,
            f"outcome '{outcome.id}' is assessed by no question: name it in a question "
            f"('// [tag:outcome:{outcome.id}]' in GIFT, '{{outcome={outcome.id}}}' in a quiz "
            "block)",
        )
        for outcome in outcomes
        if outcome.id not in assessed
    ]


# A content file larger than this is refused unread: the longest module of the course is ~35 KB.
MAX_FILE_BYTES = 1_000_000


def _read_capped(path: Path, out: _Collector) -> bytes | None:
    """A content file's bytes, or None (reported) when it is unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            out.add(
                1,
                f"the file is {size // 1000} KB; content files may be at most "
                f"{MAX_FILE_BYTES // 1000} KB: split the module or move pictures to media/",
            )
            return None
        return path.read_bytes()
    except OSError as exc:
        out.add(1, f"cannot read the file: {exc.strerror}")
        return None


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


def _load_yaml(text: str, first_line: int, out: _Collector) -> dict[str, Any] | None:
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
    data: dict[str, Any], key: str, languages: Iterable[str], lines: dict[str, int], out: _Collector
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


def load_course(folder: Path) -> Course | None:
    """Load one course folder; problems are kept on the Course (None if course.yml is unusable)."""
    course_file = folder / "course.yml"
    out = _Collector(course_file)
    data_bytes = _read_capped(course_file, out)
    try:
        raw = data_bytes.decode("utf-8") if data_bytes is not None else None
    except UnicodeDecodeError:
        out.add(1, "course.yml is not UTF-8 text: save it as UTF-8")
        raw = None
    if raw is None:
        return Course(folder.name, folder.name, "it", ("it",), {}, {}, EqfRange(3, 5), 70, {},
                      problems=tuple(out.problems))  # fmt: skip
    data = _load_yaml(raw, 1, out)
    lines = _key_lines(raw, 1) if data is not None else {}
    if data is None:
        return Course(folder.name, folder.name, "it", ("it",), {}, {}, EqfRange(3, 5), 70, {},
                      problems=tuple(out.problems))  # fmt: skip
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
    entries = _load_modules(folder, course, out)
    return Course(**{**course.__dict__, "entries": entries, "problems": tuple(out.problems)})


def _load_modules(folder: Path, course: Course, course_out: _Collector) -> tuple[ModuleEntry, ...]:
    """Load every module folder of a course, in the order their numbers give."""
    found: list[tuple[int, str, Path]] = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or not child.is_dir():
            continue
        match = MODULE_FOLDER.match(child.name)
        if not match:
            course_out.add(
                1, f"folder '{child.name}' is not a module: name it NN-module-id, e.g. 01-basics"
            )
            continue
        found.append((int(match.group(1)), match.group(2), child))
    found.sort(key=lambda item: (item[0], item[1]))

    entries: list[ModuleEntry] = []
    seen: dict[str, str] = {}
    for position, (_, slug, module_folder) in enumerate(found, start=1):
        entry = _load_module(module_folder, slug, position, course)
        if entry.id in seen:
            problem = Problem(
                display_path(module_folder),
                1,
                f"module id '{entry.id}' is already used by folder '{seen[entry.id]}'",
            )
            entry = ModuleEntry(entry.id, entry.folder, position, {}, (*entry.problems, problem))
        else:
            seen[entry.id] = module_folder.name
        entries.append(entry)
    return tuple(entries)


def _load_module(folder: Path, slug: str, position: int, course: Course) -> ModuleEntry:
    """Load every language file of one module; translations take the default file's ids.

    An error in the default-language file (or a missing one) hides the module. An error in a
    translation hides that translation only: its learners get the default-language module.
    """
    problems: list[Problem] = []
    translation_problems: list[Problem] = []
    default = course.default_language
    files: dict[str, Path] = {}
    for file in sorted(folder.glob("*.md")):
        if file.stem in course.languages:
            files[file.stem] = file
            continue
        problems.append(
            Problem(
                display_path(file),
                1,
                f"'{file.name}' is not a course language "
                f"(course.yml lists: {', '.join(course.languages)})",
            )
        )

    reference: Module | None = None
    default_file = folder / f"{default}.md"
    if default in files:
        reference, file_problems = load_module_file(default_file, course, slug, default)
        problems.extend(file_problems)
        if file_problems:
            reference = None
    else:
        problems.append(
            Problem(
                display_path(default_file),
                1,
                f"missing: every module needs a {default}.md, the course's default language",
            )
        )
    module_id = reference.id if reference else slug
    versions: dict[str, Module] = {default: reference} if reference else {}
    for language, file in files.items():
        if language == default:
            continue
        # A translation without an `id` in its front matter takes the default file's id.
        module, file_problems = load_module_file(file, course, module_id, language)
        if module is not None and reference is not None and not file_problems:
            module, file_problems = align_translation(module, reference)
        translation_problems.extend(file_problems)
        if module is not None and not file_problems:
            versions[language] = module
    return ModuleEntry(
        module_id, folder.name, position, versions, tuple(problems), tuple(translation_problems)
    )


def align_translation(module: Module, reference: Module) -> tuple[Module, list[Problem]]:
    """Give a translation the default file's ids by position; report where the two disagree.

    Progress is keyed by module, section and question ids, so a learner who switches language
    must find the same ones. Ids the translation writes explicitly must match; the others are
    taken from the default-language file. A different number of sections or questions, or a
    question of another type at the same position, is an error of the translation.
    """
    default_name = Path(reference.path).name
    hidden = f"until it is fixed, learners of this language get {default_name}"
    problems: list[Problem] = []
    if module.id != reference.id:
        problems.append(
            Problem(
                module.path,
                1,
                f"module id '{module.id}' differs from {default_name}'s '{reference.id}': "
                f"remove the id or make it the same ({hidden})",
            )
        )
    outcomes = list(module.learning_outcomes)
    renamed: dict[str, str] = {}  # this file's outcome ids -> the default file's
    if len(outcomes) != len(reference.learning_outcomes):
        problems.append(
            Problem(
                module.path,
                outcomes[0].line if outcomes else 1,
                f"{len(outcomes)} outcome(s) here, {len(reference.learning_outcomes)} in "
                f"{default_name}: a translation has the same outcomes in the same order "
                f"({hidden})",
            )
        )
    else:
        for n, (mine, theirs) in enumerate(zip(outcomes, reference.learning_outcomes, strict=True)):
            # An outcome without `{#id}` is named by its position (o1, o2 ...).
            if mine.id != f"o{n + 1}" and mine.id != theirs.id:
                problems.append(
                    Problem(
                        module.path,
                        mine.line,
                        f"outcome {n + 1} has id '{{#{mine.id}}}' but {default_name} calls it "
                        f"'{theirs.id}': remove the id or make it the same ({hidden})",
                    )
                )
            renamed[mine.id] = theirs.id
            outcomes[n] = replace(mine, id=theirs.id)
    sections = list(module.sections)
    if len(sections) != len(reference.sections):
        problems.append(
            Problem(
                module.path,
                sections[0].line if sections else 1,
                f"{len(sections)} section(s) here, {len(reference.sections)} in {default_name}: "
                f"a translation has the same '##' sections in the same order ({hidden})",
            )
        )
    else:
        for n, (section, ref) in enumerate(zip(sections, reference.sections, strict=True)):
            if section.explicit_id and section.id != ref.id:
                problems.append(
                    Problem(
                        module.path,
                        section.line,
                        f"section {n + 1} has id '{{#{section.id}}}' but {default_name} calls it "
                        f"'{ref.id}': remove the id or make it the same ({hidden})",
                    )
                )
            sections[n] = replace(section, id=ref.id, explicit_id=ref.explicit_id)
    questions = list(module.questions)
    if len(questions) != len(reference.questions):
        problems.append(
            Problem(
                module.path,
                questions[0].line if questions else 1,
                f"{len(questions)} quiz question(s) here, {len(reference.questions)} in "
                f"{default_name}: a translation has the same questions in the same order "
                f"({hidden})",
            )
        )
    else:
        for n, (mine, theirs) in enumerate(zip(questions, reference.questions, strict=True)):
            if mine.type is not theirs.type:
                problems.append(
                    Problem(
                        module.path,
                        mine.line,
                        f"question {n + 1} is {_kind(mine)} here but {_kind(theirs)} in "
                        f"{default_name}: a translation asks the same kind of question ({hidden})",
                    )
                )
            elif mine.explicit_id and mine.id != theirs.id:
                problems.append(
                    Problem(
                        module.path,
                        mine.line,
                        f"question {n + 1} has id '{mine.id}' but {default_name} calls it "
                        f"'{theirs.id}': remove the id or make it the same ({hidden})",
                    )
                )
            else:
                assessed = tuple(renamed.get(name, name) for name in mine.outcomes)
                if assessed and set(assessed) != set(theirs.outcomes):
                    problems.append(
                        Problem(
                            module.path,
                            mine.line,
                            f"question {n + 1} assesses {', '.join(assessed)} here but "
                            f"{', '.join(theirs.outcomes) or 'no outcome'} in {default_name}: "
                            f"leave the outcomes out or name the same ones ({hidden})",
                        )
                    )
            questions[n] = replace(
                mine, id=theirs.id, explicit_id=theirs.explicit_id, outcomes=theirs.outcomes
            )
    if problems:
        return module, problems
    # Which outcomes go unassessed is the default file's business: its warnings say it once.
    aligned = replace(
        module,
        sections=tuple(sections),
        questions=tuple(questions),
        learning_outcomes=tuple(outcomes),
        warnings=(),
    )
    return aligned, []


def _kind(question: Any) -> str:
    """A question's type in words, for messages: "single choice"."""
    return str(question.type.value).replace("_", " ")


def _split_front_matter(raw: str, out: _Collector) -> tuple[str, int, str, int] | None:
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


def load_module_file(
    path: Path, course: Course, slug: str, language: str, source: bytes | None = None
) -> tuple[Module | None, list[Problem]]:
    """Parse one module file into a Module, collecting every problem with its line.

    :param source: the file's bytes as the studio's editor holds them (default: read `path`).
    """
    out = _Collector(path)
    data_bytes = _read_capped(path, out) if source is None else source
    if data_bytes is None:
        return None, out.problems
    try:
        raw = data_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data_bytes[: exc.start].count(b"\n") + 1
        out.add(line, "the file is not UTF-8 text: save it as UTF-8")
        return None, out.problems
    raw = raw.replace("\r\n", "\n").removeprefix("\ufeff")

    parts = _split_front_matter(raw, out)
    if parts is None:
        return None, out.problems
    yaml_text, yaml_line, body, body_line = parts
    meta = _load_yaml(yaml_text, yaml_line, out)
    if meta is None:
        return None, out.problems
    lines = _key_lines(yaml_text, yaml_line)
    fields = _module_fields(meta, lines, course, slug, out)
    fields["outcomes"], learning_outcomes = _outcomes(
        fields["outcomes"],
        _item_lines(yaml_text, yaml_line, "outcomes"),
        lines.get("outcomes", 1),
        out,
    )

    env: dict[str, Any] = {"language": language}
    tokens = MARKDOWN.parse(body, env)
    body_lines = body.split("\n")
    media_dir = path.parent / "media"
    _check_tokens(tokens, body_lines, body_line, fields["eqf"], out)
    _rewrite_media(tokens, course.id, fields["id"], media_dir, body_line, out)
    quiz_lines = [fence_line for _, _, _, fence_line in env["quiz_blocks"]]
    intro_html, sections = _sections(tokens, body_lines, body_line, env, quiz_lines, out)

    blocks = tuple((kind, text, first + body_line) for kind, text, first, _ in env["quiz_blocks"])
    questions: list[Any] = []
    if blocks:
        try:
            questions = quiz_syntax.parse_blocks(blocks)
        except ContentError as exc:
            out.problems.extend(exc.in_file(out.path))
    warnings = _check_outcomes(learning_outcomes, questions, out)

    if out.problems:
        return None, out.problems
    module = Module(
        id=fields["id"],
        course_id=course.id,
        language=language,
        folder=path.parent.name,
        path=out.path,
        title=fields["title"],
        eqf=fields["eqf"],
        duration=fields["duration"],
        description=fields["description"],
        keywords=fields["keywords"],
        outcomes=fields["outcomes"],
        bibliography=fields["bibliography"],
        intro_html=intro_html,
        sections=tuple(sections),
        quiz=fields["quiz"],
        questions=tuple(questions),
        quiz_blocks=blocks,
        media_dir=media_dir if media_dir.is_dir() else None,
        content_hash=hashlib.sha256(data_bytes).hexdigest(),
        learning_outcomes=learning_outcomes,
        warnings=tuple(warnings),
    )
    return module, out.problems


def _module_fields(
    meta: dict[str, Any], lines: dict[str, int], course: Course, slug: str, out: _Collector
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


def _check_tokens(
    tokens: list[Token], body_lines: list[str], offset: int, eqf: EqfRange, out: _Collector
) -> None:
    """Report structural mistakes: h1 headings, bad blocks, unclosed blocks, bad EQF levels."""
    for token in tokens:
        line = token.map[0] + offset if token.map else offset
        if token.type == "heading_open" and token.tag == "h1":
            out.add(line, "use '##' for sections: the module title comes from front matter")
        elif token.type.startswith("container_") and token.type.endswith("_open"):
            # The block's map ends just before its closing fence; an unclosed one runs to the end.
            closing = token.map[1] if token.map else len(body_lines)
            if closing >= len(body_lines) or not body_lines[closing].strip().startswith(":::"):
                out.add(line, f"'::: {token.info.strip()}' is never closed: add a line ':::'")
            if token.type == "container_eqf_open":
                match = _EQF_INFO.match(token.info.strip())
                level = int(match.group(1)) if match and match.group(1).isdigit() else None
                if level not in (3, 4, 5):
                    out.add(line, "an EQF block needs a level from 3 to 5, e.g. '::: eqf 5'")
                elif level not in eqf:
                    out.add(line, f"'::: eqf {level}' is outside this module's EQF range ({eqf})")
        elif token.type == "inline" and token.content.lstrip().startswith(":::"):
            name = token.content.strip().splitlines()[0].lstrip(":").strip().split(" ")[0]
            if name:
                kinds = ", ".join(CALLOUT_KINDS)
                out.add(line, f"unknown block '::: {name}' (use {kinds}, or eqf 3-5)")
            else:
                out.add(line, "':::' closes nothing: no block is open here")


def _rewrite_media(
    tokens: list[Token],
    course_id: str,
    module_id: str,
    media_dir: Path,
    offset: int,
    out: _Collector,
) -> None:
    """Point relative images at the media route, after checking the file exists."""
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        line = token.map[0] + offset if token.map else offset
        for child in token.children:
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            if re.match(r"^[a-z][a-z0-9+.-]*:", src, re.I) or src.startswith("/"):
                continue
            if not _MEDIA_NAME.match(src) or ".." in src.split("/"):
                out.add(line, f"image '{src}' must be a file in the module's media/ folder")
                continue
            if Path(src).suffix.lower() not in MEDIA_TYPES:
                kinds = ", ".join(sorted(MEDIA_TYPES))
                out.add(line, f"image '{src}' must be a picture ({kinds})")
                continue
            if not (media_dir.parent / src).is_file():
                out.add(line, f"image '{src}' not found in {display_path(media_dir)}")
                continue
            if src.lower().endswith(".svg"):
                refusal = _svg_problem(media_dir.parent / src)
                if refusal:
                    out.add(line, f"image '{src}': {refusal}")
                    continue
            child.attrSet("src", f"/media/{course_id}/{module_id}/{src.removeprefix('media/')}")


_SVG_DECLARATION = re.compile(rb"<!(?:ENTITY|DOCTYPE[^>\[]*\[)", re.IGNORECASE)


def _svg_problem(path: Path) -> str | None:
    """Why an SVG picture is refused, or None: too large, or declaring XML entities.

    Entities expand when the picture is parsed: a few lines can grow into megabytes of text
    and keep a PDF render busy for minutes. Drawings never need them.
    """
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return f"the picture is {size // 1000} KB; at most {MAX_FILE_BYTES // 1000} KB"
        data = path.read_bytes()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if _SVG_DECLARATION.search(data):
        return (
            "the SVG declares XML entities (<!DOCTYPE ... [ <!ENTITY ...> ]>), which are not "
            "allowed: export the drawing again without a DOCTYPE"
        )
    return None


def _sections(
    tokens: list[Token],
    body_lines: list[str],
    offset: int,
    env: dict[str, Any],
    quiz_lines: list[int],
    out: _Collector,
) -> tuple[str, list[Section]]:
    """Split the token stream at each `##` heading: the intro, then one Section per heading."""
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    render = MARKDOWN.renderer.render
    intro_end = starts[0] if starts else len(tokens)
    intro_html = sanitise(render(tokens[:intro_end], MARKDOWN.options, env))
    sections: list[Section] = []
    seen: dict[str, int] = {}
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(tokens)
        heading = tokens[start]
        title = tokens[start + 1].content.strip()
        line = heading.map[0] + offset if heading.map else offset
        section_id = str(heading.attrGet("id") or "")
        explicit = heading.meta.get("explicit_id")
        if not title:
            out.add(line, "a section heading needs a title")
        if explicit is not None and not VALID_ID.match(explicit):
            out.add(
                line,
                f"section id '{explicit}' must be lowercase letters, digits, '-' or '_'",
            )
        if section_id in seen:
            out.add(line, f"section id '{section_id}' is already used at line {seen[section_id]}")
        seen.setdefault(section_id, line)
        body_tokens = tokens[start + 3 : end]
        levels = sorted(
            {
                int(m.group(1))
                for t in body_tokens
                if t.type == "container_eqf_open"
                and (m := _EQF_INFO.match(t.info.strip()))
                and m.group(1).isdigit()
            }
        )
        end_map = tokens[end].map if end < len(tokens) else None
        last_line = end_map[0] if end_map else len(body_lines)
        first_line = heading.map[0] + 1 if heading.map else 0
        sections.append(
            Section(
                id=section_id,
                title=title,
                html=sanitise(render(body_tokens, MARKDOWN.options, env)),
                line=line,
                text="\n".join(body_lines[first_line:last_line]).strip(),
                eqf_levels=tuple(levels),
                has_quiz=any(first_line <= q < last_line for q in quiz_lines),
                explicit_id=explicit is not None,
            )
        )
    return intro_html, sections


def load_catalogue(root: Path) -> Catalogue:
    """Load every course under the content root; a missing root is an empty catalogue.

    Paths in problems and on modules are relative to `root` (e.g. `demo/01-m1/en.md`).
    """
    root = Path(root)
    token = _CONTENT_ROOT.set(root.absolute())
    try:
        return _load_catalogue(root)
    finally:
        _CONTENT_ROOT.reset(token)


def _load_catalogue(root: Path) -> Catalogue:
    courses: dict[str, Course] = {}
    problems: list[Problem] = []
    warnings: list[Problem] = []
    if not root.is_dir():
        return Catalogue({}, (Problem(".", 1, "content folder not found"),))
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir():
            continue
        if not (folder / "course.yml").is_file():
            problems.append(
                Problem(display_path(folder), 1, "a course folder needs a course.yml file")
            )
            continue
        try:
            course = load_course(folder)
        except Exception as exc:  # noqa: BLE001 - one course must never take the others down
            logger.exception("course folder %s could not be loaded", folder)
            problems.append(
                Problem(
                    display_path(folder / "course.yml"),
                    1,
                    f"this course could not be loaded ({type(exc).__name__}); the other "
                    "courses are served: check its files, or report the error to the developers",
                )
            )
            continue
        if course is None:
            continue
        if course.id in courses:
            problems.append(
                Problem(
                    display_path(folder / "course.yml"),
                    1,
                    f"course id '{course.id}' is already used by "
                    f"folder '{courses[course.id].folder}'",
                )
            )
            continue
        courses[course.id] = course
        problems.extend(course.problems)
        for entry in course.entries:
            problems.extend(entry.all_problems)
            warnings.extend(entry.warnings)
    return Catalogue(courses, tuple(sorted(set(problems))), tuple(sorted(set(warnings))))
