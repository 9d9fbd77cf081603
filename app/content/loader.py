"""Walk content/, read course.yml and module files, and collect EVERY error with path:line.

Nothing here raises on a trainer's mistake: each problem is recorded and the file it belongs to
is left out, so one broken module never takes the rest of the course down.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.content import frontmatter, markdown, media, plugins, quiz_syntax
from app.content.errors import Collector, ContentError, Problem
from app.content.model import (
    Catalogue,
    Course,
    EqfRange,
    Module,
    ModuleEntry,
    Outcome,
)
from app.content.sections import split_sections

logger = logging.getLogger(__name__)

MODULE_FOLDER = re.compile(r"^(\d+)-([a-z0-9][a-z0-9-]*)$")


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


def _check_outcomes(
    outcomes: tuple[Outcome, ...], questions: list[Any], out: Collector
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


def _read_capped(path: Path, out: Collector) -> bytes | None:
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


def load_course(folder: Path) -> Course | None:
    """Load one course folder; problems are kept on the Course (None if course.yml is unusable)."""
    course_file = folder / "course.yml"
    out = Collector(display_path(course_file))
    data_bytes = _read_capped(course_file, out)
    try:
        raw = data_bytes.decode("utf-8") if data_bytes is not None else None
    except UnicodeDecodeError:
        out.add(1, "course.yml is not UTF-8 text: save it as UTF-8")
        raw = None
    if raw is None:
        return Course(folder.name, folder.name, "it", ("it",), {}, {}, EqfRange(3, 5), 70, {},
                      problems=tuple(out.problems))  # fmt: skip
    data = frontmatter.load_yaml(raw, 1, out)
    lines = frontmatter.key_lines(raw, 1) if data is not None else {}
    if data is None:
        return Course(folder.name, folder.name, "it", ("it",), {}, {}, EqfRange(3, 5), 70, {},
                      problems=tuple(out.problems))  # fmt: skip
    course = frontmatter.course_fields(data, lines, folder, out)
    entries = _load_modules(folder, course, out)
    return Course(**{**course.__dict__, "entries": entries, "problems": tuple(out.problems)})


def _load_modules(folder: Path, course: Course, course_out: Collector) -> tuple[ModuleEntry, ...]:
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


def load_module_file(
    path: Path, course: Course, slug: str, language: str, source: bytes | None = None
) -> tuple[Module | None, list[Problem]]:
    """Parse one module file into a Module, collecting every problem with its line.

    :param source: the file's bytes as the studio's editor holds them (default: read `path`).
    """
    out = Collector(display_path(path))
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

    parts = frontmatter.split_front_matter(raw, out)
    if parts is None:
        return None, out.problems
    yaml_text, yaml_line, body, body_line = parts
    meta = frontmatter.load_yaml(yaml_text, yaml_line, out)
    if meta is None:
        return None, out.problems
    lines = frontmatter.key_lines(yaml_text, yaml_line)
    fields = frontmatter.module_fields(meta, lines, course, slug, out)
    fields["outcomes"], learning_outcomes = frontmatter.outcome_ids(
        fields["outcomes"],
        frontmatter.item_lines(yaml_text, yaml_line, "outcomes"),
        lines.get("outcomes", 1),
        out,
    )

    # Each plugin reports its own syntax mistakes into env while the body is parsed; the EQF
    # blocks check their level against the module's range.
    env: dict[str, Any] = {"language": language, "eqf": fields["eqf"]}
    tokens = markdown.MARKDOWN.parse(body, env)
    for line, message in plugins.problems(env):
        out.add(line + body_line, message)
    body_lines = body.split("\n")
    media_dir = path.parent / "media"
    media.rewrite_media(
        tokens, course.id, fields["id"], media_dir, display_path(media_dir), body_line, out,
        max_bytes=MAX_FILE_BYTES,
    )  # fmt: skip
    quiz_lines = [fence_line for _, _, _, fence_line in env["quiz_blocks"]]
    intro_html, sections = split_sections(tokens, body_lines, body_line, env, quiz_lines, out)

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
