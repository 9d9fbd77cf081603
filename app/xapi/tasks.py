"""The queued job that forwards the outbox to the external LRS."""

from __future__ import annotations

from huey.exceptions import RetryTask

from app import tasks
from app.accounts.models import utcnow
from app.web import catalogue, site_base_url
from app.xapi import outbox


@tasks.task(retries=0, lock=lambda: "xapi:forward", label=lambda: "xAPI: forward statements")
def forward_statements() -> None:
    """Send every due statement, batch after batch; while the LRS fails, try again later.

    The job that met a failure (or sent something) stays responsible for what is left: it
    reschedules itself for the outbox's next retry time, without spending a retry, until the
    outbox is empty. A job that found nothing due leaves the rest to that one (statements
    recorded while the LRS fails wait for the same retry time, see outbox.py).
    """
    courses = catalogue().courses
    base_url = site_base_url()
    active = False
    for _ in range(10_000):  # bounded: 50 statements a batch
        result = outbox.forward_due(base_url, courses)
        active = active or bool(result.sent or result.failed)
        if result.failed or not result.sent:
            break
    due, on_lease = outbox.next_due()
    # A lease left by a sender that died is waited out by whichever job finds it.
    if due is not None and (active or on_lease):
        raise RetryTask(delay=max(0.05, (due - utcnow()).total_seconds()))
