"""Each PDF rendered in a child process that is stopped after a time bound.

The server process never imports WeasyPrint (a third of what starting the app cost): the
renderer, `app.pdf.render`, is imported by multiprocessing's forkserver, and each render is a
child forked from it. What the server needs to ask for a render and read its result is here.
"""

from __future__ import annotations

import logging
import multiprocessing
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

#: The module the render children run, imported in the forkserver only.
RENDERER = "app.pdf.render"
#: The renderer's log: what a render refused is logged there, in the child or by the parent.
log = logging.getLogger(RENDERER)

#: Longest one PDF may take to render (seconds) before it is stopped: a hostile or broken
#: document must not hold a worker for minutes. The 85-page course PDF takes about 15 s.
DEFAULT_RENDER_SECONDS = 120.0


class RenderTimeout(RuntimeError):
    """A PDF render took longer than its time bound and was stopped."""


@dataclass(frozen=True)
class ResourcePolicy:
    """What a render may read: the site's address, static/, and some modules' media folders."""

    base_url: str  # the site root, e.g. "https://academy.example.org/"
    static_dir: Path
    # (course id, module id) -> that module's media/ folder
    media_dirs: Mapping[tuple[str, str], Path] = field(default_factory=dict)

    def origin(self) -> tuple[str, str]:
        """Scheme and host of the site, lower-case, to compare URLs with."""
        parts = urlsplit(self.base_url)
        return parts.scheme.lower(), parts.netloc.lower()


@dataclass(frozen=True)
class RenderedPdf:
    """A rendered PDF with its page count and the URLs that were refused."""

    data: bytes
    pages: int
    refused: tuple[str, ...] = ()


def short(url: str) -> str:
    """A URL cut short for the log (data: URLs can be long)."""
    return url if len(url) <= 120 else url[:117] + "..."


def render_pdf_bounded(
    html: str, policy: ResourcePolicy, seconds: float = DEFAULT_RENDER_SECONDS
) -> RenderedPdf:
    """Render like `render_pdf`, in a child process that is killed after `seconds`.

    WeasyPrint cannot be interrupted inside a thread, so each render runs in a process forked
    from a clean single-threaded server (multiprocessing's forkserver, with WeasyPrint imported
    there and only there). The child cannot open sockets either: a second wall behind the
    renderer's SafeFetcher.

    :raises RenderTimeout: when the render takes longer than `seconds`.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([RENDERER])
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_render_child, args=(html, policy, sender), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise RenderTimeout(f"the PDF took longer than {seconds:g} s to render and was stopped")
        ok, payload = receiver.recv()
    except EOFError as exc:
        raise RuntimeError(f"the PDF renderer stopped (exit code {process.exitcode})") from exc
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()
    if not ok:
        raise RuntimeError(payload)
    for url in payload.refused:
        log.warning("PDF: refused resource %s", short(url))
    return payload


def _render_child(html: str, policy: ResourcePolicy, sender: Any) -> None:
    """Body of the render process: no sockets, render, send the result (or the error) back."""
    # Already imported: the forkserver this process was forked from preloaded the renderer.
    from app.pdf.render import render_pdf

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("the PDF renderer has no network access")

    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign,assignment]
    log.disabled = True  # the parent logs what was refused
    try:
        sender.send((True, render_pdf(html, policy)))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        sender.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        sender.close()
