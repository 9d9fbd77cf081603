"""Builds that follow edits: a saved module queues a rebuild of exactly what it changed.

A save from the studio calls `queue_rebuild`; a file changed on disk is found by `follow_content`,
which every worker runs every few seconds (a stat walk, then a load only when a stamp changed).
Both queue, per changed module version (course, language, module):

- `rebuild_audio`: the sections whose narration changed (artefacts are named by content hash, so
  untouched sections are reused), then the whole-module MP3 and the manifest the player reads;
- `rebuild_course_audio`: the course MP3 of each language that plays this module version (its
  own, and those that fall back to it), joined from the module MP3s once no module audio job
  of the course is waiting or running (it waits for them, with any number of workers);
- `rebuild_pdf`: the module's PDF and the course's PDF in that language.

While a job waits or runs, learners get the previous audio and PDF, marked as being updated.
A section that gTTS could not speak (unreachable) is spoken by the next engine at once and the
job retries with back-off to get the first engine's voice; when the retries run out the job
ends as failed with the reason, and the fallback audio stays.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Flask, current_app

from app import tasks
from app.audio.store import Store
from app.content.catalog import catalogue_of, content_stamp
from app.content.model import Catalogue, Course

SNAPSHOT = "builds:snapshot"  # queue key: what the last look at the files saw
WATCH_SECONDS = 2.0


class EngineUnavailable(Exception):
    """The first speech engine could not be reached; a fallback voice is in place meanwhile."""


def audio_key(course_id: str, lang: str, module_id: str) -> str:
    """The lease/coalescing key of a module's audio."""
    return f"audio:{course_id}/{lang}/{module_id}"


def course_audio_key(course_id: str, lang: str) -> str:
    """The lease/coalescing key of a course's whole-course MP3 in one language."""
    return f"course-audio:{course_id}/{lang}"


def pdf_key(course_id: str, lang: str, module_id: str = "") -> str:
    """The lease/coalescing key of a module's PDF, or the course's when module_id is ''."""
    return f"pdf:{course_id}/{lang}/{module_id or '_course'}"


def _catalogue(app: Flask) -> Catalogue:
    return catalogue_of(app)


@tasks.task(
    retries=5,
    retry_delay=5.0,
    backoff=3.0,
    lock=audio_key,
    label=lambda course_id, lang, module_id: f"audio {course_id}/{lang}/{module_id}",
)
def rebuild_audio(course_id: str, lang: str, module_id: str) -> None:
    """Rebuild a module version's changed section audio, its module MP3 and its manifest."""
    from app.audio.build import build_module_audio

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    course = _catalogue(app).course(course_id)
    entry = next((e for e in course.visible if e.id == module_id), None) if course else None
    module = entry.versions.get(lang) if entry else None
    if course is None or module is None:
        return  # removed or hidden (errors) since the job was queued: nothing to build
    store = Store(app.config["MEDIA_DIR"])
    before = (store.read_manifest(course_id, lang, module_id).get("whole") or {}).get("key")
    build = build_module_audio(
        app, course, module, prefer_first=tasks.retries_left() > 0, progress=tasks.report_progress
    )
    after = (store.read_manifest(course_id, lang, module_id).get("whole") or {}).get("key")
    if after != before:
        # A retry that got the first engine's voice, after the course file was joined from
        # the fallback one: join it again (a no-op while a course job is already waiting).
        for course_lang in course_languages(course, module_id, lang):
            rebuild_course_audio.enqueue(course_id, course_lang)
    failed = build.report.failed
    if failed:
        raise RuntimeError("; ".join(f"{s.section}: {s.reason}" for s in failed))
    if build.used_fallback:
        raise EngineUnavailable(
            "first engine unreachable, fallback voice in place: " + "; ".join(build.fallbacks)
        )


@tasks.task(
    retries=3,
    retry_delay=5.0,
    backoff=3.0,
    lock=pdf_key,
    label=lambda course_id, lang, module_id="": (
        f"PDF {course_id}/{lang}/{module_id}" if module_id else f"PDF {course_id}/{lang} (course)"
    ),
)
def rebuild_pdf(course_id: str, lang: str, module_id: str = "") -> None:
    """Render a module's PDF (or the course's, module_id '') if its content changed."""
    from app.pdf.build import (
        DEFAULT_BASE_URL,
        build_artefact,
        course_job,
        find_artefact,
        module_job,
        site_base_url,
    )

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    with app.test_request_context("/"):
        base_url = site_base_url() if app.config.get("BASE_URL") else DEFAULT_BASE_URL
        course = _catalogue(app).course(course_id)
        if course is None or not course.visible:
            return
        job = (
            module_job(course, module_id, lang, base_url)
            if module_id
            else course_job(course, lang, base_url)
        )
        if job is None or find_artefact(job) is not None:
            return
        build_artefact(job)


