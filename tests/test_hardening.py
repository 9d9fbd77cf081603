"""Regression tests for the security review: each test names the hole it keeps closed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.progress.models import Statement
from app.quizzes.grading import parse_number
from app.quizzes.render import with_slots
from tests.conftest import CONTENT, make_app
from tests.helpers import PASSWORD, beacon, csrf_from, login, register, write_mini_course

URL = "/en/trial/first-steps/progress"


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    return make_app(tmp_path, CONTENT)


@pytest.mark.db
def test_signing_in_as_someone_else_does_not_take_the_first_accounts_history(app: Flask) -> None:
    register(app.test_client(), "bob@example.org", "Bob")
    shared = app.test_client()  # one browser, two people
    register(shared, "ada@example.org", "Ada")
    beacon(shared, URL, {"verb": "section-read", "section": "experience", "seconds": 600})
    assert login(shared, "bob@example.org").status_code == 302
    register(shared, "cy@example.org", "Cy")  # and registering while signed in
    with app.app_context():
        learners = db.session.scalars(select(Statement.learner)).all()
    assert learners == ["u:2"]  # still Ada's


@pytest.mark.db
def test_a_changed_password_keeps_remember_me_as_it_was(app: Flask) -> None:
    client = app.test_client()
    register(client, "ada@example.org")
    token = csrf_from(client, "/en/me/password")
    client.post(
        "/en/me/password",
        data={"csrf_token": token, "current": PASSWORD, "password": "x" * 12, "confirm": "x" * 12},
    )
    assert client.get_cookie("remember_token") is None


def test_production_needs_a_base_url_and_secure_cookies_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ACADEMY_DEBUG", "ACADEMY_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACADEMY_SECRET_KEY", "k" * 64)
    with pytest.raises(RuntimeError, match="ACADEMY_BASE_URL is not set"):
        create_app()
    monkeypatch.setenv("ACADEMY_BASE_URL", "https://academy.example.org/")
    config = create_app().config
    assert config["REMEMBER_COOKIE_SECURE"] and config["SESSION_COOKIE_SECURE"]
    assert config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert config["WTF_CSRF_TIME_LIMIT"] is None  # a long reading session keeps its token
    assert config["MAX_CONTENT_LENGTH"] == 1024 * 1024


@pytest.mark.pdf
def test_the_host_header_does_not_decide_what_a_pdf_links_to(tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_mini_course(root)
    module = root / "mini" / "01-one" / "it.md"
    quiz = "\n## Quiz {#quiz}\n\nProva.\n\n```quiz\n1. Vero?\n   - (x) Vero\n   - ( ) Falso\n```\n"
    module.write_text(module.read_text(encoding="utf-8") + quiz, encoding="utf-8")
    app = make_app(tmp_path, root, BASE_URL="https://academy.example.org/")
    client = app.test_client()
    response = client.get("/it/mini/one.pdf", headers={"Host": "evil.example"})
    assert response.status_code == 200
    path = tmp_path / "one.pdf"
    path.write_bytes(response.data)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "academy.example.org" in text and "evil.example" not in text
    for n in range(50):
        assert client.get(f"/it/mini/junk{n}.pdf").status_code == 404
    assert len(app.extensions["academy.pdf"]["jobs"]) == 1


def test_media_serves_only_pictures_inside_the_module_folder(tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_mini_course(root)
    media = root / "mini" / "01-one" / "media"
    media.mkdir()
    (media / "ok.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (media / "page.html").write_text("<script>alert(1)</script>", encoding="utf-8")
    (media / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"TOP-SECRET")
    os.symlink(secret, media / "link.png")
    os.symlink(tmp_path, media / "dir")
    client = make_app(tmp_path, root).test_client()
    with client.get("/media/mini/one/ok.png") as ok:  # closes the file it streams
        assert ok.status_code == 200
    for name in ("page.html", "link.png", "dir/secret.png"):
        response = client.get(f"/media/mini/one/{name}")
        assert response.status_code == 404, name
        assert b"TOP-SECRET" not in response.data
    with client.get("/media/mini/one/pic.svg") as svg:
        assert svg.status_code == 200 and "sandbox" in svg.headers["Content-Security-Policy"]


@pytest.mark.db
@pytest.mark.parametrize(
    "body",
    [
        b'{"verb":"audio-progressed","section":"experience","duration":' + b"9" * 400
        + b',"position":1,"listened":1}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)  # fmt: skip
def test_absurd_beacon_bodies_are_refused_not_crashed(app: Flask, body: bytes) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/")
    response = client.post(
        URL, data=body, headers={"X-CSRFToken": token, "Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_oversized_bodies_are_refused_before_parsing(app: Flask) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/")
    response = client.post(URL, data=b"x" * (2 * 1024 * 1024), headers={"X-CSRFToken": token})
    assert response.status_code == 413


@pytest.mark.db
def test_guessing_one_accounts_password_from_many_addresses_is_limited(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONTENT, PROXY_HOPS=1)
    register(app.test_client(), "ada@example.org")
    client = app.test_client()
    token = csrf_from(client, "/en/login")
    codes = []
    for n in range(7):
        response = client.post(
            "/en/login",
            data={"csrf_token": token, "email": "ada@example.org", "password": "guess guess"},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
        )
        codes.append(response.status_code)
    assert codes[:5] == [200] * 5 and codes[-1] == 429


def test_a_blank_inside_an_attribute_still_gets_its_input_in_the_text() -> None:
    html = with_slots(
        ['Type <a title="', '">here</a> then ', " end."], "html", "en", lambda i: f"<input id=g{i}>"
    )
    assert 'title=""' in html and "<input id=g0>" in html and "<input id=g1>" in html
    assert 'title="<input' not in html


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,000,000", 1_000_000),
        ("1.000.000", 1_000_000),
        ("1,000.5", 1000.5),
        ("1.000,5", 1000.5),
        ("3,14", 3.14),
        ("-2", -2),
        ("abc", None),
    ],
)
def test_numbers_with_thousands_separators(text: str, value: float | None) -> None:
    assert parse_number(text) == value


@pytest.mark.db
def test_one_address_trying_many_accounts_is_limited(app: Flask) -> None:
    client = app.test_client()
    token = csrf_from(client, "/en/login")
    codes = [
        client.post(
            "/en/login",
            data={"csrf_token": token, "email": f"u{n}@example.org", "password": "guess guess"},
        ).status_code
        for n in range(11)
    ]
    assert codes[:10] == [200] * 10 and codes[10] == 429
