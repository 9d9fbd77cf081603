"""xAPI 1.0.3: conformant statements and the statements API, read by a real client.

Learners read, listen and pass a quiz on the fixture course through the app; @xapi/xapi (npm,
pinned) then fetches every statement through /xapi/statements with HTTP Basic credentials
issued by `flask xapi clients create`, page by page along `more` links and with the spec's
filters. Each statement it got is checked against what xAPI 1.0.3 requires.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.extensions import db
from app.progress.models import Statement
from app.xapi import services, shaping
from tests.browser import serve
from tests.conftest import make_app
from tests.helpers import PASSWORD, beacon, csrf_from, login, register
from tests.node import require, run_node
from tests.report import TERMINAL_REPORT
from tests.test_quizzes import right_answers, submit

pytestmark = pytest.mark.db
COURSES = Path(__file__).resolve().parent / "courses"
ADL_VERBS = {
    "http://adlnet.gov/expapi/verbs/experienced",
    "http://adlnet.gov/expapi/verbs/progressed",
    "http://adlnet.gov/expapi/verbs/attempted",
    "http://adlnet.gov/expapi/verbs/passed",
    "http://adlnet.gov/expapi/verbs/failed",
    "http://adlnet.gov/expapi/verbs/completed",
    "http://id.tincanapi.com/verb/downloaded",
}
ADL_TYPES = {
    "http://adlnet.gov/expapi/activities/course",
    "http://adlnet.gov/expapi/activities/module",
    "http://adlnet.gov/expapi/activities/lesson",
    "http://adlnet.gov/expapi/activities/assessment",
}
DURATION_RE = re.compile(r"^PT(\d+H)?(\d+M)?(\d+(\.\d+)?S)?$")
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Site:
    """The app served on loopback, with a learner's activity recorded through its pages."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app, self.url = app, url
        self.base = url + "/"


def _module(app: Flask, module_id: str):
    from app.web import catalogue

    with app.test_request_context():
        return catalogue().course("interop").module(module_id, "en")[0]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("xapi")
    app = make_app(tmp, COURSES)
    with serve(app) as url:
        app.config["BASE_URL"] = url + "/"
        # A registered learner reads, listens and passes a module's quiz; a guest reads a bit.
        ada = app.test_client()
        register(ada, "ada@example.org", name="Ada Lovelace")
        for section in ("points", "promise"):
            _beacon(
                ada, "en", "loyalty", {"verb": "section-read", "section": section, "seconds": 600}
            )
        audio = {"verb": "audio-progressed", "section": "points", "position": 12.5}
        _beacon(ada, "en", "loyalty", {**audio, "listened": 12.5, "duration": 30.0})
        answers = right_answers(_module(app, "loyalty"))
        assert submit(ada, "/en/interop/loyalty", answers)[0].status_code == 303
        _beacon(
            ada, "it", "signals", {"verb": "section-read", "section": "measuring", "seconds": 600}
        )
        guest = app.test_client()
        _beacon(
            guest,
            "en",
            "signals",
            {"verb": "section-read", "section": "same-customer", "seconds": 600},
        )
        yield Site(app, url)


def _beacon(client: FlaskClient, lang: str, module: str, payload: dict) -> None:
    page = f"/{lang}/interop/{module}/"
    response = beacon(client, page + "progress", payload, csrf_from(client, page))
    assert response.status_code == 200, response.data


def _issue(app: Flask, *flags: str) -> tuple[str, str]:
    result = app.test_cli_runner().invoke(args=["xapi", "clients", "create", "Reader", *flags])
    assert result.exit_code == 0, result.output
    key = re.search(r"^key: (\S+)$", result.output, re.M)
    secret = re.search(r"^secret: (\S+)$", result.output, re.M)
    assert key and secret, result.output
    return key.group(1), secret.group(1)


def _request(
    url: str,
    auth: tuple[str, str] | None,
    method: str = "GET",
    body: Any = None,
    version: bool = True,
) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if version:
        headers["X-Experience-API-Version"] = "1.0.3"
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode() or "null")


def _stored(app: Flask) -> list[Statement]:
    with app.app_context():
        return list(db.session.scalars(select(Statement)))


