"""WeasyPrint behind a URL fetcher that reads only the app's static files and course media.

WeasyPrint fetches every image, stylesheet and `<link rel="attachment">` through the fetcher it
is given. Ours never opens a socket or a `file://` URL: a URL is served only when it names a
file under `static/` or under the media folder of a module being printed, on the site's own
address; anything else (other hosts, other schemes, oversized `data:` URLs) is refused, logged,
and left out of the PDF, which still renders. With no network access there are no redirects to
follow either.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.pdf.bounded import RenderedPdf, ResourcePolicy, log, short

#: Longest `data:` URL accepted (characters); our QR codes take a few kilobytes.
MAX_DATA_URL = 256 * 1024
#: Largest static or media file embedded (bytes): a print never needs more for one image.
MAX_FILE_SIZE = 20 * 1024 * 1024
#: Tagged PDF/UA-1 where WeasyPrint supports it: structure tags, language, title shown.
PDF_OPTIONS: dict[str, object] = {"pdf_variant": "pdf/ua-1", "pdf_tags": True}


class RefusedResource(ValueError):
    """A URL the PDF renderer will not fetch."""


class SafeFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that serves local files named by site URLs, and nothing else."""

    def __init__(self, policy: ResourcePolicy) -> None:
        # No protocol is allowed to the parent's opener; fetch() below never calls it anyway.
        super().__init__(allowed_protocols=(), allow_redirects=False)
        self.policy = policy
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Mapping[str, str] | None = None) -> URLFetcherResponse:
        """Return the resource for `url`, or raise RefusedResource (logged)."""
        try:
            return self._resolve(url)
        except RefusedResource as exc:
            self.refused.append(url)
            log.warning("PDF: refused resource %s: %s", short(url), exc)
            raise

    def _resolve(self, url: str) -> URLFetcherResponse:
        """Map a URL to a local file or decoded data, following the policy."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return _data_url(url)
        if scheme not in ("http", "https"):
            raise RefusedResource(f"scheme '{scheme or 'none'}' is not allowed")
        parts = urlsplit(url)
        if (parts.scheme.lower(), parts.netloc.lower()) != self.policy.origin():
            raise RefusedResource("only this site's own files are embedded")
        path = self._local_path(unquote(parts.path))
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise RefusedResource("no such file") from exc
        if size > MAX_FILE_SIZE:
            raise RefusedResource("file too large")
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})

    def _local_path(self, path: str) -> Path:
        """The file a site path names under static/ or a printed module's media/ folder."""
        segments = path.split("/")[1:]
        if any(s in ("", ".", "..") or "\\" in s or "\0" in s for s in segments):
            raise RefusedResource("not a plain file path")
        if len(segments) >= 2 and segments[0] == "static":
            root, rest = self.policy.static_dir, segments[1:]
        elif len(segments) >= 4 and segments[0] == "media":
            found = self.policy.media_dirs.get((segments[1], segments[2]))
            if found is None:
                raise RefusedResource("not the media of a module in this document")
            root, rest = found, segments[3:]
        else:
            raise RefusedResource("only static files and module media are embedded")
        root = root.resolve()
        target = root.joinpath(*rest).resolve()
        # resolve() follows symlinks: a link pointing out of the folder is refused too.
        if not target.is_relative_to(root) or not target.is_file():
            raise RefusedResource("no such file")
        return target


def _data_url(url: str) -> URLFetcherResponse:
    """Decode a small `data:` URL; refuse oversized or malformed ones."""
    if len(url) > MAX_DATA_URL:
        raise RefusedResource(f"data: URL longer than {MAX_DATA_URL} characters")
    header, comma, payload = url[5:].partition(",")
    if not comma:
        raise RefusedResource("malformed data: URL")
    params = header.split(";")
    mime = params[0] or "text/plain"
    try:
        body = (
            base64.b64decode(unquote(payload), validate=False)
            if "base64" in params[1:]
            else unquote_to_bytes(payload)
        )
    except ValueError as exc:
        raise RefusedResource("malformed data: URL") from exc
    return URLFetcherResponse(url, body, {"Content-Type": mime})


def render_pdf(html: str, policy: ResourcePolicy) -> RenderedPdf:
    """Render HTML to a tagged PDF, fetching resources only through SafeFetcher."""
    fetcher = SafeFetcher(policy)
    document = HTML(string=html, base_url=policy.base_url, url_fetcher=fetcher).render(
        **PDF_OPTIONS
    )
    data = document.write_pdf(**PDF_OPTIONS)
    return RenderedPdf(data=data, pages=len(document.pages), refused=tuple(fetcher.refused))
