"""Request-bound helpers every view and builder shares.

The web layer sits between the services (plain arguments, no Flask) and the views: it turns
"this request" into those plain arguments. The current learner's key, their EQF preference,
the site's base URL, the catalogue of the running app, and the course or module a URL names
(or a 404) all come from here, so no view imports another blueprint's views.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote, urlencode

from flask import (
    Response,
    abort,
    current_app,
    g,
    has_request_context,
    request,
    send_file,
    session,
    url_for,
)
from flask_login import current_user
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, BuildError

from app.content.catalog import EXTENSION_KEY, ContentCache, catalogue_of
from app.content.model import Catalogue, Course, Module
from app.progress.rules import reading_seconds, words_in

GUEST_SESSION_KEY = "guest"
GUEST_TOKEN_BYTES = 18  # 24 URL-safe characters
EQF_SESSION_KEY = "eqf_level"
EQF_LEVELS = (3, 4, 5)

#: Where the site says it lives when ACADEMY_BASE_URL is not set and no request is running.
DEFAULT_BASE_URL = "http://127.0.0.1:5000/"


def language_converter(languages: Sequence[str]) -> type[BaseConverter]:
    """A URL converter matching only the languages the site speaks; any other is a 404."""
    pattern = "|".join(re.escape(code) for code in languages)

    class LanguageConverter(BaseConverter):
        """One of the site's language codes (`<lang:lang>` in a route)."""

        regex = f"(?:{pattern})"

    return LanguageConverter


def catalogue() -> Catalogue:
    """The running app's catalogue, reloaded if a content file changed since the last call."""
    return catalogue_of(current_app)


def content_version() -> int:
    """A number that changes whenever the catalogue is reloaded (part of page cache keys).

    Read it after `catalogue()` in the same request, so both describe the same content.
    """
    cache: ContentCache = current_app.extensions[EXTENSION_KEY]
    return cache.loads


def folder_stamp(path: os.PathLike[str] | str) -> int:
    """Modification time of a folder (0 if missing): it changes when a file in it is replaced.

    Builders write every artefact and manifest by atomic rename into their folder, so one
    `stat` tells a cached page's panel (see `app.pages.Panel`) that its data went stale.
    """
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def reading_seconds_of(module: Module) -> dict[str, int]:
    """Seconds each section must stay on screen to count as read, by the site's reading rule.

    Counted once per loaded module (a module of a catalogue never changes; an edit loads a new
    one) and rule: counting every section's words was a tenth of a signed-in page's time.
    """
    config = current_app.config
    rule = (
        float(config["READ_WORDS_PER_MINUTE"]),
        float(config["READ_SHARE"]),
        float(config["READ_SECONDS"]),
    )
    memo: dict[int, tuple[Module, tuple[float, ...], dict[str, int]]] = (
        current_app.extensions.setdefault("academy.reading_seconds", {})
    )
    kept = memo.get(id(module))
    # The entry holds the module itself, so its id cannot be reused while the entry exists.
    if kept is not None and kept[0] is module and kept[1] == rule:
        return kept[2]
    seconds = {
        section.id: reading_seconds(words_in(section.html), *rule) for section in module.sections
    }
    if len(memo) > 1024:  # modules of catalogues replaced by edits: let them go
        memo.clear()
    memo[id(module)] = (module, rule, seconds)
    return seconds


def current_learner(create: bool = False) -> str | None:
    """The learner key of this request: the signed-in user, or this browser's guest key.

    :param create: give a guest a key now (when they first do something worth keeping). A
        guest handed a CSRF token already has one (`give_guest_key_with_csrf`); this is for
        a session from before that, or a download by a visitor with no session at all.
    """
    if current_user.is_authenticated:
        return str(current_user.learner_key)
    guest = session.get(GUEST_SESSION_KEY)
    if guest is None and create:
        guest = _guest_token_for_session()
        session[GUEST_SESSION_KEY] = guest
    return f"g:{guest}" if guest else None


