"""The studio's work on modules as a whole: new module, new translation, images, rename, reorder.

Module ids are what learners' progress, attempts, audio and PDFs are keyed by, so nothing here
changes one: a renamed folder gets its old id written into its front matter, a moved one keeps
its slug. Every path is checked by app.studio.files before the disk is touched.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from app.content.loader import MODULE_FOLDER
from app.content.model import Course, Module, ModuleEntry
from app.studio.files import (
    STUDIO_DIR,
    PathRefused,
    digest,
    read_bytes,
    safe_path,
    write_atomic,
)
from app.studio.revisions import RevisionError, revisions_for
from app.studio.services import (
    ModuleFile,
    StudioError,
    _file_lock,
    check_text,
    read_draft,
    save_draft,
)

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
TEMPLATES = Path(__file__).with_name("module_templates")
MAX_IMAGE = 2 * 1024 * 1024  # bytes in one uploaded picture
MAX_SVG = 1_000_000  # the loader's limit for an SVG a module may use
SVG_NS = "http://www.w3.org/2000/svg"


def may_edit(course: Course, email: str, is_admin: bool) -> bool:
    """Whether a trainer edits this course: admins always; else the course's trainers, if listed."""
    return is_admin or not course.trainers or email.strip().lower() in course.trainers


def _course_dir(root: Path, course: Course) -> Path:
    return safe_path(root, course.folder)


def _entry(course: Course, module_id: str) -> ModuleEntry:
    entry = next((e for e in course.entries if e.id == module_id), None)
    if entry is None:
        raise StudioError("no such module in this course")
    return entry


def _check_slug(slug: str) -> str:
    slug = (slug or "").strip()
    if not SLUG.match(slug):
        raise PathRefused(
            "a module id is 1 to 60 lowercase letters, digits and hyphens, starting with a letter "
            "or digit"
        )
    return slug


# --- a new module from the template --------------------------------------------------------


def template_text(language: str, title: str, slug: str, eqf: str) -> str:
    """The template module in a language (English when there is no template in it)."""
    path = TEMPLATES / f"{language}.md"
    if not path.is_file():
        path = TEMPLATES / "en.md"
    text = path.read_text(encoding="utf-8")
    # JSON strings are YAML strings: any title is quoted safely.
    return (
        text.replace("@@TITLE@@", json.dumps(title.strip(), ensure_ascii=False))
        .replace("@@EQF@@", eqf)
        .replace("@@SLUG@@", slug)
    )


def new_module(root: Path, course: Course, slug: str, title: str, name: str, email: str) -> str:
    """Create `NN-slug/<default language>.md` from the template, after the last module.

    :returns: the new file's path relative to the content root.
    """
    slug = _check_slug(slug)
    title = " ".join((title or "").split())
    if not title or len(title) > 200:
        raise StudioError("give the module a title (at most 200 characters)")
    if any(e.id == slug or e.folder.split("-", 1)[-1] == slug for e in course.entries):
        raise StudioError("a module with this id already exists in the course")
    course_dir = _course_dir(root, course)
    with _file_lock(root):
        numbers = [
            int(m.group(1))
            for child in course_dir.iterdir()
            if child.is_dir() and (m := MODULE_FOLDER.match(child.name))
        ]
        number = max(numbers, default=0) + 1
        folder = f"{number:02d}-{slug}"
        relative = f"{course.folder}/{folder}/{course.default_language}.md"
        path = safe_path(root, relative)
        if path.parent.exists():
            raise StudioError("a folder with this name already exists")
        text = template_text(course.default_language, title, slug, str(course.eqf))
        target = ModuleFile(relative, course.id, folder, course.default_language)
        checked = check_text(root, course, target, text)
        if checked.problems:  # the template is ours: a problem here is a bug, say so plainly
            raise StudioError(f"the template does not pass the checker: {checked.problems[0]}")
        data = text.encode("utf-8")
        write_atomic(path, data)
        try:
            revisions_for(root).record(relative, data, name, email, f"New module {folder}")
        except RevisionError as exc:
            raise StudioError(f"created, but the revision could not be recorded: {exc}") from exc
    return relative


