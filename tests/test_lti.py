"""LTI 1.3: the test plays the platform (Moodle's part) and launches the tool.

The platform has its own RSA key; its JWKS, OAuth2 token endpoint and AGS score endpoint are
served by a real HTTP server on loopback. The test follows the spec's messages: the OIDC login
initiation, the authentication redirect (state, nonce), the signed id_token posted back, and
the score the tool sends through AGS when the learner passes the quiz.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from jwcrypto import jwk
from sqlalchemy import select

from app import tasks
from app.accounts import admin
from app.accounts.models import User
from app.extensions import db
from app.lti.models import LtiAccount, LtiGradeLink
from tests.conftest import CONTENT, make_app
from tests.test_quizzes import module_of, page_form, right_answers

pytestmark = pytest.mark.db

ISSUER = "https://moodle.example.org"
CLIENT_ID = "academy-tool"
DEPLOYMENT = "deployment-1"
MODULE_URL = "en/trial/first-steps/"
LEARNER_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR_ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


@dataclass
class Platform:
    """What the platform's server saw, and how it answers."""

    url: str
    key: jwk.JWK
    tool_jwks: dict[str, Any] = field(default_factory=dict)
    jwks_requests: int = 0
    tokens: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    fail_scores: int = 0  # answer this many score posts with 503 first
    refused: list[str] = field(default_factory=list)

    def sign(self, claims: dict[str, Any], key: jwk.JWK | None = None) -> str:
        """An id_token signed RS256 with the platform's key (or another one)."""
        # The key object itself: handing PyJWT the PEM would load and check the key each time.
        private = (key or self.key).get_op_key("sign")
        return jwt.encode(claims, private, algorithm="RS256", headers={"kid": "platform-key-1"})


def _handler(platform: Platform) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/jwks":
                platform.jwks_requests += 1
                public = json.loads(platform.key.export_public())
                self._reply(200, {"keys": [{**public, "kid": "platform-key-1", "alg": "RS256"}]})
            else:
                self._reply(404, {})

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body).items()}
                try:
                    # The tool's client assertion, checked against the tool's own JWKS.
                    header = jwt.get_unverified_header(form["client_assertion"])
                    (key,) = [k for k in platform.tool_jwks["keys"] if k["kid"] == header["kid"]]
                    claims = jwt.decode(
                        form["client_assertion"],
                        jwt.PyJWK(key).key,
                        algorithms=["RS256"],
                        audience=platform.url + "/token",
                    )
                except Exception as error:  # noqa: BLE001 - the platform refuses, whatever failed
                    platform.refused.append(f"token: {error!r}")
                    self._reply(401, {"error": "invalid_client"})
                    return
                platform.tokens.append({**form, "claims": claims})
                self._reply(200, {"access_token": "token-7", "token_type": "Bearer"})
            elif self.path == "/lineitems/12/lineitem/scores":
                if self.headers.get("Authorization") != "Bearer token-7":
                    self._reply(401, {})
                    return
                if platform.fail_scores > 0:
                    platform.fail_scores -= 1
                    self._reply(503, {})
                    return
                assert self.headers["Content-Type"] == "application/vnd.ims.lis.v1.score+json"
                platform.scores.append(json.loads(body))
                self._reply(200, {})
            else:
                self._reply(404, {})

    return Handler


@functools.cache
def platform_key() -> jwk.JWK:
    """The platform's RSA key, made once per test process (making one takes 0.1-0.2 s)."""
    return jwk.JWK.generate(kty="RSA", size=2048)


