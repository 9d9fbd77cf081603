"""Fifty learners' events at once for the same learner and module: nothing lost, nothing locked."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.content.loader import load_catalogue
from app.extensions import db
from app.progress import statements
from app.progress.models import ModuleProgress, Statement
from tests.conftest import CONTENT, make_app

pytestmark = pytest.mark.db

THREADS = 50


def test_fifty_threads_record_for_one_learner_and_module(tmp_path: Path) -> None:
    app = make_app(tmp_path, CONTENT)
    course = load_catalogue(CONTENT).courses["trial"]
    module, _ = course.module("first-steps", "it")
    sections = [s.id for s in module.reading_sections]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait()
                if n % 2:
                    statements.record(
                        "u:1", course, module, "experienced",
                        section_id=sections[n % len(sections)], language="it",
                    )  # fmt: skip
                else:
                    statements.record(
                        "u:1", course, module, "progressed",
                        section_id=sections[n % len(sections)], language="it", channel="audio",
                        result={"position": float(n), "listened": 3.0, "duration": 600.0},
                    )  # fmt: skip
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001  (collected and reported by the test)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with app.app_context():
        stored = db.session.scalar(
            select(func.count(Statement.id)).where(Statement.verb != "completed")
        )
        assert stored == THREADS
        row = db.session.scalar(select(ModuleProgress))
        rebuilt = statements.rebuild("u:1", "trial", "first-steps")
        assert row.statements == rebuilt.statements == THREADS
        assert sorted(row.sections_read) == sorted(rebuilt.sections_read) == sorted(sections)
        assert row.audio_listened == rebuilt.audio_listened
        # 25 audio beacons of 3 s spread over the 5 sections: 15 s each.
        assert sum(row.audio_listened.values()) == pytest.approx(25 * 3.0)
        assert row.last_section == rebuilt.last_section