def _opaque(app: Flask, learner: str) -> str:
    with app.app_context():
        key = services.ensure_agents([learner])[learner]
        db.session.commit()
        return key


def check_conformant(statement: dict[str, Any], base: str) -> None:
    """What xAPI 1.0.3 requires of a statement (and what we promise on top)."""
    assert str(uuid.UUID(statement["id"])) == statement["id"]
    actor = statement["actor"]
    assert actor["objectType"] == "Agent" and set(actor) == {"objectType", "account"}
    assert actor["account"]["homePage"] == base
    assert re.fullmatch(r"[0-9a-f]{32}", actor["account"]["name"])  # opaque: no id, no e-mail
    assert statement["verb"]["id"] in ADL_VERBS and statement["verb"]["display"]["en-US"]
    target = statement["object"]
    assert target["objectType"] == "Activity"
    assert target["id"].startswith(base + "xapi/activities/interop")
    assert target["definition"]["type"] in ADL_TYPES
    assert target["definition"]["name"]["en"] and target["definition"]["name"]["it"]
    context = statement["context"]
    assert context["platform"] == "Omnichannel Academy"
    assert context["language"] in ("en", "it")
    activities = context["contextActivities"]
    assert activities["grouping"] == [
        {"objectType": "Activity", "id": base + "xapi/activities/interop"}
    ]
    parent = activities["parent"][0]["id"]
    assert target["id"].startswith(parent + "/") and parent.startswith(base + "xapi/activities/")
    levels = [c["id"] for c in activities["category"]]
    assert levels and all(re.fullmatch(re.escape(base) + r"xapi/eqf/[345]", c) for c in levels)
    assert TIMESTAMP_RE.match(statement["timestamp"]) and TIMESTAMP_RE.match(statement["stored"])
    assert statement["version"] == "1.0.3"
    result = statement.get("result", {})
    if "score" in result:
        score = result["score"]
        assert 0 <= score["scaled"] <= 1
        assert score["min"] == 0 and score["min"] <= score["raw"] <= score["max"]
        assert score["scaled"] == pytest.approx(score["raw"] / score["max"])
    if "duration" in result:
        assert DURATION_RE.match(result["duration"])
    verb = statement["verb"]["display"]["en-US"]
    if verb in ("passed", "failed"):
        assert result["success"] is (verb == "passed") and result["completion"] is True
        assert "score" in result and "duration" in result
    if verb == "completed":
        assert result["completion"] is True


