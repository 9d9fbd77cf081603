"""Small helpers shared by tests: CSRF tokens from real pages, sign-up and sign-in."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

PASSWORD = "correct horse battery"


def csrf_from(client: FlaskClient, url: str) -> str:
    """The CSRF token a real page gives this client (asked for as its script does, if empty).

    A first-time visitor's cached page carries no token: the page's script fetches one from
    /csrf-token before it first posts.
    """
    html = client.get(url).data.decode()
    match = re.search(r'name="csrf-token" content="([^"]*)"', html)
    assert match, f"no CSRF token meta on {url}"
    if match.group(1):
        return match.group(1)
    response = client.get("/csrf-token")
    assert response.status_code == 200
    return response.get_json()["token"]


def register(
    client: FlaskClient, email: str, name: str = "Ada", password: str = PASSWORD, lang: str = "en"
):
    """Create an account through the real form; the client is signed in afterwards."""
    token = csrf_from(client, f"/{lang}/register")
    return client.post(
        f"/{lang}/register",
        data={
            "csrf_token": token,
            "display_name": name,
            "email": email,
            "password": password,
            "confirm": password,
        },
    )


def login(client: FlaskClient, email: str, password: str = PASSWORD, remember: bool = False):
    """Sign in through the real form."""
    token = csrf_from(client, "/en/login")
    data = {"csrf_token": token, "email": email, "password": password}
    if remember:
        data["remember"] = "y"
    return client.post("/en/login", data=data)


def beacon(client: FlaskClient, url: str, payload: dict, token: str | None = None):
    """Post a progress beacon as the page's script does (JSON + X-CSRFToken)."""
    return client.post(
        url, json=payload, headers={"X-CSRFToken": token or csrf_from(client, "/en/")}
    )


def write_mini_course(root) -> None:
    """A one-module, one-language course: the smallest thing that builds audio and PDFs."""
    module = root / "mini" / "01-one"
    module.mkdir(parents=True)
    (root / "mini" / "course.yml").write_text(
        "languages: [it]\ntitle: {it: Mini}\ndescription: {it: Un corso minimo.}\n",
        encoding="utf-8",
    )
    (module / "it.md").write_text(
        "---\ntitle: Uno\neqf: 3\nduration: 5\ndescription: Breve.\nkeywords: [uno]\n"
        "outcomes: [Spiegare uno]\n---\n\nIntroduzione breve.\n\n## Primo {#primo}\n\n"
        "Una frase. Poi un'altra.\n",
        encoding="utf-8",
    )


def signed_in(app, email: str) -> FlaskClient:
    """A client already signed in as `email`, without the login form and its rate limits.

    For tests that sign the same people in many times; the form itself is tested elsewhere.
    """
    from app.accounts.models import User
    from app.extensions import db

    with app.app_context():
        user = db.session.query(User).filter_by(email=email).one()
        user_id = user.get_id()
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    return client


class Counting:
    """A WSGI app wrapped to count the requests that reach it (behind a page-answering layer)."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.calls = 0

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self.inner(environ, start_response)
