"""Simulated learners for `make load` (Locust): course, module, reading, listening, quiz, PDF.

Each learner opens the course page and a module, then, with think times between steps
(LOAD_THINK seconds on average), reads sections (progress beacons), listens (audio position
beacons), takes the module's quiz now and then and downloads its PDF. Everything goes to the
host the runner gives (loopback only, checked there); every loop ends with Locust's run time.
The statements each learner had accepted are counted, so the runner can check every one was
stored.
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid
from collections import Counter
from pathlib import Path

from locust import FastHttpUser, between, events, task

PLAN = json.loads(Path(os.environ["LOAD_PLAN"]).read_text(encoding="utf-8"))
THINK = float(os.environ.get("LOAD_THINK", "15"))
SENT: Counter[str] = Counter()  # statements the server accepted, by verb
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


class Learner(FastHttpUser):
    """One learner studying modules of the course."""

    wait_time = between(THINK * 2 / 3, THINK * 4 / 3)

    def on_start(self) -> None:
        """Arrive: the course page, a module, a CSRF token for the beacons."""
        self.lang = random.choice(PLAN["languages"])
        self.client.get(f"/{self.lang}/{PLAN['course']}/", name="course page")
        self.open_module()
        with self.client.get("/csrf-token", name="csrf token", catch_response=True) as r:
            self.token = r.json()["token"] if r.status_code == 200 else ""
        self.position = 0.0

    def open_module(self) -> None:
        """Open a module page (the one studied until the next)."""
        self.module = random.choice(PLAN["modules"])
        self.base = f"/{self.lang}/{PLAN['course']}/{self.module['id']}/"
        self.client.get(self.base, name="module page")

    def beacon(self, payload: dict[str, object], name: str, verb: str) -> None:
        """POST a progress beacon as the page's script does: with a statement id of its own."""
        with self.client.post(
            self.base + "progress",
            json={**payload, "id": str(uuid.uuid4())},
            headers={"X-CSRFToken": self.token},
            name=name,
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                SENT[verb] += 1
            else:
                response.failure(f"{response.status_code}: {(response.text or '')[:200]}")

    @task(6)
    def read_section(self) -> None:
        """A section stayed open long enough: 'experienced'."""
        section = random.choice(self.module["sections"])
        self.beacon(
            {"verb": "section-read", "section": section, "seconds": 600},
            "beacon: section read",
            "experienced",
        )

    @task(4)
    def listen(self) -> None:
        """Ten more seconds of audio: 'progressed' with the player's position."""
        self.position += 10.0
        duration = 600.0
        if self.position > duration:
            self.position = 0.0
        section = random.choice(self.module["sections"])
        self.beacon(
            {
                "verb": "audio-progressed",
                "section": section,
                "position": self.position,
                "listened": 10.0,
                "duration": duration,
            },
            "beacon: audio position",
            "progressed",
        )

    @task(2)
    def next_module(self) -> None:
        """On to another module."""
        self.open_module()

    @task(1)
    def course_page(self) -> None:
        """Back to the course page."""
        self.client.get(f"/{self.lang}/{PLAN['course']}/", name="course page")

    @task(1)
    def quiz(self) -> None:
        """Open the module's quiz and submit it (whatever is answered is graded)."""
        if not self.module["quiz"]:
            return
        url = self.base + "quiz"
        with self.client.get(url, name="quiz page", catch_response=True) as response:
            fields = dict(HIDDEN.findall(response.text or ""))
            if response.status_code != 200 or "csrf_token" not in fields:
                response.failure(f"quiz page {response.status_code}")
                return
        with self.client.post(
            url, data=fields, name="quiz submit", allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 303:
                SENT["attempted"] += 1
                response.success()
            else:
                response.failure(f"quiz submit answered {response.status_code}")

    @task(1)
    def pdf(self) -> None:
        """Download the module's PDF: 'downloaded'."""
        with self.client.get(
            f"/{self.lang}/{PLAN['course']}/{self.module['id']}.pdf",
            name="pdf download",
            catch_response=True,
        ) as response:
            if response.status_code == 200:
                SENT["downloaded"] += 1
            else:
                response.failure(f"pdf {response.status_code}")


@events.test_stop.add_listener
def _write_counts(environment, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Leave the accepted statements' counts for the runner."""
    Path(os.environ["LOAD_SENT"]).write_text(json.dumps(dict(SENT)), encoding="utf-8")
