"""The module page's PDF panel: the module's and the course's PDF, with size and page count.

Asked for by the module view (it passes the links to the template); the page cache keys the
page by this panel's stamp, so a rebuilt PDF or a rebuild being queued shows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for

from app.builds import pdf_key
from app.content.model import Course, Module
from app.pages import Panel
from app.pdf.build import latest_artefact
from app.tasks import queue_for
from app.web import folder_stamp


@dataclass(frozen=True)
class PdfLink:
    """One download in the panel."""

    kind: str  # "module" or "course"
    url: str
    size: int | None  # bytes of the latest build, None before the first one
    pages: int | None
    updating: bool  # a rebuild is waiting or running: the previous file is served meanwhile


def pdf_panel(course: Course, module: Module, lang: str) -> Panel:
    """The module and course PDF links, stamped by the PDF folder and the rebuilds queued."""
    queue = queue_for(current_app)
    targets = (module.id, None)
    busy = tuple(queue.busy(pdf_key(course.id, lang, m or "")) for m in targets)
    stamp = (folder_stamp(current_app.config["MEDIA_DIR"] / "pdf" / course.id), busy)

    def load() -> tuple[PdfLink, ...]:
        links = []
        for module_id, updating in zip(targets, busy, strict=True):
            if module_id:
                url = url_for("pdf.module_pdf", lang=lang, course_id=course.id, module_id=module_id)
            else:
                url = url_for("pdf.course_pdf", lang=lang, course_id=course.id)
            artefact = latest_artefact(course.id, module_id, lang)
            links.append(
                PdfLink(
                    kind="module" if module_id else "course",
                    url=url,
                    size=artefact.size if artefact else None,
                    pages=artefact.pages if artefact else None,
                    updating=updating,
                )
            )
        return tuple(links)

    return Panel(stamp=stamp, load=load)
