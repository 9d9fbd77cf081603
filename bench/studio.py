"""`make bench PARTS=studio`: the studio's live preview per keystroke, and save -> rebuilt audio.

Both run on a copy of content/ in a temporary folder (the repository's files are never written):

- preview: the largest module's text, one character more on each call, POSTed to the editor's
  preview route as the browser does after a keystroke (check + render + quiz + answer key), beside
  a bare Flask JSON route that receives the same text (the ratio shows what the pipeline costs);
- save -> audio: publish an edit of one section through the studio's service, queue its audio
  rebuild as the save does, and time until the real queue worker (espeak-ng) has rebuilt it.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from pathlib import Path

from flask import jsonify, request

from app import create_app, tasks
from app.content.loader import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
PASSWORD = "bench-password-123"
GOAL_MS = 50.0


def _figures(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def main(keystrokes: int = 60) -> None:
    """Print the preview's time per keystroke and the time from save to rebuilt section audio."""
    with tempfile.TemporaryDirectory() as tmp:
        content = Path(tmp) / "content"
        shutil.copytree(CONTENT, content, ignore=shutil.ignore_patterns(".git", ".studio"))
        catalogue = load_catalogue(content)
        course = next(c for c in catalogue.courses.values() if c.visible)
        entry = max(
            course.visible,
            key=lambda e: len(Path(content, e.versions[course.default_language].path).read_text()),
        )
        module = entry.versions[course.default_language]
        relative = module.path
        app = create_app(
            {
                "TESTING": True,
                "WTF_CSRF_ENABLED": False,
                "CONTENT_DIR": str(content),
                "MEDIA_DIR": str(Path(tmp) / "media"),
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "QUEUE_URL": f"sqlite:///{tmp}/queue.sqlite3",
                "TTS_ENGINES": "espeak-ng",
                "BASE_URL": "http://127.0.0.1/",
            }
        )

        @app.post("/bench/bare")
        def bare() -> object:
            return jsonify(size=len((request.get_json() or {}).get("text", "")))

        runner = app.test_cli_runner()
        runner.invoke(args=["db", "upgrade"])
        runner.invoke(
            args=["users", "create", "--role", "trainer", "bench@example.org"]
            + ["--password", PASSWORD, "--name", "Bench"]
        )
        client = app.test_client()
        client.post("/en/login", data={"email": "bench@example.org", "password": PASSWORD})
        text = Path(content, relative).read_text(encoding="utf-8")
        url = f"/{course.default_language}/trainer/studio/preview/{relative}"
        assert client.post(url, json={"text": text}).status_code == 200

        def timed(target: str) -> list[float]:
            times = []
            typed = text
            for i in range(keystrokes):
                typed = typed + "abcdefghij"[i % 10]  # one more character, as typing does
                start = time.perf_counter()
                response = client.post(target, json={"text": typed})
                times.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200
            return times

        lines = text.count("\n") + 1
        questions = len(module.questions)
        print(
            f"studio preview: {relative} ({lines} lines, {len(module.sections)} sections, "
            f"{questions} questions), {keystrokes} keystrokes x 3 rounds, bare route in turn"
        )
        ours, bare_times = [], []
        for _ in range(3):  # side by side, interleaved rounds
            ours += timed(url)
            bare_times += timed("/bench/bare")
        median, p95 = _figures(ours)
        bare_median, _ = _figures(bare_times)
        verdict = "goal met" if median <= GOAL_MS else "goal NOT met"
        print(
            f"  preview per keystroke: median {median:.1f} ms, p95 {p95:.1f} ms "
            f"(goal <= {GOAL_MS:.0f} ms: {verdict})"
        )
        print(
            f"  bare Flask JSON route: median {bare_median:.2f} ms; "
            f"preview = {median / bare_median:.0f}x the bare route"
        )

        _save_to_audio(app, course.id, course.default_language, entry.id, relative, text)


def _save_to_audio(
    app: object, course_id: str, lang: str, module_id: str, relative: str, text: str
) -> None:
    """Publish an edit of one section; time until the queue has rebuilt that section's audio."""
    from flask import Flask

    from app.audio.build import build_module_audio
    from app.builds import rebuild_audio
    from app.content.catalog import catalogue_of
    from app.studio import services
    from app.studio.files import digest

    assert isinstance(app, Flask)
    root = Path(app.config["CONTENT_DIR"])
    with app.app_context():
        course = catalogue_of(app).course(course_id)
        assert course is not None
        module = course.module(module_id, lang)[0]  # type: ignore[index]
        started = time.perf_counter()
        build_module_audio(app, course, module)
        first = time.perf_counter() - started
        section = module.reading_sections[0]
        print(
            f"save -> audio (espeak-ng): first build of {module_id} "
            f"({len(module.sections)} sections) {first:.1f} s"
        )
        # One sentence added to the first section, as a trainer's edit.
        heading = text.index("\n## ", 0) + 1
        end = text.index("\n", heading)
        edited = text[: end + 1] + "\nUna frase aggiunta per la misura.\n" + text[end + 1 :]
        target = services.module_file(catalogue_of(app), relative)
        with tasks.running_worker(app):
            start = time.perf_counter()
            services.publish(
                root, course, target, edited, digest(text.encode()), "Bench", "bench@example.org"
            )
            job_id = rebuild_audio.enqueue(course_id, lang, module_id)
            queue = tasks.queue_for(app)
            while (job := queue.job(job_id)) is None or job.state not in ("done", "failed"):
                time.sleep(0.01)
            elapsed = time.perf_counter() - start
        print(
            f"  save -> section '{section.id}' audio rebuilt and served: {elapsed:.2f} s "
            f"(job {job.state}; one section re-synthesised, module MP3 re-joined)"
        )