# --- a new translation, with the default file's ids ----------------------------------------


def _with_id(line: str, kind: str, wanted: str) -> str:
    """A heading or quiz question line with `{#id}` added (sharing braces if it has some)."""
    brace = re.search(r"\{([^{}]*)\}\s*$", line)
    if brace and kind == "quiz" and "#" not in brace.group(1):
        inner = brace.group(1).strip()
        return f"{line[: brace.start()]}{{#{wanted} {inner}}}"
    return f"{line.rstrip()} {{#{wanted}}}"


def translation_text(source: str, reference: Module) -> str:
    """The default-language file with every section, outcome and question id written out.

    The trainer translates the words; the ids stay as they are in the default language, so
    learners who switch language keep their progress.
    """
    lines = source.replace("\r\n", "\n").split("\n")

    def fix(number: int, kind: str, wanted: str) -> None:
        index = number - 1
        if 0 <= index < len(lines) and "{#" not in lines[index]:
            lines[index] = _with_id(lines[index], kind, wanted)

    for section in reference.sections:
        if not section.explicit_id and lines[section.line - 1].lstrip().startswith("#"):
            fix(section.line, "heading", section.id)
    for outcome in reference.learning_outcomes:
        fix(outcome.line, "outcome", outcome.id)
    for question in reference.questions:
        if question.explicit_id:
            continue
        index = question.line - 1
        if question.syntax == "quiz" and re.match(r"^\s*\d+\.\s", lines[index]):
            fix(question.line, "quiz", question.id)
        elif question.syntax == "gift" and not lines[index].lstrip().startswith("::"):
            indent = len(lines[index]) - len(lines[index].lstrip())
            lines[index] = f"{lines[index][:indent]}::{question.id}:: {lines[index][indent:]}"
    return "\n".join(lines)


def start_translation(
    root: Path, course: Course, module_id: str, language: str, author: str
) -> str:
    """Start a module's translation as a draft copied from the default-language file.

    Learners never see it until it is translated and published.

    :returns: the translation's path relative to the content root.
    """
    entry = _entry(course, module_id)
    if language not in course.languages or language == course.default_language:
        raise StudioError("not a translation language of this course")
    relative = f"{course.folder}/{entry.folder}/{language}.md"
    path = safe_path(root, relative)
    if path.exists():
        raise StudioError("this translation already exists")
    if read_draft(root, relative) is not None:
        return relative  # someone started it already: open that draft
    reference = entry.versions.get(course.default_language)
    if reference is None:
        raise StudioError("fix the errors of the default-language file first")
    default_relative = f"{course.folder}/{entry.folder}/{course.default_language}.md"
    source = read_bytes(safe_path(root, default_relative)).decode("utf-8", "replace")
    text = translation_text(source, reference)
    target = ModuleFile(relative, course.id, entry.folder, language)
    if check_text(root, course, target, text).problems:
        text = source  # the ids are positional then: a plain copy keeps them as well
    save_draft(root, relative, text, digest(b""), author)
    return relative


# --- images ----------------------------------------------------------------------------------


class ImageRefused(StudioError):
    """An upload that is not a picture we serve, or is unsafe."""


