"""Signing out revokes: neither the old session cookie nor "remember me" reads the account after."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_app
from tests.fixture_course import write_course
from tests.helpers import csrf_from, login, register

pytestmark = pytest.mark.db

EXPORT = "/en/me/export.json"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    """The demo course, with one account."""
    app = make_app(tmp_path, write_course(tmp_path / "content", modules=1))
    register(app.test_client(), "ada@example.org")
    return app


def copy_of(app: Flask, source: FlaskClient, name: str) -> FlaskClient:
    """A new browser holding only one cookie copied from another (a stolen cookie)."""
    client = app.test_client()
    cookie = source.get_cookie(name)
    assert cookie is not None, name
    client.set_cookie(name, cookie.value)
    return client


def reads_the_account(client: FlaskClient) -> bool:
    """Whether this browser gets the account's data export."""
    response = client.get(EXPORT)
    return response.status_code == 200 and b"ada@example.org" in response.data


def test_signing_out_revokes_the_session_and_remember_me_cookies(app: Flask) -> None:
    """Copies taken before `POST /en/logout` stop working after it."""
    laptop = app.test_client()
    login(laptop, "ada@example.org", remember=True)
    stolen_session = copy_of(app, laptop, "session")
    stolen_remember = copy_of(app, laptop, "remember_token")
    assert reads_the_account(stolen_session) and reads_the_account(stolen_remember)

    token = csrf_from(laptop, "/en/")
    assert laptop.post("/en/logout", data={"csrf_token": token}).status_code == 302
    assert not reads_the_account(laptop)
    assert not reads_the_account(stolen_session)
    assert not reads_the_account(stolen_remember)
    # The account itself is fine: signing in again works.
    assert login(app.test_client(), "ada@example.org").status_code == 302


def test_sign_out_on_every_device_from_the_account_page(app: Flask) -> None:
    """One button on the dashboard ends the sessions of every browser; it needs a CSRF token."""
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, "ada@example.org", remember=True)
    login(phone, "ada@example.org")
    page = phone.get("/en/me/").data.decode()
    assert 'action="/en/me/sign-out-everywhere"' in page and "Sign out on every device" in page
    assert phone.post("/en/me/sign-out-everywhere").status_code == 400  # no CSRF token
    assert reads_the_account(laptop)

    token = csrf_from(phone, "/en/me/")
    response = phone.post("/en/me/sign-out-everywhere", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("/en/login")
    assert "You are signed out on every device" in phone.get("/en/login").data.decode()
    assert not reads_the_account(phone)
    assert not reads_the_account(laptop)
    assert not reads_the_account(copy_of(app, laptop, "remember_token"))
