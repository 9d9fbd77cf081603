"""xAPI voiding (1.0.3, Data §2.2.8 and Communication §2.1.3), and the learner's own export.

A statement whose verb is `voided` and whose object is a StatementRef hides its target: no
query returns it, `statementId` does not find it, `voidedStatementId` does. A voiding statement
cannot itself be voided. The learner's JSON export holds the same conformant statements the
API serves, the voided ones apart.
"""

from __future__ import annotations

import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.progress.models import Statement
from tests.browser import serve
from tests.conftest import make_app
from tests.helpers import register
from tests.test_xapi import COURSES, _beacon, _issue, _request, check_conformant

pytestmark = pytest.mark.db

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ACTIVITY = "https://lms.example.org/course/7"


def lms_statement(**changes: Any) -> dict[str, Any]:
    """A statement another system sends."""
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://lms.example.org/",
                  "name": "42"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "done"}},
        "object": {"objectType": "Activity", "id": ACTIVITY},
        "timestamp": "2026-11-30T10:00:00.000Z",
    }  # fmt: skip
    statement.update(changes)
    return statement


def voiding(target: str) -> dict[str, Any]:
    """The spec's voiding statement for `target`."""
    return lms_statement(
        verb={"id": VOIDED, "display": {"en-US": "voided"}},
        object={"objectType": "StatementRef", "id": target},
    )


def test_voided_statements_leave_every_query_and_come_back_only_by_voided_id(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, COURSES)
    with serve(app) as url:
        app.config["BASE_URL"] = base = url + "/"
        ada = app.test_client()
        register(ada, "ada@example.org", name="Ada Lovelace")
        for section in ("points", "promise"):
            _beacon(
                ada, "en", "loyalty", {"verb": "section-read", "section": section, "seconds": 600}
            )
        with app.app_context():
            own = [s.uuid for s in db.session.scalars(select(Statement).order_by(Statement.id))]
        reader, writer = _issue(app), _issue(app, "--write")
        api = url + "/xapi/statements"

        received = lms_statement()
        assert _request(api, writer, "POST", received) == (200, [received["id"]])
        void_received, void_own = voiding(received["id"]), voiding(own[0])
        assert _request(api, writer, "POST", [void_received, void_own]) == (
            200,
            [void_received["id"], void_own["id"]],
        )

        def ids(query: str = "") -> list[str]:
            status, page = _request(api + query, reader)
            assert status == 200, page
            return [s["id"] for s in page["statements"]]

        # Queries: the targets are gone, the voiding statements are there.
        every = ids("?limit=50")
        assert received["id"] not in every and own[0] not in every
        assert {void_received["id"], void_own["id"], own[1]} <= set(every)
        assert ids("?activity=" + urllib.parse.quote(ACTIVITY)) == []
        assert set(ids("?verb=" + urllib.parse.quote(VOIDED))) == {
            void_own["id"],
            void_received["id"],
        }
        # By id: statementId finds them no more; voidedStatementId does, and only them.
        for target in (received["id"], own[0]):
            status, body = _request(f"{api}?statementId={target}", reader)
            assert (status, body) == (404, {"error": "no such statement"})
        status, body = _request(f"{api}?voidedStatementId={received['id']}", reader)
        assert status == 200 and body["id"] == received["id"] and body["stored"]
        status, body = _request(f"{api}?voidedStatementId={own[0]}", reader)
        assert status == 200 and body["id"] == own[0]
        check_conformant(body, base)
        status, body = _request(f"{api}?voidedStatementId={own[1]}", reader)
        assert (status, body) == (404, {"error": "no such voided statement"})
        status, body = _request(f"{api}?statementId={void_own['id']}", reader)
        assert status == 200 and body["object"] == {"objectType": "StatementRef", "id": own[0]}

        # A voiding statement cannot be voided; a voided verb needs a StatementRef.
        status, body = _request(api, writer, "POST", voiding(void_received["id"]))
        assert status == 400 and "cannot be voided" in body["error"]
        status, body = _request(api, writer, "POST", lms_statement(verb={"id": VOIDED}))
        assert (status, body) == (
            400,
            {"error": "a voiding statement's object must be a StatementRef"},
        )
        # Sending the same voiding again changes nothing (a forwarder's resend).
        assert _request(api, writer, "POST", void_own) == (200, [void_own["id"]])
        assert ids("?limit=50") == every

        # The learner's export: the API's conformant statements, the voided one apart.
        exported = ada.get("/en/me/export.json")
        assert exported.status_code == 200
        data = json.loads(exported.data)
        assert [s["id"] for s in data["statements"]] == own[1:]
        for statement in data["statements"]:
            check_conformant(statement, base)
        status, served = _request(f"{api}?statementId={own[1]}", reader)
        assert data["statements"][0] == served  # byte for byte what the API serves
        (hidden,) = data["voided_statements"]
        assert hidden["voided_by"] == void_own["id"] and hidden["statement"]["id"] == own[0]
        assert "ada@example.org" not in json.dumps(data["statements"])  # an opaque account
