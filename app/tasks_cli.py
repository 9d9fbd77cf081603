"""`flask worker`: run the task queue's jobs in their own process (production)."""

from __future__ import annotations

import logging

import click
from flask import current_app
from flask.cli import with_appcontext

from app import tasks


@click.command("worker")
@click.option("--threads", type=int, default=2, show_default=True, help="Jobs run at once.")
@with_appcontext
def worker_command(threads: int) -> None:
    """Run queued jobs (audio, PDF, statements) until SIGINT or SIGTERM."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    worker = tasks.Worker(app, workers=threads)
    queue = worker.queue
    click.echo(
        f"Worker on {app.config.get('QUEUE_URL') or 'sqlite (instance/queue.sqlite3)'}: "
        f"{threads} thread(s), {queue.pending()} job(s) waiting, "
        f"tasks: {', '.join(sorted(queue.wrappers)) or 'none'}."
    )
    worker.run_forever()
