"""app.driver: prebuilt statements on the driver behave as SQLAlchemy's own execution would."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import exc, func, insert, select

from app.accounts.models import utcnow
from app.database import write_transaction
from app.driver import run
from app.extensions import db
from app.progress.models import Statement
from tests.conftest import CONTENT, make_app

pytestmark = pytest.mark.db

_INSERT = insert(Statement.__table__)  # module level, as the runner expects
_COUNT = select(func.count(Statement.id))


def statement_row(statement_id: str) -> dict[str, object]:
    return {"uuid": statement_id, "learner": "g:t", "verb": "experienced", "object_id": "t/m",
            "course_id": "t", "module_id": "m", "section_id": None, "result": {"duration": 9.5},
            "context": {"channel": "web"}, "timestamp": utcnow()}  # fmt: skip


def test_driver_errors_are_sqlalchemys_and_the_session_goes_on(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONTENT)
    with app.app_context():
        write_transaction()
        row = statement_row(str(uuid.uuid4()))
        assert run(db.session.connection(), _INSERT, row) == []  # no RETURNING asked, none
        with pytest.raises(exc.IntegrityError):
            run(db.session.connection(), _INSERT, row)  # the same uuid again
        db.session.rollback()
        write_transaction()
        run(db.session.connection(), _INSERT, statement_row(str(uuid.uuid4())))
        db.session.commit()
        ((count,),) = run(db.session.connection(), _COUNT, {})
        assert count == 1
        stored = db.session.scalar(select(Statement))
        assert stored.result == {"duration": 9.5} and stored.timestamp.tzinfo is not None


def test_a_statement_missing_a_value_its_column_default_would_give_is_refused(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path, CONTENT)
    partial = insert(Statement.__table__)
    with app.app_context():
        write_transaction()
        row = statement_row(str(uuid.uuid4()))
        del row["context"]  # Statement.context has a Python default (dict)
        with pytest.raises(RuntimeError, match="context"):
            run(db.session.connection(), partial, row)
