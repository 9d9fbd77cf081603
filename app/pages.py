"""Pages rendered once and served as bytes; the per-learner parts are filled in per request.

A page that is the same for every learner at a content version, language and EQF level (the
catalogue, a course, a module) is rendered once into a `Page`: its HTML split around *slots*,
the places where one learner's page differs from another's (CSRF token, account links,
flashed messages, progress ticks, resume point, best quiz score). A template marks a slot
with `{{ mine('name', *args) }}`; each request then joins the cached text with the slots'
values, computed by small functions registered with `@slot('name')`. The result is plain
server-side HTML: it works without JavaScript.

A first-time visitor (no session, not signed in) is sent the very same bytes as every other
one: no session is created and the CSRF token is left empty. The page's script asks
`/csrf-token` for one the first time it needs to post (a progress beacon); the pages a visitor
posts from without script carry their own: sign-in and registration are not cached, and the
quiz page is cached with its slots filled on every request (`kept=False`), the CSRF token and
the attempt it starts included.

Whatever the template renders outside a slot is cached as it is, so a layout change needs no
change here; only a new per-learner part needs a slot. While a shared page renders, the
template sees no learner at all (`current_user` raises, `csrf_token()` yields a slot), so a
per-learner value cannot leak into the bytes every learner is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    session,
)
from flask_login import current_user
from markupsafe import Markup

log = logging.getLogger(__name__)

# Marks a slot in captured HTML. Content cannot contain it: Markdown turns NUL into U+FFFD
# and every other value reaching a template is escaped text that never holds a NUL.
MARK = "\x00"

SlotFunction = Callable[..., str]
_SLOTS: dict[str, SlotFunction] = {}


def slot(name: str) -> Callable[[SlotFunction], SlotFunction]:
    """Register `func(state, *args) -> html` as the per-request value of slot `name`."""

    def register(func: SlotFunction) -> SlotFunction:
        _SLOTS[name] = func
        return func

    return register


class PageState(dict[str, Any]):
    """What a page's slots may read about this request's learner (the view fills it)."""


def _state() -> PageState:
    state = g.get("page_state")
    if state is None:
        state = g.page_state = PageState()
    return state


def mine(name: str, *args: Hashable) -> Markup:
    """Template global: a per-learner part of the page (a slot while a shared page renders)."""
    capture = g.get("page_capture")
    if capture is not None:
        capture.append((name, args))
        return Markup(MARK)
    return Markup(_SLOTS[name](_state(), *args))


@dataclass(frozen=True)
class Panel:
    """A channel's part of a cached page (the audio player, the PDF links).

    `stamp` is cheap (a folder's mtime, a queue flag) and changes whenever `load()` could
    return something else; `load()` reads the data (manifests, files), only when the page is
    rendered. `render_page` puts every panel's stamp in the page's key, so a cached page can
    never show a panel older than its stamp.
    """

    stamp: Hashable
    load: Callable[[], Any]


class _NoLearner:
    """`current_user` while a shared page renders: reading it is a bug, said loudly."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(
            f"a cached page read current_user.{name}: put per-learner parts in a slot "
            "({{ mine('...') }}, see app/pages.py)"
        )


class Page:
    """A rendered page split around its slots."""

    __slots__ = ("chunks", "slots", "fresh")

    def __init__(self, html: str, slots: list[tuple[str, tuple[Hashable, ...]]]) -> None:
        self.chunks = html.split(MARK)
        if len(self.chunks) != len(slots) + 1:
            raise RuntimeError("a slot mark appeared in the page's own text")
        self.slots = tuple(slots)
        # What every first-time visitor (no session, not signed in) gets, made on first use.
        self.fresh: bytes | None = None

    def fill(self, state: PageState) -> str:
        """The page for one learner."""
        parts = [self.chunks[0]]
        for (name, args), chunk in zip(self.slots, self.chunks[1:], strict=True):
            parts.append(_SLOTS[name](state, *args))
            parts.append(chunk)
        return "".join(parts)

    def fill_fresh(self) -> bytes:
        """The page for a visitor with no session: the same bytes for all of them."""
        if self.fresh is None:
            self.fresh = self.fill(PageState(fresh=True)).encode()
        return self.fresh


