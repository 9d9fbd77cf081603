"""PDF artefacts: the HTML for a module or a course, its content hash, and the built file.

A PDF is named by a hash of everything that shapes it (the print HTML, which holds the content,
the labels and the quiz URL; the print stylesheet; the embedded media; the template version and
WeasyPrint's version), so it is rebuilt exactly when one of them changes. `build_pdfs` builds
them ahead (`flask pdf build`, `flask content build`); a download of a PDF not built yet renders
it once and keeps it as the same artefact.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flask import Flask, current_app, render_template
from flask_babel import force_locale
from markupsafe import Markup

from app.audio.transcript import module_audio_link, transcript_link
from app.content.catalog import catalogue_of
from app.content.ids import VALID_ID, slugify
from app.content.model import Course, Module
from app.files import write_atomic
from app.i18n import LANGUAGE_NAMES
from app.pdf.bounded import (
    DEFAULT_RENDER_SECONDS,
    RenderedPdf,
    ResourcePolicy,
    render_pdf_bounded,
)
from app.pdf.qr import qr_data_url
from app.pdf.worksheet import PrintQuestion, worksheet
from app.web import DEFAULT_BASE_URL, site_base_url

#: Bump when a template or the layout changes in a way the HTML alone does not show.
TEMPLATE_VERSION = "1"
PRINT_CSS = "css/print.css"

_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def quiz_url(base_url: str, lang: str, course_id: str, module_id: str) -> str:
    """The absolute address of a module's online quiz."""
    return f"{base_url}{lang}/{course_id}/{module_id}/quiz"


def css_string(text: str) -> Markup:
    """A CSS string literal for `text`, safe inside a <style> element (labels in @page)."""
    escaped = "".join(ch if ch.isalnum() or ch in " .,-" else f"\\{ord(ch):x} " for ch in str(text))
    return Markup(f'"{escaped}"')  # every other character is escaped


@dataclass(frozen=True)
class PdfJob:
    """One PDF to serve: what it shows, how to render it, and where its artefact lives."""

    kind: str  # "module" or "course"
    course_id: str
    module_id: str | None
    lang: str
    html: str
    policy: ResourcePolicy
    key: str
    download_name: str
    title: str

    def path(self, media_dir: Path) -> Path:
        """The artefact file for this job under the media folder."""
        name = self.module_id or "_course"
        # Ids come from the catalogue, never from a URL; checked again as they name a file.
        if not VALID_ID.match(self.course_id) or not VALID_ID.match(name.lstrip("_")):
            raise ValueError(f"unsafe artefact name {self.course_id}/{name}")
        if not re.fullmatch(r"[a-z]{2}", self.lang):
            raise ValueError(f"unsafe language {self.lang}")
        return media_dir / "pdf" / self.course_id / f"{name}.{self.lang}.{self.key[:24]}.pdf"


@dataclass(frozen=True)
class Artefact:
    """A built PDF on disk with what the side panel shows about it."""

    path: Path
    key: str
    size: int
    pages: int | None


# -- what goes into a PDF -----------------------------------------------------------------


_ID_ATTR = re.compile(r'(\sid=")([^"]+)(")')
_HREF_FRAGMENT = re.compile(r'(\shref="#)([^"]+)(")')


def print_html(html: str, prefix: str) -> Markup:
    """Module HTML made ready for paper: every `<details>` open as a plain block, ids prefixed.

    Ids are prefixed with the module id so a course PDF holding every module keeps them unique
    (footnotes, anchors), and EQF deepening blocks and any other disclosure widget print open.
    """
    html = re.sub(r"<details\b", "<div", html).replace("</details>", "</div>")
    html = re.sub(r"<summary\b[^>]*>", '<p class="summary">', html).replace("</summary>", "</p>")
    html = _ID_ATTR.sub(lambda m: f"{m[1]}{prefix}--{m[2]}{m[3]}", html)
    html = _HREF_FRAGMENT.sub(lambda m: f"{m[1]}{prefix}--{m[2]}{m[3]}", html)
    return Markup(html)  # input is the loader's sanitised HTML


@dataclass(frozen=True)
class PrintModule:
    """A module with its print-ready HTML and its worksheet."""

    module: Module
    number: int
    anchor: str
    intro: Markup
    sections: tuple[tuple[str, str, Markup], ...]  # (anchor, title, html)
    worksheet_after: str | None  # anchor of the section the worksheet follows, or None
    questions: tuple[PrintQuestion, ...]
    quiz_url: str
    qr: str
    fallback: bool
    audio_url: str = ""  # the module's MP3 (lasting address)
    transcript_url: str = ""  # the transcript of that audio


def _worksheet_section(module: Module) -> str | None:
    """The section holding the module's first quiz block: the worksheet prints there."""
    if not module.quiz_blocks or not module.sections:
        return None
    first_line = min(line for _, _, line in module.quiz_blocks)
    holder = None
    for section in module.sections:
        if section.line <= first_line:
            holder = section.id
    return holder