def sniff_image(data: bytes) -> str:
    """The picture's extension from its first bytes (never from its name), or ImageRefused."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return ".png"
    if data.startswith(b"\xff\xd8\xff"):
        return ".jpg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return ".gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in data[:4096].lower():
        return ".svg"
    raise ImageRefused("not a PNG, JPEG, GIF, WebP or SVG picture")


_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:|//)", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?!#)|@import", re.IGNORECASE)
_FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"}


def check_svg(data: bytes) -> None:
    """Refuse an SVG with a DOCTYPE or entities, script, event handlers or external references.

    The PDF renderer and browsers must draw it without fetching anything or running code.
    """
    if len(data) > MAX_SVG:
        raise ImageRefused(f"an SVG picture may be at most {MAX_SVG // 1000} KB")
    if re.search(rb"<!(?:DOCTYPE|ENTITY)", data, re.IGNORECASE):
        raise ImageRefused("the SVG declares a DOCTYPE or XML entities: export it without them")
    try:
        root = ElementTree.fromstring(data)  # no DOCTYPE, so no entity can expand
    except ElementTree.ParseError as exc:
        raise ImageRefused(f"the SVG is not well-formed XML ({exc})") from exc
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ImageRefused("the file is not an SVG drawing (its root is not <svg>)")
    for element in root.iter():
        tag = str(element.tag).rsplit("}", 1)[-1].lower()
        if tag in _FORBIDDEN_TAGS:
            raise ImageRefused(f"the SVG contains <{tag}>, which is not allowed")
        if tag == "style" and _CSS_URL.search(element.text or ""):
            raise ImageRefused("the SVG's style loads something from outside the picture")
        for key, value in element.attrib.items():
            name = key.rsplit("}", 1)[-1].lower()
            if name.startswith("on"):
                raise ImageRefused(f"the SVG has an event handler ({name}), which is not allowed")
            if name in ("href", "src") and not (
                value.startswith("#") or value.startswith("data:image/")
            ):
                raise ImageRefused("the SVG refers to a file or address outside the picture")
            if name == "style" and _CSS_URL.search(value):
                raise ImageRefused("the SVG's style loads something from outside the picture")
            if (
                _EXTERNAL.match(value)
                and name not in ("xmlns",)
                and not value.startswith(("data:image/", "http://www.w3.org/"))
            ):
                raise ImageRefused("the SVG refers to an address outside the picture")


def safe_image_name(filename: str, extension: str) -> str:
    """A plain name for the uploaded file; names that try to leave the folder are refused."""
    if not filename or "\x00" in filename or "/" in filename or "\\" in filename:
        raise PathRefused("a picture's name may not contain '/', '\\' or NUL")
    if filename.startswith(".") or ".." in filename or len(filename) > 200:
        raise PathRefused("a picture's name may not start with '.', contain '..' or be too long")
    stem = filename.rsplit(".", 1)[0] if "." in filename else filename
    stem = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:60].strip("-")
    return f"{stem or 'picture'}{extension}"


@dataclass(frozen=True)
class Uploaded:
    """A picture stored in a module's media/ folder."""

    name: str  # inside media/
    markdown: str  # what the editor inserts


def upload_image(root: Path, course: Course, folder: str, filename: str, data: bytes) -> Uploaded:
    """Store an uploaded picture in `<course>/<folder>/media/` under a safe, unused name."""
    if not data:
        raise ImageRefused("the file is empty")
    if len(data) > MAX_IMAGE:
        raise ImageRefused(f"a picture may be at most {MAX_IMAGE // (1024 * 1024)} MB")
    extension = sniff_image(data)
    if extension == ".svg":
        check_svg(data)
    name = safe_image_name(filename, extension)
    if not any(e.folder == folder for e in course.entries):
        raise PathRefused("no such module folder")
    with _file_lock(root):
        media = safe_path(root, f"{course.folder}/{folder}/media")
        stem, counter, chosen = name[: -len(extension)], 1, name
        while True:
            path = safe_path(root, f"{course.folder}/{folder}/media/{chosen}")
            existing = read_bytes(path) if path.exists() else None
            if existing is None or existing == data:
                break
            counter += 1
            chosen = f"{stem}-{counter}{extension}"
        media.mkdir(parents=True, exist_ok=True)
        if existing is None:
            write_atomic(path, data)
    alt = stem.replace("-", " ")
    return Uploaded(chosen, f"![{alt}](media/{chosen})")


# --- rename and reorder ----------------------------------------------------------------------