class PageCache:
    """Rendered pages by key, for one catalogue generation; bounded, least recently used out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, Page] = OrderedDict()
        self._lock = threading.Lock()
        self.renders = 0  # how many pages were actually rendered (tests and bench read it)

    def get(self, key: Hashable) -> Page | None:
        """The cached page for `key`, marked recently used."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: Page) -> None:
        """Keep `page`, dropping the least recently used beyond the size."""
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
            self.renders += 1

    def clear(self) -> None:
        """Forget every page (the content changed)."""
        with self._lock:
            self._pages.clear()


def page_cache(app: Flask | None = None) -> PageCache:
    """This app's page cache."""
    app = app or current_app
    cache = app.extensions.get("academy.pages")
    if cache is None:
        cache = app.extensions["academy.pages"] = PageCache(int(app.config["PAGE_CACHE_SIZE"]))
    return cache


def _capture(template: str, context: dict[str, Any]) -> Page:
    """Render `template` as every learner shares it, slots marked."""
    g.page_capture = []
    try:
        html = render_template(
            template,
            **context,
            current_user=_NoLearner(),
            csrf_token=lambda: mine("csrf"),
        )
        return Page(html, g.page_capture)
    finally:
        g.page_capture = None


def render_page(
    template: str,
    key: tuple[Hashable, ...],
    state: PageState,
    shared: bool = True,
    kept: bool = True,
    panels: Mapping[str, Panel] | None = None,
    summaries_of: str | None = None,
    **context: Any,
) -> Response:
    """Serve `template` from the page cache under `key`, slots filled from `state`.

    :param key: everything the shared HTML depends on besides the template and the language
        (content version, ids, EQF level); learner data never belongs in it.
    :param state: the per-learner values this page's slots read.
    :param shared: False renders this one page directly (it shows something only this
        viewer may see, e.g. a trainer's error list) and leaves the cache alone.
    :param kept: False for a page whose slots differ on every request (a quiz form starts a
        new attempt each time): its HTML is still rendered once, but every request gets its
        slots filled, a first-time visitor too (a session, a CSRF token), and neither
        GuestPages nor LearnerPages answers it again from memory.
    :param panels: template variable -> the channel's panel; its stamp joins the key and its
        data is loaded only when the page is rendered.
    :param summaries_of: the course whose progress summaries `state` was read from (None: the
        page shows no progress); LearnerPages keeps the page while those rows stay the same.
    """
    from flask_babel import get_locale

    panels = panels or {}
    if not shared:
        g.page_state = state
        loaded = {name: panel.load() for name, panel in panels.items()}
        return Response(render_template(template, **context, **loaded), mimetype="text/html")

    cache = page_cache()
    stamps = tuple((name, panel.stamp) for name, panel in sorted(panels.items()))
    full_key = (template, str(get_locale()), *key, *stamps)
    page = cache.get(full_key)
    if page is None:
        loaded = {name: panel.load() for name, panel in panels.items()}
        page = _capture(template, {**context, **loaded})
        cache.put(full_key, page)
    g.page_state = state
    if not kept:
        return Response(page.fill(state), mimetype="text/html")
    if not session and not current_user.is_authenticated:
        # The same bytes for every first-time visitor: GuestPages may answer the next ones.
        request.environ[SHARED_PAGE] = True
        return Response(page.fill_fresh(), mimetype="text/html")
    from app.web import current_learner

    # Shared HTML plus this learner's slots: LearnerPages may answer their next requests.
    request.environ[LEARNER_PAGE] = (current_learner(), summaries_of)
    return Response(page.fill(state), mimetype="text/html")


# --- First-time visitors answered before Flask -------------------------------------------

#: Set in the WSGI environ by `render_page` when it answered with a first-time visitor's bytes.
SHARED_PAGE = "academy.shared_page"