@pytest.fixture
def platform() -> Iterator[Platform]:
    """The platform's server on a free loopback port, stopped after the test."""
    key = platform_key()
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Platform(url=f"http://127.0.0.1:{server.server_port}", key=key)
    server.RequestHandlerClass = _handler(found)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lti_app(tmp_path: Path, platform: Platform) -> Flask:
    """The tool on the fixture course, the platform registered by an admin with the CLI."""
    app = make_app(
        tmp_path,
        CONTENT,
        BASE_URL="http://tool.test/",
        LTI_KEY_FILE=str(tmp_path / "lti" / "tool-key.pem"),
        QUEUE_RETRY_FACTOR=0.01,
    )
    result = app.test_cli_runner().invoke(
        args=[
            "lti",
            "register",
            "--name",
            "Moodle",
            "--issuer",
            ISSUER,
            "--client-id",
            CLIENT_ID,
            "--login-url",
            platform.url + "/auth",
            "--token-url",
            platform.url + "/token",
            "--jwks-url",
            platform.url + "/jwks",
            "--deployment-id",
            DEPLOYMENT,
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Registered platform 1: Moodle (academy-tool)." in result.output
    platform.tool_jwks = app.test_client().get("/lti/jwks.json").get_json()
    return app


def login_step(client: FlaskClient, target: str = MODULE_URL) -> dict[str, str]:
    """OIDC login initiation as the platform starts it; the auth request's parameters."""
    response = client.post(
        "/lti/login",
        data={
            "iss": ISSUER,
            "client_id": CLIENT_ID,
            "login_hint": "user-42",
            "lti_message_hint": "resource-9",
            "target_link_uri": "http://tool.test/" + target,
        },
    )
    assert response.status_code == 302, response.data
    location = urlsplit(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(location.query).items()}
    return {"location": f"{location.scheme}://{location.netloc}{location.path}", **params}


def id_token_claims(auth: dict[str, str], **changes: Any) -> dict[str, Any]:
    """A resource link launch for the auth request, as the platform signs it."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "azp": CLIENT_ID,
        "sub": "user-42",
        "iat": now,
        "exp": now + 300,
        "nonce": auth["nonce"],
        "name": "Ada Rossi",
        "email": "ada@example.org",
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiResourceLinkRequest",
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": DEPLOYMENT,
        "https://purl.imsglobal.org/spec/lti/claim/target_link_uri": "http://tool.test/"
        + MODULE_URL,
        "https://purl.imsglobal.org/spec/lti/claim/resource_link": {"id": "resource-9"},
        "https://purl.imsglobal.org/spec/lti/claim/roles": [LEARNER_ROLE],
        "https://purl.imsglobal.org/spec/lti/claim/context": {"id": "course-3", "title": "CX"},
    }
    claims.update(changes)
    return claims


def signed_in_user(client: FlaskClient) -> str | None:
    """Who the client's session is signed in as (Flask-Login's id), if anyone."""
    with client.session_transaction() as session:
        return session.get("_user_id")


def launch(client: FlaskClient, token: str, auth: dict[str, str]):
    """The platform's form post of the id_token to the tool's redirect URI."""
    return client.post("/lti/launch", data={"id_token": token, "state": auth["state"]})


def test_tool_publishes_its_jwks_and_its_configuration(lti_app: Flask) -> None:
    keys = lti_app.test_client().get("/lti/jwks.json").get_json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256"
    assert "d" not in keys[0]  # the public half only
    info = json.loads(lti_app.test_cli_runner().invoke(args=["lti", "info"]).output)
    assert info["initiate_login_url"] == "http://tool.test/lti/login"
    assert info["redirect_uris"] == ["http://tool.test/lti/launch"]
    assert info["public_jwk"]["kid"] == keys[0]["kid"]
    # The same key on the next start: it is kept in its file, readable by its owner only.
    assert (Path(lti_app.config["LTI_KEY_FILE"]).stat().st_mode & 0o777) == 0o600
    folder = Path(lti_app.config["LTI_KEY_FILE"]).parent.parent / "again"
    folder.mkdir()
    again = make_app(folder, CONTENT, migrate=False, LTI_KEY_FILE=lti_app.config["LTI_KEY_FILE"])
    assert again.test_client().get("/lti/jwks.json").get_json()["keys"] == keys


def test_registration_refuses_duplicates_and_plain_http(lti_app: Flask, platform: Platform) -> None:
    runner = lti_app.test_cli_runner()
    common = [
        "--login-url",
        platform.url + "/auth",
        "--token-url",
        platform.url + "/token",
        "--deployment-id",
        "d",
    ]
    result = runner.invoke(
        args=[
            "lti",
            "register",
            "--issuer",
            ISSUER,
            "--client-id",
            CLIENT_ID,
            "--jwks-url",
            platform.url + "/jwks",
            *common,
        ]
    )
    assert result.exit_code == 1 and "registered already" in result.output
    result = runner.invoke(
        args=[
            "lti",
            "register",
            "--issuer",
            "x",
            "--client-id",
            "y",
            "--jwks-url",
            "http://lms.example.org/jwks",
            *common,
        ]
    )
    assert result.exit_code == 1 and "must be an https:// URL" in result.output
    listed = runner.invoke(args=["lti", "list"]).output.splitlines()
    assert listed == [f"1\tactive\tMoodle\t{ISSUER}\t{CLIENT_ID}\t{DEPLOYMENT}"]


def test_a_launch_signs_the_learner_in_and_opens_the_module(
    lti_app: Flask, platform: Platform
) -> None:
    client = lti_app.test_client()
    auth = login_step(client)
    # The authentication request the spec asks for, to the platform's login URL.
    assert auth["location"] == platform.url + "/auth"
    assert auth["redirect_uri"] == "http://tool.test/lti/launch"
    assert (auth["scope"], auth["response_type"], auth["response_mode"], auth["prompt"]) == (
        "openid",
        "id_token",
        "form_post",
        "none",
    )
    assert auth["client_id"] == CLIENT_ID and auth["login_hint"] == "user-42"
    assert auth["lti_message_hint"] == "resource-9" and auth["state"] and auth["nonce"]

    response = launch(client, platform.sign(id_token_claims(auth)), auth)
    assert response.status_code == 303, response.data
    assert response.headers["Location"] == "/en/trial/first-steps/"
    assert platform.jwks_requests == 1  # the key came from the platform's JWKS
    assert client.get("/en/trial/first-steps/").status_code == 200
    assert signed_in_user(client) is not None
    with lti_app.app_context():
        user = db.session.scalars(select(User).where(User.display_name == "Ada Rossi")).one()
        assert user.role == "learner"
        # No password, and never the e-mail the platform sent (it could name anyone's account).
        assert user.password_hash == "" and user.email.endswith("@lti.invalid")
    assert client.post("/en/login", data={"email": user.email, "password": ""}).status_code != 303

    # The same launch a second time (a replayed token) is refused, and signs nobody in.
    other = lti_app.test_client()
    other.set_cookie(f"lti1p3-{auth['state']}", auth["state"])
    replay = launch(other, platform.sign(id_token_claims(auth)), auth)
    assert replay.status_code == 400 and signed_in_user(other) is None
    assert "nonce" in replay.data.decode().lower()
    assert "data-lti-reason" in replay.data.decode()

    # Next launch: the same account, name and role kept in step with the platform.
    auth = login_step(client)
    claims = id_token_claims(
        auth,
        name="Ada Rossi-Bianchi",
        **{"https://purl.imsglobal.org/spec/lti/claim/roles": [INSTRUCTOR_ROLE]},
    )
    assert launch(client, platform.sign(claims), auth).status_code == 303
    with lti_app.app_context():
        accounts = db.session.scalars(select(LtiAccount)).all()
        assert len(accounts) == 1
        user = db.session.get(User, accounts[0].user_id)
        assert user is not None
        assert (user.display_name, user.role) == ("Ada Rossi-Bianchi", "trainer")
    assert client.get("/en/trainer/content/").status_code == 200

    # An account an admin disabled is not signed in by a launch either.
    with lti_app.app_context():
        admin.set_disabled(db.session.get(User, accounts[0].user_id), True)
        db.session.commit()
    fresh = lti_app.test_client()
    auth = login_step(fresh)
    refused = launch(fresh, platform.sign(id_token_claims(auth)), auth)
    assert refused.status_code == 403 and signed_in_user(fresh) is None


@pytest.mark.parametrize(
    "forgery",
    ["signature", "audience", "expired", "issuer", "deployment", "nonce", "state", "target"],
)
def test_forged_launches_are_refused(lti_app: Flask, platform: Platform, forgery: str) -> None:
    client = lti_app.test_client()
    auth = login_step(client)
    claims = id_token_claims(auth)
    key = None
    state = auth["state"]
    if forgery == "signature":
        key = jwk.JWK.generate(kty="RSA", size=2048)  # the right kid, another key
    elif forgery == "audience":
        claims["aud"] = claims["azp"] = "another-tool"
    elif forgery == "expired":
        claims["iat"], claims["exp"] = claims["iat"] - 900, claims["iat"] - 600
    elif forgery == "issuer":
        claims["iss"] = "https://evil.example.org"
    elif forgery == "deployment":
        claims["https://purl.imsglobal.org/spec/lti/claim/deployment_id"] = "deployment-2"
    elif forgery == "nonce":
        claims["nonce"] = "made-up-nonce"
    elif forgery == "state":
        state = "state-guessed"
    elif forgery == "target":
        claims["https://purl.imsglobal.org/spec/lti/claim/target_link_uri"] = "http://evil.test/"
    response = client.post(
        "/lti/launch", data={"id_token": platform.sign(claims, key), "state": state}
    )
    assert response.status_code == 400, forgery
    assert "data-lti-reason" in response.data.decode()
    with lti_app.app_context():
        assert db.session.scalars(select(LtiAccount)).all() == []
    assert signed_in_user(client) is None


def test_login_refuses_unknown_platforms_and_foreign_targets(lti_app: Flask) -> None:
    client = lti_app.test_client()
    response = client.post(
        "/lti/login",
        data={
            "iss": "https://evil.example.org",
            "login_hint": "x",
            "target_link_uri": "http://tool.test/" + MODULE_URL,
        },
    )
    assert response.status_code == 400
    response = client.post(
        "/lti/login",
        data={
            "iss": ISSUER,
            "client_id": CLIENT_ID,
            "login_hint": "x",
            "target_link_uri": "https://evil.test/",
        },
    )
    assert response.status_code == 400


def test_passing_the_quiz_sends_the_score_back_through_ags(
    lti_app: Flask, platform: Platform
) -> None:
    client = lti_app.test_client()
    auth = login_step(client)
    claims = id_token_claims(
        auth,
        **{
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": [LINEITEM_SCOPE, SCORE],
                "lineitem": platform.url + "/lineitems/12/lineitem",
                "lineitems": platform.url + "/lineitems",
            }
        },
    )
    assert launch(client, platform.sign(claims), auth).status_code == 303
    module = module_of(lti_app, "trial", "first-steps")
    quiz = "/en/trial/first-steps/quiz"
    platform.fail_scores = 1  # the gradebook is down at first: the queue retries
    with tasks.running_worker(lti_app):
        # A failed attempt first (nothing right), then a pass: the best score goes back.
        _, hidden = page_form(client, quiz)
        assert client.post(quiz, data=hidden).status_code == 303
        tasks.wait_idle(lti_app, timeout=60)
        _, hidden = page_form(client, quiz)
        assert client.post(quiz, data={**hidden, **right_answers(module)}).status_code == 303
        tasks.wait_idle(lti_app, timeout=60)
    assert platform.refused == []
    assert [s["scoreGiven"] for s in platform.scores] == [0, 100]
    final = platform.scores[-1]
    assert final["scoreMaximum"] == 100 and final["userId"] == "user-42"
    assert (final["activityProgress"], final["gradingProgress"]) == ("Completed", "FullyGraded")
    token = platform.tokens[-1]
    assert token["grant_type"] == "client_credentials"
    assert token["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert token["claims"]["iss"] == token["claims"]["sub"] == CLIENT_ID
    assert SCORE in token["scope"].split()
    with lti_app.app_context():
        (link,) = db.session.scalars(select(LtiGradeLink)).all()
        assert (link.sent_score, link.last_error) == (1.0, "")
    print(f"LTI: the platform received scores {[s['scoreGiven'] for s in platform.scores]}/100")