def _front_matter_id(text: str, module_id: str) -> str:
    """The text with `id: <module_id>` as the front matter's first key (if it has no id)."""
    if not text.startswith("---\n"):
        raise StudioError("the default-language file has no front matter: fix it first")
    end = text.find("\n---", 4)
    if end != -1 and re.search(r"^id\s*:", text[4:end], re.MULTILINE):
        return text
    return f"---\nid: {module_id}\n{text[4:]}"


def _move_folders(root: Path, course: Course, moves: list[tuple[str, str]]) -> None:
    """Rename module folders (and their drafts and platform revisions) in two steps, so that
    swapping numbers never collides; the caller holds the file lock."""
    course_dir = _course_dir(root, course)
    places = [course_dir]
    for extra in ("drafts", "revisions"):
        place = root / STUDIO_DIR / extra / course.folder
        if place.is_dir():
            places.append(place)
    for place in places:
        staged = []
        for old, new in moves:
            source = place / old
            if source.is_dir() and not source.is_symlink():
                temporary = place / f".moving-{new}"
                os.rename(source, temporary)
                staged.append((temporary, place / new))
        for temporary, final in staged:
            if final.exists():
                raise StudioError(f"a folder named {final.name} already exists")
            os.rename(temporary, final)


def _record_moves(
    root: Path, course: Course, moves: list[tuple[str, str]], name: str, email: str, message: str
) -> None:
    paths = [f"{course.folder}/{folder}" for pair in moves for folder in pair]
    try:
        revisions_for(root).record_moves(paths, name, email, message)
    except RevisionError as exc:
        raise StudioError(f"moved, but the revision could not be recorded: {exc}") from exc


def rename_module(
    root: Path, course: Course, module_id: str, new_slug: str, name: str, email: str
) -> str:
    """Rename a module's folder; its id (and so learners' progress) stays what it was.

    :returns: the new folder name.
    """
    entry = _entry(course, module_id)
    new_slug = _check_slug(new_slug)
    match = MODULE_FOLDER.match(entry.folder)
    if match is None:
        raise StudioError("the module's folder name is not NN-module-id")
    new_folder = f"{match.group(1)}-{new_slug}"
    if new_folder == entry.folder:
        return new_folder
    if any(e.folder == new_folder or (e.id == new_slug and e is not entry) for e in course.entries):
        raise StudioError("another module already has this name")
    with _file_lock(root):
        if safe_path(root, f"{course.folder}/{new_folder}").exists():
            raise StudioError("another module already has this name")
        default = safe_path(root, f"{course.folder}/{entry.folder}/{course.default_language}.md")
        text = read_bytes(default).decode("utf-8")
        pinned = _front_matter_id(text, entry.id)
        if pinned != text:
            write_atomic(default, pinned.encode("utf-8"))
        moves = [(entry.folder, new_folder)]
        _move_folders(root, course, moves)
        _record_moves(root, course, moves, name, email, f"Rename {entry.folder} to {new_folder}")
    return new_folder


def move_module(
    root: Path, course: Course, module_id: str, offset: int, name: str, email: str
) -> None:
    """Move a module up (-1) or down (+1); the modules are renumbered 01, 02, ... in order."""
    order = [e.folder for e in course.entries]
    entry = _entry(course, module_id)
    at = order.index(entry.folder)
    to = at + offset
    if offset not in (-1, 1) or not 0 <= to < len(order):
        raise StudioError("the module cannot move further")
    order[at], order[to] = order[to], order[at]
    width = max(2, len(str(len(order))))
    moves = []
    for number, folder in enumerate(order, start=1):
        match = MODULE_FOLDER.match(folder)
        if match is None:
            raise StudioError(f"folder {folder} is not NN-module-id")
        new = f"{number:0{width}d}-{match.group(2)}"
        if new != folder:
            moves.append((folder, new))
    moved = dict(moves).get(entry.folder, entry.folder)
    with _file_lock(root):
        _move_folders(root, course, moves)
        _record_moves(root, course, moves, name, email, f"Move {entry.folder} to {moved}")