class GuestPages:
    """WSGI middleware: a first-time visitor's page is answered from memory, before Flask.

    A GET with no cookie and no query string, for a page under a language prefix, that Flask
    last answered with the shared bytes every first-time visitor gets (`render_page` marks the
    environ), is answered with the same status, headers and bytes for `ttl` seconds: no
    routing, no session, no catalogue check. Then the next such request goes through Flask
    again, which re-checks content and artefacts and refreshes the entry. A content edit or a
    rebuilt artefact therefore reaches first-time visitors at most `ttl` seconds later than
    the others (ACADEMY_CONTENT_RECHECK_SECONDS; 0 turns this off). Anything with a cookie
    (a session, a sign-in) always goes to Flask.
    """

    def __init__(
        self,
        app: WSGIApplication,
        ttl: float,
        languages: Sequence[str],
        size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.ttl = ttl
        self.prefixes = tuple(f"/{code}/" for code in languages)
        self.size = size
        self.clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, str, list[tuple[str, str]], bytes]] = {}

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer from memory when allowed and fresh; otherwise ask Flask (and maybe keep it)."""
        path = environ.get("PATH_INFO", "")
        if (
            self.ttl <= 0
            or environ.get("REQUEST_METHOD") != "GET"
            or environ.get("HTTP_COOKIE")
            or environ.get("QUERY_STRING")
            or not path.startswith(self.prefixes)
        ):
            return self.app(environ, start_response)
        key = (
            environ.get("wsgi.url_scheme", ""),
            environ.get("HTTP_HOST", ""),
            environ.get("SCRIPT_NAME", ""),
            path,
        )
        entry = self._entries.get(key)
        if entry is not None and entry[0] > self.clock():
            start_response(entry[1], list(entry[2]))
            return [entry[3]]
        seen: dict[str, Any] = {}

        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            seen["status"], seen["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = self.app(environ, keep)
        headers = seen.get("headers") or []
        if not (
            environ.get(SHARED_PAGE)
            and str(seen.get("status", "")).startswith("200 ")
            and not any(name.lower() == "set-cookie" for name, _ in headers)
        ):
            return body
        try:
            data = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        if len(self._entries) >= self.size:
            self._entries.clear()  # one entry per page path: only a crawl of odd URLs fills it
        self._entries[key] = (self.clock() + self.ttl, seen["status"], list(headers), data)
        return [data]


# --- Signed-in learners' pages answered before Flask, while their rows stay the same ---------

#: Set in the WSGI environ by `render_page` when it answered from a shared page with one
#: learner's slots filled: (the learner key it filled them for, the course of their summaries).
LEARNER_PAGE = "academy.learner_page"

#: Set in the WSGI environ by LearnerPages when it read the learner's stamp before asking Flask:
#: (learner key, course id, stamp). The page's view may build its slots from the stamp's rows
#: instead of reading them again: the page is then exactly the rows its stamp says.
LEARNER_STAMP = "academy.learner_stamp"

#: Reads what a learner's page depends on in the database: (driver connection, its paramstyle,
#: user id, learner key, course id) -> a stamp compared with == (app/progress/stamps.py).
StampReader = Callable[[Any, str, "int | None", "str | None", "str | None"], object]


@dataclass(frozen=True)
class _Kept:
    """One learner's page as Flask last answered it, and what it was answered from."""

    expires: float
    stamp: object
    status: str
    headers: list[tuple[str, str]]
    body: bytes