@tasks.task(
    retries=1,
    retry_delay=5.0,
    lock=course_audio_key,
    # Joined from the module files: wait while any module audio job of the course is due
    # (every language: a course file plays the default-language module where one is missing).
    after=lambda course_id, lang: [f"audio:{course_id}/"],
    label=lambda course_id, lang: f"course audio {course_id}/{lang}",
)
def rebuild_course_audio(course_id: str, lang: str) -> None:
    """Join a course's module MP3s (visible modules, course order) into the course MP3."""
    from app.audio.build import build_course_file

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    course = _catalogue(app).course(course_id)
    if course is None or not course.visible or lang not in course.languages:
        return
    tasks.report_progress(0, 1)
    outcome = build_course_file(Store(app.config["MEDIA_DIR"]), course, lang)
    if outcome.status == "incomplete":
        # The previous course file stays served (marked as being updated); the studio shows
        # why. The module's own job rebuilds this one once the module has audio again.
        raise RuntimeError(outcome.reason)


def course_languages(course: Course, module_id: str, lang: str) -> list[str]:
    """The languages whose course file plays `module_id` in `lang` (its own, and fallbacks)."""
    out = []
    for course_lang in course.languages:
        found = course.module(module_id, course_lang)
        if found is not None and found[0].language == lang:
            out.append(course_lang)
    return out or [lang]


def queue_rebuild(course_id: str, lang: str, module_id: str) -> list[str]:
    """Queue everything a change to one module version affects; return the new job ids.

    The course MP3 is queued right after the module's audio (and waits for it when run).
    """
    course = catalogue_of(current_app).course(course_id)
    languages = course_languages(course, module_id, lang) if course else [lang]
    jobs = [
        rebuild_audio.enqueue(course_id, lang, module_id),
        *(rebuild_course_audio.enqueue(course_id, course_lang) for course_lang in languages),
        rebuild_pdf.enqueue(course_id, lang, module_id),
        rebuild_pdf.enqueue(course_id, lang, ""),
    ]
    return [job for job in jobs if job]


def _course_digest(course: Course) -> str:
    """What of course.yml shapes every module's artefacts (titles, lexicon, order)."""
    payload = [course.title, course.lexicon, [e.id for e in course.visible]]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def snapshot(catalogue: Catalogue) -> dict[str, str]:
    """`course/lang/module` -> a digest of what its artefacts are made from, visible ones only."""
    seen: dict[str, str] = {}
    for course in catalogue.courses.values():
        digest = _course_digest(course)
        for entry in course.visible:
            for lang, module in entry.versions.items():
                seen[f"{course.id}/{lang}/{entry.id}"] = f"{module.content_hash}:{digest}"
    return seen


def changed_versions(before: dict[str, str], after: dict[str, str]) -> list[tuple[str, str, str]]:
    """The (course, lang, module) versions that are new or whose digest changed."""
    return [
        tuple(key.split("/", 2))  # type: ignore[misc]
        for key, digest in sorted(after.items())
        if before.get(key) != digest
    ]


@tasks.periodic(seconds=WATCH_SECONDS)
def follow_content() -> None:
    """Queue rebuilds for module files changed on disk since the last look (any process)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    root = Path(app.config["CONTENT_DIR"])
    stamp = hash(content_stamp(root))
    memo = app.extensions.setdefault("academy.builds", {})
    if memo.get("stamp") == stamp:
        return
    queue = tasks.queue_for(app)
    after = snapshot(catalogue_of(app))
    before = queue.read(SNAPSHOT)
    # The first look only records the files: building everything is `flask content build`'s
    # job (make run does it first), and the queue stays free for other work.
    for course_id, lang, module_id in changed_versions(before, after) if before else []:
        queue_rebuild(course_id, lang, module_id)
    queue.write(SNAPSHOT, after)
    memo["stamp"] = stamp