def test_an_xapi_client_pages_through_every_statement_with_the_spec_filters(site: Site) -> None:
    require("@xapi/xapi")
    app, base = site.app, site.base
    key, secret = _issue(app)
    stored = _stored(app)
    learners = {s.learner for s in stored}
    ada = next(learner for learner in learners if learner.startswith("u:"))
    ada_agent = {"objectType": "Agent", "account": {"homePage": base, "name": _opaque(app, ada)}}
    loyalty = base + "xapi/activities/interop/loyalty"
    middle = sorted(s.timestamp for s in stored)[len(stored) // 2]
    plan = {
        "endpoint": site.url + "/xapi/",
        "key": key,
        "secret": secret,
        "badSecret": secret[:-2] + "xx",
        "statementId": stored[0].uuid,
        "queries": [
            {"name": "all", "params": {"limit": 3}},
            {"name": "ascending", "params": {"limit": 4, "ascending": True}},
            {"name": "ada", "params": {"agent": ada_agent, "limit": 5}},
            {"name": "passed", "params": {"verb": "http://adlnet.gov/expapi/verbs/passed"}},
            {"name": "module", "params": {"activity": loyalty}},
            {"name": "related", "params": {"activity": loyalty, "related_activities": True}},
            {"name": "since", "params": {"since": shaping.iso_timestamp_us(middle)}},
            {"name": "until", "params": {"until": shaping.iso_timestamp_us(middle)}},
        ],
    }
    out = run_node("xapi_client.js", stdin=json.dumps(plan))

    assert out["about"]["version"] == ["1.0.3"] and out["aboutVersion"] == "1.0.3"
    results = out["results"]
    every = [s for page in results["all"] for s in page["statements"]]
    assert all(page["version"] == "1.0.3" for r in results.values() for page in r)
    # Every stored statement exactly once, newest first, in pages of 3 linked by `more`.
    assert [len(p["statements"]) for p in results["all"][:-1]] == [3] * (len(results["all"]) - 1)
    assert sorted(s["id"] for s in every) == sorted(s.uuid for s in stored)
    assert [s["stored"] for s in every] == sorted((s["stored"] for s in every), reverse=True)
    ascending = [s["id"] for page in results["ascending"] for s in page["statements"]]
    assert ascending == [s["id"] for s in reversed(every)]
    for statement in every:
        check_conformant(statement, base)
    assert not any("ada@example.org" in json.dumps(s) or '"u:' in json.dumps(s) for s in every)

    by_id = {s.uuid: s for s in stored}

    def ids(name: str) -> set[str]:
        return {s["id"] for page in results[name] for s in page["statements"]}

    assert ids("ada") == {s.uuid for s in stored if s.learner == ada}
    assert {s["actor"]["account"]["name"] for s in every if s["id"] in ids("ada")} == {
        ada_agent["account"]["name"]
    }
    assert ids("passed") == {u for u, s in by_id.items() if s.verb == "passed"} != set()
    assert ids("module") == {
        u for u, s in by_id.items() if s.module_id == "loyalty" and s.section_id is None
    }
    assert ids("related") == {u for u, s in by_id.items() if s.module_id == "loyalty"}
    assert ids("module") < ids("related")
    assert ids("since") == {u for u, s in by_id.items() if s.timestamp > middle}
    assert ids("until") == {u for u, s in by_id.items() if s.timestamp <= middle}
    assert out["single"]["id"] == stored[0].uuid
    check_conformant(out["single"], base)

    passed = next(s for s in every if s["verb"]["display"]["en-US"] == "passed")
    assert passed["result"]["score"] == {"scaled": 1.0, "raw": 2.0, "min": 0.0, "max": 2.0}
    listened = next(s for s in every if s["verb"]["display"]["en-US"] == "progressed")
    assert listened["result"]["duration"] == "PT12.5S"
    names = listened["object"]["definition"]["name"]
    assert names == {"en": "Points everywhere", "it": "Punti ovunque"}
    quiz_verbs = {s["verb"]["display"]["en-US"] for s in every if s["object"]["id"] == loyalty}
    assert {"attempted", "passed", "completed"} <= quiz_verbs
    assert out["refused"] == {"badSecret": 401, "write": 403}
    filtered = sum(len(ids(q["name"])) for q in plan["queries"][2:])
    TERMINAL_REPORT.append(
        f"xAPI: @xapi/xapi fetched {len(every)} statements in {len(results['all'])} pages, "
        f"each checked for xAPI 1.0.3 conformance, and {filtered} more through 6 filters"
    )


def test_credentials_are_checked_revocable_and_stored_hashed(site: Site) -> None:
    app = site.app
    key, secret = _issue(app)
    url = site.url + "/xapi/statements?limit=1"
    assert _request(url, (key, secret))[0] == 200
    assert _request(url, (key, secret), version=False) == (
        400,
        {"error": "the X-Experience-API-Version header is required"},
    )
    assert _request(url, None)[0] == 401
    assert _request(site.url + "/xapi/about", None, version=False) == (200, {"version": ["1.0.3"]})
    with app.app_context():
        client = next(c for c in services.list_clients() if c.key == key)
        assert secret not in client.secret_hash and len(client.secret_hash) == 64
    listing = app.test_cli_runner().invoke(args=["xapi", "clients", "list"])
    assert f"{key}\tread-only\tactive\tReader" in listing.output
    assert app.test_cli_runner().invoke(args=["xapi", "clients", "revoke", key]).exit_code == 0
    assert _request(url, (key, secret))[0] == 401
    bad = app.test_cli_runner().invoke(args=["xapi", "clients", "revoke", "xc_nope"])
    assert bad.exit_code != 0 and "no xAPI client with key 'xc_nope'" in bad.output
    assert _request(site.url + "/xapi/statements?verb=notaniri", (key, secret))[0] == 401


def test_bad_queries_get_clear_errors(site: Site) -> None:
    auth = _issue(site.app)
    base = site.url + "/xapi/statements"
    cases = {
        "?verb=notaniri": "verb must be an IRI",
        "?since=yesterday": "not an ISO 8601 timestamp with a time zone: 'yesterday'",
        "?limit=-1": "limit must not be negative",
        "?colour=blue": "unknown parameter(s): colour",
        "?agent=%7B%7D": "an agent needs exactly one of mbox, mbox_sha1sum, openid, account",
        "?cursor=zzz": "malformed cursor",
    }
    for query, message in cases.items():
        assert _request(base + query, auth) == (400, {"error": message}), query


def test_a_writing_client_stores_statements_once_whatever_it_resends(site: Site) -> None:
    reader = _issue(site.app)
    writer = _issue(site.app, "--write")
    url = site.url + "/xapi/statements"
    statement_id = str(uuid.uuid4())
    statement = {
        "id": statement_id,
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://lms.example.org/", "name": "42"},
        },  # fmt: skip
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/completed",
            "display": {"en-US": "completed"},
        },  # fmt: skip
        "object": {"objectType": "Activity", "id": "https://lms.example.org/course/7"},
        "timestamp": "2026-11-30T10:00:00.000Z",
    }
    assert _request(url, writer, "POST", statement) == (200, [statement_id])
    assert _request(f"{url}?statementId={statement_id}", writer, "PUT", statement) == (204, None)
    assert _request(url, writer, "POST", [statement]) == (200, [statement_id])
    changed = {**statement, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    status, body = _request(f"{url}?statementId={statement_id}", writer, "PUT", changed)
    assert status == 409 and "exists with other content" in body["error"]
    assert _request(url, reader, "POST", statement)[0] == 403
    status, body = _request(url, writer, "POST", {**statement, "id": "nope"})
    assert (status, body) == (400, {"error": "id must be a UUID"})
    extra = {**statement, "id": str(uuid.uuid4()), "colour": 1}
    status, body = _request(url, writer, "POST", extra)
    assert (status, body) == (400, {"error": "unknown statement properties: colour"})

    status, page = _request(f"{url}?statementId={statement_id}", reader)
    assert status == 200 and page["verb"]["id"].endswith("/completed")
    assert page["stored"] and page["authority"]["name"] == "Reader"
    status, page = _request(f"{url}?activity=https://lms.example.org/course/7", reader)
    assert [s["id"] for s in page["statements"]] == [statement_id]
    agent = json.dumps(statement["actor"])
    status, page = _request(f"{url}?agent={urllib.parse.quote(agent)}", reader)
    assert [s["id"] for s in page["statements"]] == [statement_id]
    with site.app.app_context():
        assert db.session.scalar(select(Statement.id).where(Statement.uuid == statement_id)) is None


def test_mbox_sha1sum_only_when_the_admin_chooses_it(tmp_path: Path) -> None:
    app = make_app(
        tmp_path, COURSES, XAPI_IDENTIFY_BY="mbox_sha1sum", BASE_URL="http://academy.test/"
    )
    client = app.test_client()
    register(client, "Grace@Example.org", name="Grace")
    _beacon(
        client, "en", "signals", {"verb": "section-read", "section": "measuring", "seconds": 600}
    )
    with app.app_context():
        row = db.session.scalar(select(Statement))
        actor = services.actors([row.learner], "http://academy.test/", "mbox_sha1sum")[row.learner]
    assert actor == {
        "objectType": "Agent",
        "mbox_sha1sum": hashlib.sha1(b"mailto:grace@example.org").hexdigest(),
    }


def test_iso_durations_and_timestamps() -> None:
    assert shaping.iso_duration(0) == "PT0S"
    assert shaping.iso_duration(12.5) == "PT12.5S"
    assert shaping.iso_duration(3723.25) == "PT1H2M3.25S"
    assert shaping.iso_duration(120) == "PT2M"
    moment = datetime.fromisoformat("2026-12-01T10:00:00.123456+01:00")
    assert shaping.iso_timestamp(moment) == "2026-12-01T09:00:00.123Z"


def test_an_admin_issues_and_revokes_credentials_on_the_admin_page(tmp_path: Path) -> None:
    app = make_app(tmp_path, COURSES)
    runner = app.test_cli_runner()
    made = runner.invoke(
        args=["users", "create", "--role", "admin", "root@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    learner = app.test_client()
    register(learner, "lea@example.org")
    assert learner.get("/en/admin/xapi/").status_code == 403
    assert app.test_client().get("/en/admin/xapi/").status_code == 302  # guests sign in first

    admin = app.test_client()
    login(admin, "root@example.org")
    page = admin.get("/it/admin/xapi/")
    assert page.status_code == 200 and "Nessun client ha ancora credenziali." in page.text
    token = csrf_from(admin, "/en/admin/xapi/")
    issued = admin.post("/en/admin/xapi/", data={"csrf_token": token, "name": "Reporting"})
    assert issued.status_code == 200 and issued.headers["Cache-Control"] == "no-store"
    key = re.search(r"<code data-key>([^<]+)</code>", issued.text).group(1)  # type: ignore[union-attr]
    secret = re.search(r"<code data-secret>([^<]+)</code>", issued.text).group(1)  # type: ignore[union-attr]
    basic = {
        "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
        "X-Experience-API-Version": "1.0.3",
    }
    assert admin.get("/xapi/statements", headers=basic).status_code == 200
    again = admin.get("/en/admin/xapi/").text
    assert key in again and secret not in again and "Read only" in again

    assert admin.post(f"/en/admin/xapi/clients/{key}/revoke", data={}).status_code == 400
    revoked = admin.post(f"/en/admin/xapi/clients/{key}/revoke", data={"csrf_token": token})
    assert revoked.status_code == 303
    assert "Credentials of Reporting revoked." in admin.get("/en/admin/xapi/").text
    assert admin.get("/xapi/statements", headers=basic).status_code == 401


def test_trainers_see_the_forwarding_backlog(tmp_path: Path) -> None:
    app = make_app(
        tmp_path,
        COURSES,
        BASE_URL="http://academy.test/",
        XAPI_ENDPOINT="http://127.0.0.1:9/xapi/",  # the discard port: nothing answers there
        XAPI_KEY="k",
        XAPI_SECRET="s",
    )
    learner = app.test_client()
    _beacon(
        learner, "en", "signals", {"verb": "section-read", "section": "measuring", "seconds": 600}
    )
    _beacon(
        learner,
        "en",
        "signals",
        {"verb": "section-read", "section": "same-customer", "seconds": 600},
    )
    with app.app_context():
        from app.web import catalogue
        from app.xapi import outbox

        assert outbox.backlog()[0] == 2  # one per section read (the quiz is still to pass)
        result = outbox.forward_due("http://academy.test/", catalogue().courses)
        assert (result.sent, result.failed) == (0, 2) and "LRS unreachable" in result.error
        assert outbox.forward_due("http://academy.test/", catalogue().courses).failed == 0
    made = app.test_cli_runner().invoke(
        args=["users", "create", "--role", "trainer", "tina@example.org"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert made.exit_code == 0, made.output
    trainer = app.test_client()
    login(trainer, "tina@example.org")
    page = trainer.get("/en/trainer/xapi/").text
    assert 'data-backlog="2"' in page and "2 statements wait to be sent." in page
    assert "LRS unreachable" in page and "Nothing is lost" in page
    assert "2 statement attendono di essere inviati." in trainer.get("/it/trainer/xapi/").text
    assert learner.get("/en/trainer/xapi/").status_code == 302
    # While the LRS fails, a new statement's row waits for the retry already scheduled (one
    # job retries them all), as a fresh row: never attempted, not leased, nothing shaped yet.
    _beacon(
        learner, "en", "signals", {"verb": "section-read", "section": "measuring", "seconds": 600}
    )
    with app.app_context():
        from app.xapi.models import OutboxEntry

        *failed, new = db.session.scalars(select(OutboxEntry).order_by(OutboxEntry.id)).all()
        assert len(failed) == 2 and all(entry.attempts == 1 for entry in failed)
        assert (new.attempts, new.leased_until, new.payload, new.last_error) == (0, None, None, "")
        assert new.next_attempt_at == max(e.next_attempt_at for e in failed) > new.created_at
        assert new.statement_uuid in set(db.session.scalars(select(Statement.uuid)))
