"""Accounts administration: search, roles, disabling, one-time reset links; "forgot password"
e-mails the link through a real SMTP server (aiosmtpd on a free loopback port)."""

from __future__ import annotations

import re
import socket
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from app.accounts import admin
from app.accounts import services as accounts
from app.accounts.models import User
from app.extensions import db
from tests.conftest import make_app
from tests.helpers import PASSWORD, csrf_from, login, signed_in

COURSES = Path(__file__).resolve().parent / "courses"
NEW_PASSWORD = "a brand new password"


def setup_users(app: Flask) -> None:
    with app.app_context():
        accounts.create_user("root@example.org", PASSWORD, "Root", "admin")
        accounts.create_user("tina@example.org", PASSWORD, "Tina", "trainer")
        accounts.create_user("lea@example.org", PASSWORD, "Lea Rossi", "learner")
        accounts.create_user("max@example.org", PASSWORD, "Max", "learner")
        db.session.commit()


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    app = make_app(tmp_path, COURSES)
    setup_users(app)
    return app


def user_id(app: Flask, email: str) -> int:
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one().id


def post(client, url: str, **data):  # type: ignore[no-untyped-def]
    token = csrf_from(client, "/en/admin/accounts/")
    return client.post(url, data={"csrf_token": token, **data})


def test_admins_search_change_roles_and_disable(app: Flask) -> None:
    root = signed_in(app, "root@example.org")
    page = root.get("/en/admin/accounts/?q=ROSSI").data.decode()
    assert page.count("data-account=") == 1 and "lea@example.org" in page
    assert root.get("/en/admin/accounts/?q=%25").data.decode().count("data-account=") == 0
    lea = user_id(app, "lea@example.org")
    post(root, f"/en/admin/accounts/{lea}/role", role="trainer")
    with app.app_context():
        assert db.session.get(User, lea).role == "trainer"

    max_client = app.test_client()
    login(max_client, "max@example.org")
    assert max_client.get("/en/me/export.json").status_code == 200
    post(root, f"/en/admin/accounts/{user_id(app, 'max@example.org')}/disabled", disabled="1")
    # Signed out at once, and refused at the sign-in form.
    assert max_client.get("/en/me/export.json").status_code == 302
    refused = login(app.test_client(), "max@example.org")
    assert refused.status_code == 200 and "Wrong e-mail or password" in refused.data.decode()
    post(root, f"/en/admin/accounts/{user_id(app, 'max@example.org')}/disabled", disabled="0")
    assert login(app.test_client(), "max@example.org").status_code == 302

    # The last active admin cannot demote or disable themselves.
    me = user_id(app, "root@example.org")
    post(root, f"/en/admin/accounts/{me}/role", role="learner")
    post(root, f"/en/admin/accounts/{me}/disabled", disabled="1")
    with app.app_context():
        assert db.session.get(User, me).role == "admin" and not db.session.get(User, me).disabled


def test_only_admins_reach_the_accounts_pages(app: Flask) -> None:
    lea = user_id(app, "lea@example.org")
    guest = app.test_client()
    assert "/en/login" in guest.get("/en/admin/accounts/").headers["Location"]
    for email in ("tina@example.org", "lea@example.org"):
        client = signed_in(app, email)
        assert client.get("/en/admin/accounts/").status_code == 403
        token = csrf_from(client, "/en/")
        for action, data in (
            ("role", {"role": "admin"}),
            ("disabled", {"disabled": "1"}),
            ("reset", {}),
        ):
            response = client.post(
                f"/en/admin/accounts/{lea}/{action}", data={"csrf_token": token, **data}
            )
            assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, lea).role == "learner"


