"""Accounts: registration, sign-in, remember me, passwords, export, deletion, roles."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app.accounts.models import User
from app.accounts.services import set_password_hash
from app.config import DEFAULTS, ConfigError
from app.extensions import db
from tests.conftest import CONTENT, TEST_PASSWORD_HASH, make_app
from tests.helpers import PASSWORD, beacon, csrf_from, login, register

pytestmark = pytest.mark.db


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, CONTENT)


def user(app: Flask, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_register_hashes_the_password_and_signs_in(app: Flask) -> None:
    client = app.test_client()
    response = register(client, "Ada@Example.org", "Ada Lovelace")
    assert response.status_code == 302
    stored = user(app, "ada@example.org")
    assert stored is not None and stored.role == "learner"
    assert stored.password_hash.startswith(TEST_PASSWORD_HASH + "$")
    assert PASSWORD not in stored.password_hash
    page = client.get("/en/me/").data.decode()
    assert "Sign out" in page and "Change password" in page


def test_the_password_hash_setting_hashes_new_passwords_and_old_hashes_still_verify(
    tmp_path: Path,
) -> None:
    assert DEFAULTS["PASSWORD_HASH"] == "scrypt"  # werkzeug's full cost unless a site lowers it
    pbkdf2 = make_app(tmp_path, CONTENT, PASSWORD_HASH="pbkdf2:sha256:2000")
    assert register(pbkdf2.test_client(), "ada@example.org").status_code == 302
    stored = user(pbkdf2, "ada@example.org")
    assert stored is not None and stored.password_hash.startswith("pbkdf2:sha256:2000$")
    assert login(pbkdf2.test_client(), "ada@example.org").status_code == 302

    # Another method for new passwords (as after a site changes the setting): the stored hash
    # still verifies as it was made, a wrong password is still refused, a new one is hashed anew.
    with pbkdf2.app_context():
        set_password_hash("scrypt:2048:8:1")
    client = pbkdf2.test_client()
    assert "Wrong e-mail or password." in login(client, "ada@example.org", "wrong one!!").text
    assert login(client, "ada@example.org").status_code == 302
    token = csrf_from(client, "/en/me/password")
    new = "a new passphrase"
    changed = client.post(
        "/en/me/password",
        data={"csrf_token": token, "current": PASSWORD, "password": new, "confirm": new},
    )
    assert changed.status_code == 302, changed.text
    stored = user(pbkdf2, "ada@example.org")
    assert stored is not None and stored.password_hash.startswith("scrypt:2048:8:1$")
    assert login(pbkdf2.test_client(), "ada@example.org", new).status_code == 302

    for wrong in ("md5", "scrypt:lots", "pbkdf2:nohash:10", "plain"):
        with pytest.raises(ConfigError, match="ACADEMY_PASSWORD_HASH"):
            make_app(tmp_path / "b", CONTENT, migrate=False, PASSWORD_HASH=wrong)


@pytest.mark.parametrize(
    ("password", "confirm", "message"),
    [("short", "short", "Use at least 10 characters."), (PASSWORD, "other one!!", "differ")],
)
def test_register_refuses_weak_or_mismatched_passwords(
    app: Flask, password: str, confirm: str, message: str
) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/register")
    response = client.post(
        "/en/register",
        data={
            "csrf_token": token,
            "display_name": "Bo",
            "email": "bo@example.org",
            "password": password,
            "confirm": confirm,
        },
    )
    assert response.status_code == 200 and message in response.data.decode()
    assert user(app, "bo@example.org") is None


def test_an_email_registers_once(app: Flask) -> None:
    register(app.test_client(), "ada@example.org")
    response = register(app.test_client(), "ADA@example.org")
    assert "An account with this e-mail already exists." in response.data.decode()


def test_forms_without_a_csrf_token_are_refused(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/en/register",
        data={
            "display_name": "X",
            "email": "x@example.org",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 400
    assert user(app, "x@example.org") is None


def test_login_logout_and_wrong_password(app: Flask) -> None:
    register(app.test_client(), "ada@example.org")
    client = app.test_client()
    assert (
        "Wrong e-mail or password."
        in login(client, "ada@example.org", "wrong password!").data.decode()
    )
    assert login(client, "ada@example.org").status_code == 302
    assert "Sign out" in client.get("/en/").data.decode()
    token = csrf_from(client, "/en/")
    assert client.post("/en/logout", data={"csrf_token": token}).status_code == 302
    assert "Sign in" in client.get("/en/").data.decode()


def test_logout_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    assert client.post("/en/logout").status_code == 400
    assert "Sign out" in client.get("/en/").data.decode()


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/en/trial/", "/en/trial/"),
        ("https://evil.example/", "/en/me/"),
        ("//evil.example/path", "/en/me/"),
        ("/\\evil.example", "/en/me/"),
        ("javascript:alert(1)", "/en/me/"),
    ],
)
def test_next_redirects_only_to_this_site(app: Flask, target: str, expected: str) -> None:
    register(app.test_client(), "ada@example.org")
    client = app.test_client()
    token = csrf_from(client, "/en/login")
    response = client.post(
        "/en/login",
        query_string={"next": target},
        data={"csrf_token": token, "email": "ada@example.org", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_login_is_rate_limited_with_a_friendly_page(app: Flask) -> None:
    register(app.test_client(), "ada@example.org")
    client = app.test_client()
    token = csrf_from(client, "/it/login")
    codes = []
    for _ in range(12):
        response = client.post(
            "/it/login",
            data={"csrf_token": token, "email": "ada@example.org", "password": "nope nope!"},
        )
        codes.append(response.status_code)
    # Five wrong passwords for one account, then a friendly refusal (ten per address).
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 7
    assert "Troppi tentativi" in response.data.decode()


def test_session_cookie_flags(app: Flask) -> None:
    client = app.test_client()
    response = register(client, "ada@example.org")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_remember_me_survives_a_new_session_until_the_password_changes(app: Flask) -> None:
    register(app.test_client(), "ada@example.org")
    laptop = app.test_client()
    login(laptop, "ada@example.org", remember=True)
    remember = laptop.get_cookie("remember_token")
    assert remember is not None
    # A new browser session with only the remember cookie is still signed in.
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert "Sign out" in fresh.get("/en/").data.decode()

    phone = app.test_client()
    login(phone, "ada@example.org")
    token = csrf_from(phone, "/en/me/password")
    response = phone.post(
        "/en/me/password",
        data={
            "csrf_token": token,
            "current": PASSWORD,
            "password": "a brand new secret",
            "confirm": "a brand new secret",
        },
    )
    assert response.status_code == 302
    assert "Sign out" in phone.get("/en/").data.decode()  # the device that changed it stays in
    stale = app.test_client()
    stale.set_cookie("remember_token", remember.value)
    assert "Sign in" in stale.get("/en/").data.decode()
    assert login(app.test_client(), "ada@example.org", "a brand new secret").status_code == 302


def test_change_password_checks_the_current_one(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    token = csrf_from(client, "/en/me/password")
    response = client.post(
        "/en/me/password",
        data={
            "csrf_token": token,
            "current": "not it at all",
            "password": "x" * 12,
            "confirm": "x" * 12,
        },
    )
    assert "This is not your current password." in response.data.decode()


def test_account_pages_need_a_signed_in_learner(app: Flask) -> None:
    client = app.test_client()
    for url in ("/en/me/password", "/en/me/export.json", "/en/me/delete"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/en/login?next=")


def test_export_contains_exactly_the_learners_own_data(app: Flask) -> None:
    ada, bob = app.test_client(), app.test_client()
    register(ada, "ada@example.org", "Ada")
    register(bob, "bob@example.org", "Bob")
    url = "/en/trial/first-steps/progress"
    assert (
        beacon(ada, url, {"verb": "section-read", "section": "words", "seconds": 600}).status_code
        == 200
    )
    assert (
        beacon(
            bob, url, {"verb": "section-read", "section": "experience", "seconds": 600}
        ).status_code
        == 200
    )
    response = ada.get("/en/me/export.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = json.loads(response.data)
    assert data["account"]["email"] == "ada@example.org"
    assert [p["sections_read"] for p in data["progress"]] == [["words"]]
    (statement,) = data["statements"]
    # Conformant xAPI 1.0.3, shaped as the statements API serves it (app/xapi/shaping.py).
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/experienced"
    base = "http://localhost/"
    assert statement["object"]["id"] == base + "xapi/activities/trial/first-steps/words"
    assert statement["object"]["definition"]["type"] == "http://adlnet.gov/expapi/activities/lesson"
    assert statement["actor"]["account"]["homePage"] == base
    assert re.fullmatch(r"[0-9a-f]{32}", statement["actor"]["account"]["name"])  # opaque
    assert statement["context"]["language"] == "en"
    assert statement["context"]["contextActivities"]["parent"] == [
        {"objectType": "Activity", "id": base + "xapi/activities/trial/first-steps"}
    ]
    assert statement["version"] == "1.0.3" and data["voided_statements"] == []
    assert "bob" not in response.data.decode().lower()


def test_delete_account_removes_the_user_and_every_statement(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    beacon(
        client,
        "/en/trial/first-steps/progress",
        {"verb": "section-read", "section": "experience", "seconds": 600},
    )
    token = csrf_from(client, "/en/me/delete")
    wrong = client.post("/en/me/delete", data={"csrf_token": token, "password": "not my password"})
    assert "This is not your password." in wrong.data.decode()
    assert (
        client.post("/en/me/delete", data={"csrf_token": token, "password": PASSWORD}).status_code
        == 302
    )
    assert user(app, "ada@example.org") is None
    with app.app_context():
        from app.progress.models import ModuleProgress, Statement

        assert db.session.scalars(select(Statement)).all() == []
        assert db.session.scalars(select(ModuleProgress)).all() == []


def test_flask_users_create_makes_a_trainer(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=["users", "create", "--role", "trainer", "tina@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created trainer tina@example.org" in result.output
    assert user(app, "tina@example.org").role == "trainer"
    again = app.test_cli_runner().invoke(
        args=["users", "create", "tina@example.org", "--password", PASSWORD]
    )
    assert again.exit_code != 0 and "already exists" in again.output


def test_the_user_loader_gives_the_account_as_a_query_would_and_saves_its_changes(
    app: Flask,
) -> None:
    from app.accounts import services
    from app.database import write_transaction

    register(app.test_client(), "ada@example.org", "Ada Lovelace")
    with app.app_context():
        queried = db.session.scalar(select(User).where(User.email == "ada@example.org"))
        assert queried is not None
        expected = {c.key: getattr(queried, c.key) for c in User.__table__.columns}
        user_id = queried.id
    with app.app_context():
        loaded = services.user_by_id(user_id)
        assert loaded is not None
        assert {c.key: getattr(loaded, c.key) for c in User.__table__.columns} == expected
        assert loaded.created_at.tzinfo is not None and loaded.disabled is False
        assert not db.session.dirty and not db.session.new  # nothing to write back
        assert services.user_by_id(user_id) is loaded is db.session.get(User, user_id)
        assert services.user_by_id(user_id + 1000) is None
        write_transaction()
        loaded.eqf_level = 4
        db.session.commit()
        assert loaded.display_name == "Ada Lovelace"  # expired by the commit, read again
        assert services.user_by_id(user_id) is loaded
    assert user(app, "ada@example.org").eqf_level == 4