def _print_module(
    module: Module, number: int, lang: str, base_url: str, fallback: bool
) -> PrintModule:
    """Everything a template needs to print one module."""
    prefix = f"m-{module.id}"
    url = quiz_url(base_url, lang, module.course_id, module.id)
    after = _worksheet_section(module)
    return PrintModule(
        module=module,
        number=number,
        anchor=prefix,
        intro=print_html(module.intro_html, prefix),
        sections=tuple(
            (f"{prefix}--{s.id}", s.title, print_html(s.html, prefix)) for s in module.sections
        ),
        worksheet_after=f"{prefix}--{after}" if after else None,
        questions=worksheet(module.questions, module.language),
        quiz_url=url,
        qr=qr_data_url(url) if module.questions else "",
        fallback=fallback,
        audio_url=module_audio_link(base_url, lang, module.course_id, module.id),
        transcript_url=transcript_link(base_url, lang, module.course_id, module.id),
    )


def _policy(course: Course, modules: list[Module], base_url: str) -> ResourcePolicy:
    """Static files plus the media folders of the printed modules, and nothing else."""
    static_dir = Path(current_app.static_folder or "static")
    media = {(course.id, m.id): m.media_dir for m in modules if m.media_dir is not None}
    return ResourcePolicy(base_url=base_url, static_dir=static_dir, media_dirs=media)


@cache
def weasyprint_version() -> str:
    """The installed WeasyPrint's version, read without importing it (the server never does)."""
    return version("weasyprint")


def _hash(html: str, policy: ResourcePolicy) -> str:
    """A hash of the HTML, the stylesheet, the media folders and the renderer versions."""
    digest = hashlib.sha256()
    for part in (TEMPLATE_VERSION, weasyprint_version(), html):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update((policy.static_dir / PRINT_CSS).read_bytes())
    for (course_id, module_id), folder in sorted(policy.media_dirs.items()):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{course_id}/{module_id}/{path.relative_to(folder)}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _render_context(course: Course, lang: str, base_url: str) -> dict[str, Any]:
    """Names every print template uses."""
    return {
        "course": course,
        "course_title": course.text(course.title, lang),
        "lang": lang,
        "language_names": LANGUAGE_NAMES,
        "css_string": css_string,
        "base_url": base_url,
    }


def module_job(course: Course, module_id: str, lang: str, base_url: str) -> PdfJob | None:
    """The PDF of one visible module in `lang` (or its default-language fallback)."""
    found = course.module(module_id, lang)
    if found is None:
        return None
    module, fallback = found
    number = next(i for i, e in enumerate(course.visible, 1) if e.id == module_id)
    with force_locale(lang):
        item = _print_module(module, number, lang, base_url, fallback)
        html = render_template(
            "pdf/module.html", item=item, **_render_context(course, lang, base_url)
        )
    policy = _policy(course, [module], base_url)
    return PdfJob(
        kind="module",
        course_id=course.id,
        module_id=module.id,
        lang=lang,
        html=html,
        policy=policy,
        key=_hash(html, policy),
        download_name=f"{slugify(module.title)}-{lang}.pdf",
        title=module.title,
    )


def course_job(course: Course, lang: str, base_url: str) -> PdfJob:
    """The PDF of a whole course in `lang`: every visible module, each with its worksheet."""
    items = []
    for number, entry in enumerate(course.visible, 1):
        found = course.module(entry.id, lang)
        if found is not None:
            module, fallback = found
            items.append((module, number, fallback))
    with force_locale(lang):
        printed = [_print_module(m, n, lang, base_url, fb) for m, n, fb in items]
        html = render_template(
            "pdf/course.html", items=printed, **_render_context(course, lang, base_url)
        )
    policy = _policy(course, [m for m, _, _ in items], base_url)
    title = course.text(course.title, lang)
    return PdfJob(
        kind="course",
        course_id=course.id,
        module_id=None,
        lang=lang,
        html=html,
        policy=policy,
        key=_hash(html, policy),
        download_name=f"{slugify(title)}-{lang}.pdf",
        title=title,
    )


# -- artefacts ------------------------------------------------------------------------------


def _media_dir(app: Flask | None = None) -> Path:
    """The folder built artefacts go to."""
    return Path((app or current_app).config["MEDIA_DIR"])


def find_artefact(job: PdfJob, media_dir: Path | None = None) -> Artefact | None:
    """The built PDF for `job`, if there is one."""
    path = job.path(media_dir or _media_dir())
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    pages = None
    try:
        pages = int(json.loads(path.with_suffix(".json").read_text("utf-8"))["pages"])
    except (OSError, ValueError, KeyError, TypeError):
        pass  # the page count is only shown when known
    return Artefact(path=path, key=job.key, size=size, pages=pages)