class LearnerPages:
    """WSGI middleware: a learner's page answered again from memory while nothing it shows moved.

    A GET of a page under a language prefix, with a session cookie and no query string, that
    Flask last answered from a shared page with this learner's slots filled (`render_page` marks
    the environ), is answered with the same status, headers and bytes when all of this holds:

    - the request is the same in everything the page is made of: path, host, scheme, the whole
      Cookie header (session: account, CSRF token, guest key, EQF level), the client's address,
      X-Forwarded-For and user agent (Flask-Login's session protection reads them);
    - the learner's rows in the database are the same: the account row (a sign-out, a password
      change or a disabled account changes its session token or flag; a new role or EQF level)
      and their progress summaries of the course, read *before* Flask ran, so a write landing
      while Flask renders makes the kept page older than its stamp, never newer. The stamp is
      read from the shared database on every request, so a write by any server process shows
      at once;
    - the page is younger than `ttl` seconds (ACADEMY_CONTENT_RECHECK_SECONDS), as for
      first-time visitors (GuestPages): content edits and rebuilt artefacts show within it.

    A session with flashed messages, a response setting a cookie, an error or a page rendered
    for one viewer only (`shared=False`) always goes through Flask.
    """

    def __init__(
        self,
        app: WSGIApplication,
        flask_app: Flask,
        ttl: float,
        languages: Sequence[str],
        stamp: StampReader,
        size: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.flask_app = flask_app
        self.ttl = ttl
        self.prefixes = tuple(f"/{code}/" for code in languages)
        self.read_stamp = stamp
        self.size = size
        self.clock = clock
        self._entries: OrderedDict[tuple[str, ...], _Kept] = OrderedDict()
        self._pages: set[str] = set()  # paths Flask answered with a learner's page
        self._lock = threading.Lock()
        self._sessions: dict[str, tuple[float, tuple[int | None, str | None] | None]] = {}
        self._engine: Any = None
        self._serializer: Any = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer from memory when the stamp and the request match; otherwise ask Flask."""
        path = environ.get("PATH_INFO", "")
        cookie = environ.get("HTTP_COOKIE")
        if (
            self.ttl <= 0
            or environ.get("REQUEST_METHOD") != "GET"
            or not cookie
            or environ.get("QUERY_STRING")
            or not path.startswith(self.prefixes)
        ):
            return self.app(environ, start_response)
        if path not in self._pages:
            # Not known as a page: no stamp is worth reading. Flask says whether it is one.
            body = self.app(environ, start_response)
            if LEARNER_PAGE in environ and len(self._pages) < 4 * self.size:
                self._pages.add(path)
            return body
        who = self._learner(cookie)
        if who is None:
            return self.app(environ, start_response)
        user_id, learner = who
        parts = path.strip("/").split("/")
        course_id = parts[1] if len(parts) > 1 else None
        try:
            stamp = self._stamp(user_id, learner, course_id)
        except Exception:  # the database away: Flask answers with its own error handling
            log.warning("learner page stamp unreadable; answering through Flask", exc_info=True)
            return self.app(environ, start_response)
        key = (
            environ.get("wsgi.url_scheme", ""),
            environ.get("HTTP_HOST", ""),
            environ.get("SCRIPT_NAME", ""),
            path,
            cookie,
            environ.get("REMOTE_ADDR", ""),
            environ.get("HTTP_X_FORWARDED_FOR", ""),
            environ.get("HTTP_USER_AGENT", ""),
        )
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None:
                self._entries.move_to_end(key)
        if kept is not None and kept.stamp == stamp and kept.expires > self.clock():
            start_response(kept.status, list(kept.headers))
            return [kept.body]
        environ[LEARNER_STAMP] = (learner, course_id, stamp)
        status, headers, answer = _through(self.app, environ, start_response)
        flag = environ.get(LEARNER_PAGE)
        if (
            isinstance(answer, bytes)
            and flag is not None
            and flag[0] == learner
            and flag[1] in (None, course_id)
            and status.startswith("200 ")
            and not any(name.lower() == "set-cookie" for name, _ in headers)
        ):
            with self._lock:
                self._entries[key] = _Kept(self.clock() + self.ttl, stamp, status, headers, answer)
                self._entries.move_to_end(key)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return [answer] if isinstance(answer, bytes) else answer

    def _learner(self, cookie: str) -> tuple[int | None, str | None] | None:
        """(user id, learner key) the session cookie names; None if it cannot be used here."""
        from flask.sessions import SecureCookieSessionInterface

        app = self.flask_app
        if self._serializer is None:
            interface = app.session_interface
            if not isinstance(interface, SecureCookieSessionInterface):
                return None
            self._serializer = interface.get_signing_serializer(app)
            if self._serializer is None:
                return None
        remembered = self._sessions.get(cookie)
        now = self.clock()
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        who = self._decode(cookie)
        if len(self._sessions) >= 4 * self.size:
            self._sessions.clear()
        # Checking the signature again within `ttl` would tell nothing new, but the age limit.
        self._sessions[cookie] = (now + self.ttl, who)
        return who

    def _decode(self, cookie: str) -> tuple[int | None, str | None] | None:
        """The session cookie's (user id, learner key), checked as Flask checks it."""
        from itsdangerous import BadSignature
        from werkzeug.http import parse_cookie

        app = self.flask_app
        value = parse_cookie(cookie).get(app.config["SESSION_COOKIE_NAME"])
        if not value:
            return None
        try:
            data = self._serializer.loads(
                value, max_age=int(app.permanent_session_lifetime.total_seconds())
            )
        except BadSignature:
            return None
        if not isinstance(data, dict) or "_flashes" in data:
            return None  # flashed messages are shown once: Flask takes them out of the session
        number = str(data.get("_user_id") or "").partition(":")[0]
        if number.isdigit():
            return int(number), f"u:{number}"
        guest = data.get("guest")
        return None, (f"g:{guest}" if isinstance(guest, str) and guest else None)

    def _stamp(self, user_id: int | None, learner: str | None, course_id: str | None) -> object:
        """The learner's rows as stored now."""
        if self._engine is None:
            from app.extensions import db

            with self.flask_app.app_context():
                self._engine = db.engine
        connection = self._engine.raw_connection()
        try:
            return self.read_stamp(
                connection, self._engine.dialect.paramstyle, user_id, learner, course_id
            )
        finally:
            connection.close()  # back to the pool, its transaction (if any) rolled back


def _through(
    app: WSGIApplication, environ: WSGIEnvironment, start_response: StartResponse
) -> tuple[str, list[tuple[str, str]], bytes | Iterable[bytes]]:
    """Call `app`; a 200 answer's body is read whole (to keep), any other is passed on."""
    seen: dict[str, Any] = {}

    def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, headers
        return start_response(status, headers, exc_info)

    body = app(environ, keep)
    status = str(seen.get("status", ""))
    headers = list(seen.get("headers") or [])
    if not status.startswith("200 "):
        return status, headers, body
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return status, headers, data


# --- The slots of base.html, on every page -------------------------------------------------

_TOKEN = "\x01"  # stands for the CSRF token inside a memoized fragment


@slot("csrf")
def _csrf(state: PageState) -> str:
    """This session's CSRF token; none for a first-time visitor (see /csrf-token)."""
    from flask_wtf.csrf import generate_csrf

    if state.get("fresh"):
        return ""
    return str(Markup.escape(generate_csrf()))


bp = Blueprint("pages", __name__)


@bp.get("/csrf-token")
def csrf_token() -> Response:
    """A CSRF token for this session (starting one, with a guest's key), for a page's script."""
    from flask_wtf.csrf import generate_csrf

    response = jsonify(token=generate_csrf())
    response.headers["Cache-Control"] = "no-store"
    return response


def fragment(template: str, memo_key: Hashable, **context: Any) -> str:
    """A small template rendered once per `memo_key` (and language), the token left open."""
    from flask_babel import get_locale

    memo = current_app.extensions.setdefault("academy.fragments", {})
    key = (template, str(get_locale()), memo_key)
    html = memo.get(key)
    if html is None:
        if len(memo) > 4096:  # one entry per page path and kind of visitor: keep it bounded
            memo.clear()
        html = current_app.jinja_env.get_template(template).render(csrf_token=_TOKEN, **context)
        memo[key] = html
    return html


@slot("account_nav")
def _account_nav(state: PageState, page_lang: str, path: str) -> str:
    """Sign-in links for a guest; the dashboard, trainer and admin pages and sign-out otherwise."""
    signed_in = bool(current_user.is_authenticated)
    trainer = signed_in and bool(current_user.is_trainer)
    admin = signed_in and current_user.role == "admin"
    html = fragment(
        "_account_nav.html",
        (page_lang, path, signed_in, trainer, admin),
        page_lang=page_lang,
        path=path,
        signed_in=signed_in,
        trainer=trainer,
        admin=admin,
    )
    return html.replace(_TOKEN, _csrf(state)) if _TOKEN in html else html


@slot("flashes")
def _flashes(state: PageState) -> str:
    """Messages flashed to this visitor by the previous request."""
    from flask import get_flashed_messages

    if state.get("fresh"):
        return ""
    messages = get_flashed_messages()
    if not messages:
        return ""
    body = "".join(f"<p>{Markup.escape(m)}</p>" for m in messages)
    return f'<div class="flashes" role="status">{body}</div>'
