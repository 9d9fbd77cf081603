"""A Flask app for subprocess workers in the queue tests: `flask --app tests.queue_app worker`."""

from __future__ import annotations

import os

from app import create_app
from tests import queue_tasks as _queue_tasks  # noqa: F401  (declares the test tasks)

app = create_app(
    {
        "TESTING": True,
        "CONTENT_DIR": os.environ["QUEUE_TEST_CONTENT"],
        "DATABASE_URL": os.environ["QUEUE_TEST_DATABASE"],
        "QUEUE_URL": os.environ["QUEUE_TEST_URL"],
        "QUEUE_LEASE_SECONDS": float(os.environ.get("QUEUE_TEST_LEASE", "60")),
    }
)