def _lock_for(path: Path) -> threading.Lock:
    """One lock per artefact, so two requests never render the same PDF at once."""
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def build_artefact(job: PdfJob, media_dir: Path | None = None) -> tuple[Artefact, RenderedPdf]:
    """Render `job` and write it (atomically) with its page count; drop older versions."""
    path = job.path(media_dir or _media_dir())
    path.parent.mkdir(parents=True, exist_ok=True)
    seconds = float(current_app.config.get("PDF_RENDER_SECONDS", DEFAULT_RENDER_SECONDS))
    rendered = render_pdf_bounded(job.html, job.policy, seconds)
    write_atomic(path, rendered.data)
    meta = {"pages": rendered.pages, "refused": list(rendered.refused), "title": job.title}
    write_atomic(path.with_suffix(".json"), json.dumps(meta).encode("utf-8"))
    stem = path.name.rsplit(".", 2)[0]  # "<module>.<lang>"
    for old in path.parent.glob(f"{stem}.*"):
        if old.stem != path.stem:
            old.unlink(missing_ok=True)
    return Artefact(path=path, key=job.key, size=len(rendered.data), pages=rendered.pages), rendered


def ensure_artefact(job: PdfJob, media_dir: Path | None = None) -> Artefact:
    """The built PDF for `job`, rendering it once if it is not built yet."""
    found = find_artefact(job, media_dir)
    if found is not None:
        return found
    with _lock_for(job.path(media_dir or _media_dir())):
        found = find_artefact(job, media_dir)  # another request may have built it meanwhile
        if found is not None:
            return found
        return build_artefact(job, media_dir)[0]


# -- building everything ----------------------------------------------------------------------


@dataclass
class BuildReport:
    """What `build_pdfs` did: artefacts built, already up to date, and failures."""

    built: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    pages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether every PDF is now built."""
        return not self.failed


def _jobs(app: Flask, base_url: str) -> Iterator[tuple[str, Callable[[], PdfJob | None]]]:
    """Every PDF the site offers, as (label, job factory), modules first then courses."""
    courses = [c for c in catalogue_of(app).courses.values() if c.visible]
    langs = tuple(app.config["LANGUAGES"])
    for course in courses:
        for lang in langs:
            for entry in course.visible:
                yield (
                    f"{lang} {course.id}/{entry.id}",
                    partial(module_job, course, entry.id, lang, base_url),
                )
            yield f"{lang} {course.id} (course)", partial(course_job, course, lang, base_url)


def build_pdfs(app: Flask, *, echo: Callable[[str], object] = print) -> BuildReport:
    """Build every module and course PDF that is missing or out of date, showing progress."""
    report = BuildReport()
    start = time.perf_counter()
    with app.test_request_context("/"):
        base_url = site_base_url() if app.config.get("BASE_URL") else DEFAULT_BASE_URL
        if not app.config.get("BASE_URL"):
            echo(f"PDF: ACADEMY_BASE_URL is not set; quiz links and QR codes point at {base_url}")
        jobs = list(_jobs(app, base_url))
        for n, (label, make_job) in enumerate(jobs, 1):
            prefix = f"[{n}/{len(jobs)}] PDF {label}:"
            try:
                job = make_job()
                if job is None:
                    continue
                found = find_artefact(job)
                if found is not None:
                    report.up_to_date.append(label)
                    report.pages += found.pages or 0
                    echo(f"{prefix} up to date ({found.pages} pages)")
                    continue
                t0 = time.perf_counter()
                artefact, rendered = build_artefact(job)
            except Exception as exc:  # one broken PDF must not stop the others
                report.failed.append((label, f"{type(exc).__name__}: {exc}"))
                echo(f"{prefix} FAILED: {type(exc).__name__}: {exc}")
                continue
            report.built.append(label)
            report.pages += rendered.pages
            refused = f", {len(rendered.refused)} resource(s) refused" if rendered.refused else ""
            echo(
                f"{prefix} built {rendered.pages} pages, {artefact.size // 1024} KiB "
                f"in {time.perf_counter() - t0:.1f} s{refused}"
            )
    report.seconds = time.perf_counter() - start
    echo(
        f"PDF: {len(report.built)} built, {len(report.up_to_date)} up to date, "
        f"{len(report.failed)} failed, {report.pages} pages, {report.seconds:.1f} s"
    )
    return report


def latest_artefact(
    course_id: str, module_id: str | None, lang: str, media_dir: Path | None = None
) -> Artefact | None:
    """The most recently built PDF of a module (or the course, module_id None) in `lang`.

    A cheap look-up for the side panel (no rendering): after a content edit it may describe
    the previous version until the PDF is rebuilt, which is fine for a size and a page count.
    """
    name = module_id or "_course"
    folder = (media_dir or _media_dir()) / "pdf" / course_id
    built: list[tuple[float, int, Path]] = []
    for candidate in folder.glob(f"{name}.{lang}.*.pdf"):
        try:
            stat = candidate.stat()
        except FileNotFoundError:
            continue  # superseded and removed by a build since the glob listed it
        built.append((stat.st_mtime, stat.st_size, candidate))
    if not built:
        return None
    _, size, path = max(built)
    pages = None
    try:
        pages = int(json.loads(path.with_suffix(".json").read_text("utf-8"))["pages"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return Artefact(path=path, key=path.stem.rsplit(".", 1)[-1], size=size, pages=pages)