def test_a_reset_link_works_once(app: Flask) -> None:
    root = signed_in(app, "root@example.org")
    page = post(root, f"/en/admin/accounts/{user_id(app, 'lea@example.org')}/reset").data.decode()
    link = re.search(r"data-reset-link>([^<]+)<", page).group(1)
    path = "/" + link.split("/", 3)[3]
    with app.app_context():  # only a hash is stored
        stored = (
            db.session.execute(db.text("SELECT token_hash FROM password_resets")).scalars().all()
        )
        assert path.rsplit("/", 1)[1] not in stored
    guest = app.test_client()
    token = csrf_from(guest, path)
    response = guest.post(
        path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert login(app.test_client(), "lea@example.org", NEW_PASSWORD).status_code == 302
    assert guest.get(path).status_code == 410
    assert app.test_client().get("/en/reset/not-a-token").status_code == 410


def test_forgot_password_without_smtp_says_ask_your_trainer(app: Flask) -> None:
    page = app.test_client().get("/en/forgot").data.decode()
    assert "data-ask-trainer" in page and "Ask your trainer" in page
    assert 'href="/en/forgot"' in app.test_client().get("/en/login").data.decode()


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_forgot_password_emails_a_link_through_a_real_smtp_server(tmp_path: Path) -> None:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        app = make_app(
            tmp_path,
            COURSES,
            SMTP_URL=f"smtp://127.0.0.1:{controller.port}",
            MAIL_FROM="Academy <academy@example.org>",
            BASE_URL="http://academy.test/",
        )
        setup_users(app)
        client = app.test_client()
        token = csrf_from(client, "/en/forgot")
        response = client.post("/en/forgot", data={"csrf_token": token, "email": "LEA@example.org"})
        assert response.status_code == 302
        # An unknown address gets the same answer and no e-mail.
        client.post("/en/forgot", data={"csrf_token": token, "email": "nobody@example.org"})
        assert len(inbox.messages) == 1
        sender, recipients, raw = inbox.messages[0]
        assert sender == "academy@example.org" and recipients == ["lea@example.org"]
        mail = message_from_bytes(raw)
        body = mail.get_payload(decode=True).decode()
        link = re.search(r"http://\S+/en/reset/\S+", body).group(0)
        path = "/" + link.split("/", 3)[3]
        token = csrf_from(client, path)
        done = client.post(
            path, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        )
        assert done.status_code == 302
        assert login(app.test_client(), "lea@example.org", NEW_PASSWORD).status_code == 302
    finally:
        controller.stop()
    with app.app_context():
        assert admin.reset_for(path.rsplit("/", 1)[1]) is None


def test_a_mail_server_that_is_down_gets_a_clear_message_and_stores_no_link(
    tmp_path: Path,
) -> None:
    # A free port nobody listens on: the connection is refused.
    app = make_app(tmp_path, COURSES, SMTP_URL=f"smtp://127.0.0.1:{free_port()}")
    setup_users(app)
    client = app.test_client()
    token = csrf_from(client, "/en/forgot")
    response = client.post("/en/forgot", data={"csrf_token": token, "email": "lea@example.org"})
    assert response.status_code == 200
    assert "could not be sent just now" in response.data.decode()
    with app.app_context():
        assert db.session.execute(db.text("SELECT count(*) FROM password_resets")).scalar() == 0
    # The password is unchanged: the learner still signs in with it.
    assert login(app.test_client(), "lea@example.org").status_code == 302


def test_a_reset_link_expires_after_a_day_and_a_new_one_replaces_the_old(app: Flask) -> None:
    from datetime import timedelta

    from app.accounts.models import utcnow

    with app.app_context():
        lea = db.session.get(User, user_id(app, "lea@example.org"))
        stale = admin.issue_reset(lea, now=utcnow() - admin.RESET_LIFETIME - timedelta(minutes=1))
        first = admin.issue_reset(lea)
        second = admin.issue_reset(lea)
        db.session.commit()
    client = app.test_client()
    assert client.get(f"/en/reset/{stale}").status_code == 410
    assert client.get(f"/en/reset/{first}").status_code == 410
    assert client.get(f"/en/reset/{second}").status_code == 200
    assert client.get(f"/it/reset/{second}").data.decode().count("Scegli una nuova password") >= 1


def test_only_admins_see_the_accounts_link_on_cached_pages(app: Flask) -> None:
    link = 'href="/en/admin/accounts/"'
    # The catalogue is a cached page: the link lives in its per-learner account slot.
    assert link in signed_in(app, "root@example.org").get("/en/").data.decode()
    assert link not in signed_in(app, "tina@example.org").get("/en/").data.decode()
    assert link not in app.test_client().get("/en/").data.decode()
    assert 'href="/it/admin/accounts/">Account<' in (
        signed_in(app, "root@example.org").get("/it/").data.decode()
    )