def _csrf_session_token() -> str | None:
    """The raw CSRF token Flask-WTF keeps in this session, if it has handed one out."""
    raw = session.get(current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"))
    return raw if isinstance(raw, str) and raw else None


def _guest_token_for_session() -> str:
    """A new guest token; for a session with a CSRF token, the same one from every server.

    A guest's POST is retried on another app server when the first one stored it and died
    before answering (deploy/nginx/academy.conf.in); the retry carries the same cookie. A key
    drawn at random would differ between the two, and the statement id the first one stored
    would then belong to "another learner". Derived from the session's CSRF token with the
    secret every server shares, both give the same key, and nobody without the secret can
    compute it. Only sessions without a key take this path: a key is given with the token.
    """
    raw = _csrf_session_token()
    if raw is None:
        return secrets.token_urlsafe(GUEST_TOKEN_BYTES)
    secret = str(current_app.config["SECRET_KEY"]).encode()
    digest = hmac.new(secret, b"academy.guest-key\x00" + raw.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:GUEST_TOKEN_BYTES]).decode("ascii")


def give_guest_key_with_csrf(response: Response) -> Response:
    """After a request: a guest whose session holds a CSRF token holds a guest key too.

    Whatever handed the token (/csrf-token, a form on a page, the quiz page) thus put the key
    in the same cookie, so a guest's beacon or quiz submission never has to mint one, and a
    copy of it retried on another app server is stored under the same learner. A session the
    request did not touch (a first-time visitor's shared page) is left alone: no cookie.
    Nothing reaches the database: a guest has rows only once they record something.
    """
    if not getattr(session, "accessed", False) or GUEST_SESSION_KEY in session:
        return response
    if _csrf_session_token() is None or "_user_id" in session:
        return response
    if current_user.is_authenticated:  # e.g. signed in by a remember-me cookie just now
        return response
    session[GUEST_SESSION_KEY] = secrets.token_urlsafe(GUEST_TOKEN_BYTES)
    return response


def take_guest_key() -> str | None:
    """Remove this browser's guest key from the session and return it as a learner key."""
    token = session.pop(GUEST_SESSION_KEY, None)
    return f"g:{token}" if token else None


def eqf_preference() -> int | None:
    """The EQF level the learner chose to study at (3, 4 or 5), or None."""
    if current_user.is_authenticated:
        level = current_user.eqf_level
    else:
        level = session.get(EQF_SESSION_KEY)
    return level if level in EQF_LEVELS else None


def remember_guest_eqf(level: int | None) -> None:
    """Keep a guest's EQF level in their session (signed-in learners keep it on the account)."""
    session[EQF_SESSION_KEY] = level


def site_base_url() -> str:
    """The site's public root ending in '/': ACADEMY_BASE_URL, else the request's, else local.

    Outside debug and tests ACADEMY_BASE_URL is required (app/config.py), so a request's Host
    header never decides what a PDF links to or which artefact is served.
    """
    configured = str(current_app.config.get("BASE_URL") or "")
    if configured:
        return configured.rstrip("/") + "/"
    if has_request_context():
        return request.url_root.rstrip("/") + "/"
    return DEFAULT_BASE_URL


def course_or_404(lang: str, course_id: str) -> Course:
    """A course learners can see, or a friendly 404 (`lang` is checked by the URL converter)."""
    course = catalogue().course(course_id)
    if course is None or not course.visible:
        abort(404)
    return course


def module_or_404(lang: str, course_id: str, module_id: str) -> tuple[Course, Module]:
    """A visible module in `lang` (or its language fallback) and its course, or a 404."""
    course = course_or_404(lang, course_id)
    found = course.module(module_id, lang)
    if found is None:
        abort(404)
    return course, found[0]


class LanguageLink(NamedTuple):
    """One entry of the language switch: where it goes and whether it is this very page."""

    code: str
    url: str
    same_page: bool  # the link keeps the page, so the browser may carry the #section over


def language_links() -> list[LanguageLink]:
    """The language switch of this request: this page in each language, or its nearest parent.

    A page is kept in the other language when a GET of the same route exists there (a form
    re-shown after a POST links to the form) and, for content pages, when the course and module
    are there; otherwise the link falls back to the module's course, then the catalogue.
    """
    return [_language_link(code) for code in current_app.config["LANGUAGES"]]


