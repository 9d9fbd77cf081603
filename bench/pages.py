"""Page and quiz figures under the production server, measured side by side in one run.

Our app and a bare Flask route serving the same bytes (bench/bare.py) each run under gunicorn
with deploy/gunicorn.conf.py and the same worker count; wrk drives both on loopback, in
alternating rounds so that other load on the machine hits both alike.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import statistics
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

from bench.server import ROOT, app_env, gunicorn, migrate, wrk

CONTENT = ROOT / "content"
PASSWORD = "bench horse battery staple"


#: One browser's User-Agent for the sign-in and for wrk's requests with its cookie: the session
#: protection (Flask-Login) ties a session to it, as a real browser sends the same one each time.
USER_AGENT = "bench-browser/1.0"


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects (we check them)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )
        self.opener.addheaders = [("User-Agent", USER_AGENT)]

    def get(self, path: str) -> tuple[int, str]:
        """Status and text of a GET."""
        return self._open(urllib.request.Request(self.base + path))

    def post(
        self,
        path: str,
        form: dict[str, str] | None = None,
        json_body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Status and text of a form or JSON POST."""
        if json_body is not None:
            data = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}
        else:
            data = urllib.parse.urlencode(form or {}).encode()
        return self._open(
            urllib.request.Request(self.base + path, data=data, headers=headers or {})
        )

    def _open(self, request: urllib.request.Request) -> tuple[int, str]:
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def cookie_header(self) -> str:
        """The Cookie header this client would send."""
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def token(html: str) -> str:
    """The page's CSRF token."""
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_up(browser: Browser, email: str) -> None:
    """Register a learner through the real form."""
    _, html = browser.get("/en/register")
    status, _ = browser.post(
        "/en/register",
        form={
            "csrf_token": token(html),
            "display_name": "Bench",
            "email": email,
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert status in (302, 303), f"registration failed: {status}"


def first_module() -> tuple[str, str, list[str]]:
    """Course id, module id and section ids of the course's first Italian module."""
    from app.content.loader import load_catalogue

    course = next(c for c in load_catalogue(CONTENT).courses.values() if c.visible)
    module = course.visible[0].versions["it"]
    return course.id, module.id, [s.id for s in module.reading_sections]


def quiz_latencies(base: str, path: str, clients: int, each: int, warm: int = 0) -> list[float]:
    """Milliseconds per quiz POST (grade, store, record progress), `clients` learners at once.

    :param warm: submissions per learner before timing starts. Each gunicorn worker pays once
        for its first quiz (templates compiled, quiz texts rendered, code paths imported):
        with 5 workers and 160 timed POSTs those first ones alone were the slowest 5 %.
    """
    times: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []

    def learner() -> None:
        browser = Browser(base)
        for n in range(warm + each):
            _, html = browser.get(path)
            fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
            start = time.perf_counter()
            status, _ = browser.post(path, form=fields)
            elapsed = (time.perf_counter() - start) * 1000
            if status != 303:
                errors.append(f"quiz POST answered {status}")
            if n < warm:
                continue
            with lock:
                times.append(elapsed)

    threads = [threading.Thread(target=learner) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(errors[0])
    return times


def main(rounds: int = 3, seconds: int = 5) -> None:
    """Guest and signed-in module page against the bare route; quiz submit latency."""
    course_id, module_id, sections = first_module()
    page = f"/it/{course_id}/{module_id}/"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = app_env(tmp, CONTENT)
        migrate(env)
        with gunicorn("wsgi:app", env, tmp) as ours:
            guest = Browser(ours)
            status, html = guest.get(page)
            assert status == 200
            body = tmp / "page.html"
            body.write_text(html, encoding="utf-8")

            learner = Browser(ours)
            sign_up(learner, "bench@example.org")
            _, html = learner.get(page)
            csrf = token(html)
            for section in sections[: max(1, len(sections) // 2)]:
                status, _ = learner.post(
                    f"{page}progress",
                    json_body={"verb": "section-read", "section": section, "seconds": 600},
                    headers={"X-CSRFToken": csrf},
                )
                assert status == 200, f"beacon failed: {status}"
            _, signed_html = learner.get(page)
            assert "read-mark" in signed_html, "the signed-in page shows no progress"
            cookie = learner.cookie_header()

            with gunicorn("bench.bare:app", {**env, "BENCH_BODY": str(body)}, tmp) as bare:
                figures: dict[str, list[float]] = {"bare": [], "guest": [], "signed": []}
                for _ in range(rounds):
                    figures["bare"].append(wrk(bare + "/", seconds))
                    figures["guest"].append(wrk(ours + page, seconds))
                    figures["signed"].append(
                        wrk(
                            ours + page,
                            seconds,
                            headers={"Cookie": cookie, "User-Agent": USER_AGENT},
                        )
                    )
            size = len(html.encode())
            median = {k: statistics.median(v) for k, v in figures.items()}
            print(
                f"pages: gunicorn (deploy/gunicorn.conf.py), wrk 2 threads 8 connections, "
                f"{rounds} rounds of {seconds} s, {size / 1024:.0f} KB module page"
            )
            for label, key in (
                ("bare Flask route, same bytes", "bare"),
                ("guest module page", "guest"),
                ("signed-in module page", "signed"),
            ):
                runs = ", ".join(f"{v:.0f}" for v in figures[key])
                print(f"  {label:<32} {median[key]:8.0f} req/s  (rounds: {runs})")
            print(f"  guest / bare     {median['guest'] / median['bare']:.2f}x   (goal >= 0.8x)")
            print(f"  signed-in / bare {median['signed'] / median['bare']:.2f}x   (goal >= 0.5x)")

            times = quiz_latencies(ours, f"{page}quiz", clients=4, each=40, warm=10)
            times.sort()
            p50 = times[len(times) // 2]
            p95 = times[int(len(times) * 0.95) - 1]
            print(
                f"  quiz submit (4 learners at once, {len(times)} POSTs after 40 untimed): "
                f"p50 {p50:.1f} ms, p95 {p95:.1f} ms   (goal p95 <= 50 ms)"
            )


if __name__ == "__main__":
    main()