def _language_link(code: str) -> LanguageLink:
    """The switch entry for `code` (see `language_links`)."""
    home = url_for("content.home", lang=code)
    endpoint = request.endpoint
    args = dict(request.view_args or {})
    if endpoint == "content.index":
        return LanguageLink(code, home, True)
    if not endpoint:
        return LanguageLink(code, home, False)
    if "lang" not in args:
        # A page whose address names no language (a certificate check) takes `?lang=`.
        if request.method != "GET":
            return LanguageLink(code, home, False)
        pairs = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
        query = urlencode([*pairs, ("lang", code)])
        return LanguageLink(code, f"{request.script_root}{request.path}?{query}", True)
    args["lang"] = code
    fallback = _content_fallback(code, args)
    if fallback is not None:
        return LanguageLink(code, fallback, False)
    try:
        url = url_for(endpoint, **args)
        # Only a page the browser can GET: a POST-only route has no page to keep.
        path = url.removeprefix(request.script_root)
        current_app.url_map.bind("").match(path, method="GET")
    except (BuildError, HTTPException):
        return LanguageLink(code, home, False)
    query = _switched_query(code)
    return LanguageLink(code, f"{url}?{query}" if query else url, True)


def _content_fallback(code: str, args: dict[str, Any]) -> str | None:
    """The nearest page that exists in `code` when this page's course or module does not."""
    course_id, module_id = args.get("course_id"), args.get("module_id")
    if not isinstance(course_id, str):
        return None
    course = catalogue().course(course_id)
    if course is None or not course.visible:
        return url_for("content.home", lang=code)
    if isinstance(module_id, str) and course.module(module_id, code) is None:
        return url_for("content.course", lang=code, course_id=course.id)
    return None


def _switched_query(code: str) -> str:
    """This request's query string for the page in `code` (empty while a shared page renders).

    A page cached for every learner must not carry one visitor's query; a `next` address in
    this page's language is moved to `code` too, so signing in lands in the chosen language.
    """
    if g.get("page_capture") is not None or not request.args:
        return ""
    current = str((request.view_args or {}).get("lang", ""))
    pairs = []
    for key, value in request.args.items(multi=True):
        if key == "next" and current and value.startswith(f"/{current}/"):
            value = f"/{code}/" + value[len(current) + 2 :]
        pairs.append((key, value))
    return urlencode(pairs)


def send_artefact(
    path: Path,
    mimetype: str,
    download_name: str,
    as_attachment: bool = False,
    etag: str | bool = True,
) -> Response:
    """Send a built artefact under MEDIA_DIR: by nginx (X-Accel-Redirect) when configured.

    The caller has checked access and found the file. With ACADEMY_ACCEL_REDIRECT set the
    answer carries no body: nginx sends the file from its internal location, with ranges,
    ETag and Last-Modified, keeping this answer's Content-Type, Content-Disposition and
    Cache-Control. Otherwise the app sends it (ranges and ETag too).
    """
    prefix = str(current_app.config.get("ACCEL_REDIRECT") or "")
    # Both paths resolved only for nginx: each resolve() is a system call per path component.
    media = Path(current_app.config["MEDIA_DIR"]).resolve() if prefix else None
    resolved = path.resolve() if prefix else path
    if media is not None and resolved.is_relative_to(media):
        response = Response(status=200, mimetype=mimetype)
        relative = quote(resolved.relative_to(media).as_posix())
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + relative
        response.headers.set(
            "Content-Disposition",
            "attachment" if as_attachment else "inline",
            filename=download_name,
        )
        response.headers["Accept-Ranges"] = "bytes"
        response.cache_control.no_cache = True
        return response
    return send_file(
        path,
        mimetype=mimetype,
        as_attachment=as_attachment,
        download_name=download_name,
        etag=etag,
        conditional=True,
        max_age=0,
    )


def sends_whole_file(response: Response, path: Path) -> bool:
    """Whether `response` delivers the whole file (not a 304 revalidation or a range).

    Read after `send_artefact`: when nginx will send the file, it decides ranges and 304s from
    the request's headers and its own validators (ETag "<mtime hex>-<size hex>",
    Last-Modified), so the same decision is taken here from the same inputs.
    """
    if "X-Accel-Redirect" not in response.headers:
        return response.status_code == 200
    if request.range is not None:
        return False
    try:
        stat = path.stat()
    except OSError:
        return False
    if request.if_none_match:
        return not request.if_none_match.contains(f"{int(stat.st_mtime):x}-{stat.st_size:x}")
    since = request.if_modified_since
    return since is None or int(stat.st_mtime) > since.timestamp()
