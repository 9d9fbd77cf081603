"""Build the audio of every course, language and module: only what is missing, on every core.

`build_audio(app)` is the one entry point (`flask audio build`, and `flask content build`).
It prepares every chapter's narration in this process (cheap), looks each chapter's artefact up
by the hash of what would make it, and sends only the missing ones to a process pool. Each
worker tries the configured engines in order for a chapter, sentence by sentence, and writes
the chapter's MP3, its sentence timings (JSON) and its WebVTT captions. Then each module whose
chapters all exist gets a whole-module MP3 with ID3 chapters, and a manifest that the views read.
Last, each course and language whose visible modules all have a current whole-module file gets
a whole-course MP3 (the modules in course order, chapters per module and section) and captions.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask

from app.audio import mp3
from app.audio.engines import Engine, EngineError, Pcm, create_engines, engine_names, silence
from app.audio.narration import Chapter, module_chapters
from app.audio.store import Store
from app.content.loader import load_catalogue
from app.content.model import Course, Module
from app.files import write_atomic

PLATFORM = "Omnichannel Academy"  # the ID3 artist of every file
T = TypeVar("T")
# Bump when the way artefacts are made changes (encoding, timing, file format).
ARTEFACT_VERSION = 1


def chapter_key(engine: Engine, chapter: Chapter) -> str:
    """The artefact key: a hash of engine, voice, language, prepared text, lexicon, encoding."""
    payload = [
        ARTEFACT_VERSION,
        engine.name,
        engine.voice(chapter.language),
        chapter.language,
        chapter.digest,  # prepared text, pauses and the lexicon entries it uses
        mp3.BITRATE,
        mp3.QUALITY,
    ]
    return hashlib.sha256(json.dumps(payload).encode("utf-8")).hexdigest()


def module_key(chapter_keys: Sequence[str], tags: dict[str, Any]) -> str:
    """A whole-module file's key: its chapters' keys and its tags."""
    payload = [ARTEFACT_VERSION, list(chapter_keys), tags]
    raw = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def course_key(module_keys: Sequence[str], tags: dict[str, Any]) -> str:
    """A whole-course file's key: its modules' keys, in order, and its tags and chapters."""
    payload = [ARTEFACT_VERSION, "course", list(module_keys), tags]
    raw = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def module_tags(course: Course, module: Module, chapters: Sequence[Chapter]) -> dict[str, Any]:
    """What a whole-module file is tagged with (part of its key)."""
    album = course.text(course.title, module.language)
    return {
        "title": module.title,
        "album": album,
        "artist": PLATFORM,
        "chapters": [[c.id, c.title] for c in chapters],
    }


# --- one chapter, in a worker ---------------------------------------------------------------


@dataclass(frozen=True)
class Job:
    """One chapter to synthesise: everything a worker process needs, picklable."""

    index: int
    chapter: Chapter
    engines: tuple[str, ...]
    gtts_url: str
    media_dir: str
    title: str
    album: str
    track: str


@dataclass(frozen=True)
class JobResult:
    """What a worker made of a job."""

    index: int
    engine: str = ""
    voice: str = ""
    key: str = ""
    duration: float = 0.0
    failures: tuple[str, ...] = ()  # "engine: reason" for each engine that failed first
    error: str = ""  # set when no engine could make the chapter
    seconds: float = 0.0  # wall time spent on this chapter (for the real-time factor)


# Per process: engines that failed for good in this build (no network, rate-limited), so the
# next chapters go straight to the next engine instead of waiting on timeouts again.
_DOWN: dict[str, str] = {}


def synthesize_chapter(engine: Engine, chapter: Chapter) -> tuple[bytes, list[dict[str, Any]]]:
    """Speak a chapter sentence by sentence; return its MP3 and each sentence's start and end."""
    pcm: list[bytes] = []
    sentences: list[dict[str, Any]] = []
    samples = 0
    rate = 0
    for sentence in chapter.sentences:
        spoken = engine.synthesize(sentence.text, chapter.language)
        rate = spoken.rate
        start = samples
        samples += spoken.samples
        pcm.append(spoken.data)
        sentences.append(
            {
                "start": round(start / rate + mp3.ENCODER_DELAY, 3),
                "end": round(samples / rate + mp3.ENCODER_DELAY, 3),
                "display": sentence.display,
                "text": sentence.text,
            }
        )
        gap = silence(sentence.pause, rate)
        pcm.append(gap)
        samples += len(gap) // 2
    return mp3.encode(Pcm(b"".join(pcm), rate or 22050)), sentences


def vtt(sentences: Sequence[dict[str, Any]]) -> str:
    """WebVTT captions: one cue per sentence, with the words the page shows."""

    def stamp(seconds: float) -> str:
        millis = int(round(seconds * 1000))
        hours, rest = divmod(millis, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"

    lines = ["WEBVTT", ""]
    for number, sentence in enumerate(sentences, 1):
        text = sentence["display"].replace("&", "&amp;").replace("<", "&lt;")
        text = text.replace("-->", "→")
        lines += [str(number), f"{stamp(sentence['start'])} --> {stamp(sentence['end'])}", text, ""]
    return "\n".join(lines)


def module_sentences(store: Store, chapter_keys: Sequence[str]) -> list[dict[str, Any]]:
    """Every sentence of a whole-module file, timed from the start of that file.

    The module MP3 is its chapters' frames one after the other, so a sentence's time in it is
    its time in its chapter plus the length of the chapters before.
    """
    out: list[dict[str, Any]] = []
    offset = 0.0
    for key in chapter_keys:
        timings = store.read_timings(key)
        for sentence in timings["sentences"]:
            out.append(
                {
                    **sentence,
                    "start": round(sentence["start"] + offset, 3),
                    "end": round(sentence["end"] + offset, 3),
                }
            )
        offset += float(timings["duration"])
    return out


def write_tagged(path: Path, data: bytes, **tags: Any) -> None:
    """Write MP3 bytes with ID3 tags, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".mp3")
    try:
        os.fchmod(fd, 0o644)  # readable by the front server too, as app/files.py explains
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        mp3.write_tags(Path(tmp), **tags)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_job(job: Job) -> JobResult:
    """Make one chapter with the first engine that can; never raises."""
    started = time.monotonic()
    store = Store(job.media_dir)
    failures: list[str] = []
    try:
        engines = create_engines(job.engines, gtts_url=job.gtts_url)
    except ValueError as exc:
        return JobResult(job.index, error=str(exc))
    for engine in engines:
        if engine.name in _DOWN:
            failures.append(f"{engine.name}: {_DOWN[engine.name]}")
            continue
        key = chapter_key(engine, job.chapter)
        try:
            audio, sentences = synthesize_chapter(engine, job.chapter)
        except EngineError as exc:
            failures.append(str(exc))
            if exc.down:
                _DOWN[engine.name] = exc.message
            continue
        seconds = mp3.duration(audio)
        write_tagged(
            store.section_path(key, ".mp3"),
            audio,
            title=job.chapter.title,
            album=job.album,
            artist=PLATFORM,
            language=job.chapter.language,
            track=job.track,
        )
        write_atomic(store.section_path(key, ".vtt"), vtt(sentences).encode("utf-8"))
        timings = {
            "key": key,
            "chapter": job.chapter.id,
            "engine": engine.name,
            "voice": engine.voice(job.chapter.language),
            "language": job.chapter.language,
            "duration": round(seconds, 3),
            "sentences": sentences,
        }
        # Written last: its presence means the chapter's artefacts are complete.
        write_atomic(
            store.section_path(key, ".json"),
            json.dumps(timings, ensure_ascii=False).encode("utf-8"),
        )
        return JobResult(
            job.index,
            engine=engine.name,
            voice=engine.voice(job.chapter.language),
            key=key,
            duration=seconds,
            failures=tuple(failures),
            seconds=time.monotonic() - started,
        )
    return JobResult(
        job.index,
        failures=tuple(failures),
        error="; ".join(failures),
        seconds=time.monotonic() - started,
    )


# --- the whole build ------------------------------------------------------------------------


@dataclass
class SectionOutcome:
    """What happened to one chapter in a build."""

    course: str
    language: str
    module: str
    section: str
    status: str  # "built", "reused" or "failed"
    engine: str = ""
    reason: str = ""  # why it failed, or which engines failed before the one that made it
    duration: float = 0.0

    @property
    def where(self) -> str:
        """course/language/module › section."""
        return f"{self.course}/{self.language}/{self.module} › {self.section}"


@dataclass
class CourseOutcome:
    """What happened to one course file (a course in one language) in a build."""

    course: str
    language: str
    status: str  # "built", "reused" or "incomplete" (some module had no current audio)
    reason: str = ""  # why it is incomplete: which module, and why
    modules: int = 0
    duration: float = 0.0  # seconds of audio
    size: int = 0  # bytes of the MP3
    seconds: float = 0.0  # wall time spent on it
    kept_previous: bool = False  # an incomplete build left the previous file in place

    @property
    def where(self) -> str:
        """course/language."""
        return f"{self.course}/{self.language}"

    def line(self) -> str:
        """`Course file mini/en: built, 2 modules, 1:05, 0.4 MB, 0.1 s`, or why it was not."""
        if self.status == "incomplete":
            return f"Course file {self.where}: not built: {self.reason}"
        minutes, secs = divmod(int(self.duration + 0.5), 60)
        return (
            f"Course file {self.where}: {self.status}, {self.modules} module(s), "
            f"{minutes}:{secs:02d}, {self.size / 1_048_576:.1f} MB, {self.seconds:.2f} s"
        )


@dataclass
class BuildReport:
    """The summary of a build: built, reused, failed (with reasons), engine per section."""

    sections: list[SectionOutcome] = field(default_factory=list)
    modules_built: int = 0
    modules_reused: int = 0
    modules_incomplete: list[str] = field(default_factory=list)
    courses: list[CourseOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # configuration errors
    seconds: float = 0.0

    def _with(self, status: str) -> list[SectionOutcome]:
        return [s for s in self.sections if s.status == status]

    @property
    def built(self) -> list[SectionOutcome]:
        """Chapters synthesised in this build."""
        return self._with("built")

    @property
    def reused(self) -> list[SectionOutcome]:
        """Chapters whose artefacts already existed."""
        return self._with("reused")

    @property
    def failed(self) -> list[SectionOutcome]:
        """Chapters no engine could make."""
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """True when nothing failed (a course file left out because a module failed counts)."""
        return not self.failed and not self.errors and not self.courses_incomplete

    @property
    def courses_incomplete(self) -> list[CourseOutcome]:
        """Course files not made because some module had no current audio."""
        return [c for c in self.courses if c.status == "incomplete"]

    def engines(self) -> Counter[str]:
        """How many chapters each engine made (built or reused)."""
        return Counter(s.engine for s in self.sections if s.engine)

    def summary(self) -> list[str]:
        """Lines for the terminal: totals, engines, fallbacks and failures with reasons."""
        engines = ", ".join(f"{n} by {name}" for name, n in sorted(self.engines().items()))
        lines = [
            f"Audio: {len(self.built)} section(s) built, {len(self.reused)} reused, "
            f"{len(self.failed)} failed" + (f" ({engines})" if engines else "") + "; "
            f"{self.modules_built} module file(s) built, {self.modules_reused} reused; "
            f"{sum(c.status == 'built' for c in self.courses)} course file(s) built, "
            f"{sum(c.status == 'reused' for c in self.courses)} reused; "
            f"{self.seconds:.1f} s."
        ]
        fallbacks = Counter(s.reason for s in self.built if s.reason)
        for reason, count in fallbacks.most_common():
            lines.append(f"  fallback for {count} section(s): {reason}")
        for outcome in self.failed:
            lines.append(f"  FAILED {outcome.where}: {outcome.reason}")
        for where in self.modules_incomplete:
            lines.append(f"  no whole-module file for {where}: some sections have no audio")
        for course in self.courses_incomplete:
            kept = " (the previous one is served meanwhile)" if course.kept_previous else ""
            lines.append(f"  no course file for {course.where}{kept}: {course.reason}")
        lines.extend(f"  ERROR {error}" for error in self.errors)
        return lines


@dataclass(frozen=True)
class Progress:
    """One step of a build, for a progress bar."""

    done: int
    total: int
    outcome: SectionOutcome
    eta: float  # seconds left, estimated

    def line(self, width: int = 24) -> str:
        """`[#####-----]  12/84  14% course/lang/module › section (engine) ETA 1m05s`."""
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        minutes, seconds = divmod(int(self.eta + 0.5), 60)
        what = self.outcome.engine or "FAILED"
        return (
            f"[{bar}] {self.done}/{self.total} {100 * self.done // max(self.total, 1):3d}% "
            f"{self.outcome.where} ({what}) ETA {minutes}m{seconds:02d}s"
        )


@dataclass
class _Planned:
    course: Course
    module: Module
    chapters: tuple[Chapter, ...]
    outcomes: list[SectionOutcome]
    keys: list[str]


def build_audio(
    app: Flask,
    *,
    echo: Callable[[str], Any] = print,
    progress: Callable[[Progress], Any] | None = None,
    workers: int | None = None,
) -> BuildReport:
    """Build what is missing for every course and language; return the report.

    :param app: the application (its CONTENT_DIR, MEDIA_DIR and TTS settings are used).
    :param echo: where progress and summary lines go.
    :param progress: called after each synthesised chapter (default: a progress line to echo).
    :param workers: processes to use (default: one per core).
    """
    started = time.monotonic()
    report = BuildReport()
    names = engine_names(app.config.get("TTS_ENGINES", "espeak-ng"))
    gtts_url = str(app.config.get("TTS_GTTS_URL") or "")
    try:
        engines = create_engines(names, gtts_url=gtts_url)
    except ValueError as exc:
        report.errors.append(str(exc))
        return _finish(report, started, echo)
    store = Store(app.config["MEDIA_DIR"])
    catalogue = load_catalogue(Path(app.config["CONTENT_DIR"]))

    planned: list[_Planned] = []
    jobs: list[Job] = []
    where_of: dict[int, tuple[_Planned, int]] = {}
    for course in catalogue.courses.values():
        for entry in course.visible:
            for language in course.languages:
                module = entry.versions.get(language)
                if module is None:
                    continue  # a missing translation: the page falls back, so does the audio
                plan = _plan_module(course, module, engines, store)
                planned.append(plan)
                for i, chapter in enumerate(plan.chapters):
                    if plan.keys[i]:
                        continue
                    job = Job(
                        index=len(jobs),
                        chapter=chapter,
                        engines=names,
                        gtts_url=gtts_url,
                        media_dir=str(store.root.parent),
                        title=chapter.title,
                        album=course.text(course.title, module.language),
                        track=f"{i + 1}/{len(plan.chapters)}",
                    )
                    jobs.append(job)
                    where_of[job.index] = (plan, i)

    reused = sum(1 for plan in planned for key in plan.keys if key)
    echo(
        f"Audio: {reused} section(s) up to date, {len(jobs)} to synthesise with {', '.join(names)}."
    )
    report_progress = progress or (lambda step: echo(step.line()))
    _DOWN.clear()
    done = 0
    media = str(store.root.parent)
    courses = [
        (course, language, media)
        for course in catalogue.courses.values()
        if course.visible
        for language in course.languages
    ]
    # One pool for the three steps: the chapters, then each module's file, then each course's
    # (a course file joins its modules' files). Every core works on each step. With nothing
    # to synthesise the files are most likely current: checked here, no pool started.
    count = min(workers or cores(), max(len(jobs), len(planned), len(courses))) if jobs else 1
    with _pool(count) as pool:
        for result in _run(jobs, pool):
            plan, i = where_of[result.index]
            outcome = plan.outcomes[i]
            _record(plan, i, result)
            done += 1
            elapsed = time.monotonic() - started
            eta = elapsed / done * (len(jobs) - done)
            report_progress(Progress(done, len(jobs), outcome, eta))

        for plan in planned:
            report.sections.extend(plan.outcomes)
        for built, reused, incomplete in _each(
            pool, _finish_module_job, [(plan, media) for plan in planned]
        ):
            report.modules_built += built
            report.modules_reused += reused
            report.modules_incomplete.extend(incomplete)
        for course_outcome in _each(pool, _course_file_job, courses):
            report.courses.append(course_outcome)
            echo(course_outcome.line())
    return _finish(report, started, echo)


def _finish_module_job(plan: _Planned, media_dir: str) -> tuple[int, int, list[str]]:
    """`_finish_module` in a worker: module files built, reused, and those left incomplete."""
    part = BuildReport()
    _finish_module(plan, Store(media_dir), part)
    return part.modules_built, part.modules_reused, part.modules_incomplete


def _course_file_job(course: Course, language: str, media_dir: str) -> CourseOutcome:
    """`build_course_file` in a worker."""
    return build_course_file(Store(media_dir), course, language)


def _finish(report: BuildReport, started: float, echo: Callable[[str], Any]) -> BuildReport:
    report.seconds = time.monotonic() - started
    for line in report.summary():
        echo(line)
    return report


def _plan_module(course: Course, module: Module, engines: list[Engine], store: Store) -> _Planned:
    """Prepare a module's chapters and find those already built (by any configured engine)."""
    chapters = module_chapters(course, module)
    outcomes: list[SectionOutcome] = []
    keys: list[str] = []
    for chapter in chapters:
        outcome = SectionOutcome(course.id, module.language, module.id, chapter.id, "pending")
        key = ""
        # An artefact from any configured engine is reused, first engine first: a build
        # without the network keeps what an earlier build made with it, and the reverse.
        for engine in engines:
            candidate = chapter_key(engine, chapter)
            if store.has_section(candidate):
                key = candidate
                timings = store.read_timings(candidate)
                outcome.status, outcome.engine = "reused", engine.name
                outcome.duration = float(timings.get("duration", 0.0))
                break
        outcomes.append(outcome)
        keys.append(key)
    return _Planned(course, module, chapters, outcomes, keys)


def _record(plan: _Planned, i: int, result: JobResult) -> None:
    """Write one synthesis result into the plan: the section's outcome and, when built, its key."""
    section = plan.outcomes[i]
    if result.error:
        section.status, section.reason = "failed", result.error
        return
    section.status, section.engine, section.duration = "built", result.engine, result.duration
    section.reason = "; ".join(result.failures)
    plan.keys[i] = result.key


def cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _size(job: Job) -> int:
    return sum(len(sentence.text) for sentence in job.chapter.sentences)


@contextmanager
def _pool(count: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of `count` worker processes, or None (work in this process) for one."""
    if count <= 1:
        yield None
        return
    # forkserver: workers start from a clean process, not a fork of a threaded server.
    with ProcessPoolExecutor(max_workers=count, mp_context=get_context("forkserver")) as pool:
        yield pool


def _run(jobs: list[Job], pool: ProcessPoolExecutor | None) -> Iterator[JobResult]:
    """Yield job results as they finish: in the pool, or in this process without one.

    A worker process that dies (killed, out of memory) fails only the chapters it had or that
    were still waiting, each reported as failed; the build goes on to its report.
    """
    if pool is None:
        for job in jobs:
            yield run_job(job)
        return
    # Longest chapters first: the last jobs in the pool are the short ones, so no core sits
    # idle while another finishes a long chapter alone.
    futures = {pool.submit(run_job, job): job for job in sorted(jobs, key=_size, reverse=True)}
    for future in as_completed(futures):
        try:
            yield future.result()
        except BrokenProcessPool as exc:
            yield JobResult(futures[future].index, error=f"the worker process died: {exc}")


def _each(
    pool: ProcessPoolExecutor | None, func: Callable[..., T], items: list[tuple[Any, ...]]
) -> list[T]:
    """`func(*item)` for each item, results in order: in the pool, or here without one.

    Once the pool has broken (a worker died), the rest runs in this process: joining files is
    safe to do again, each is written under a new name by atomic rename.
    """
    futures = []
    for item in items:
        try:
            futures.append(pool.submit(func, *item) if pool is not None else None)
        except BrokenProcessPool:
            futures.append(None)
    results: list[T] = []
    for item, future in zip(items, futures, strict=True):
        try:
            results.append(future.result() if future is not None else func(*item))
        except BrokenProcessPool:
            results.append(func(*item))
    return results


def _finish_module(plan: _Planned, store: Store, report: BuildReport) -> None:
    """Write the whole-module MP3 (when every chapter exists) and the module's manifest."""
    course, module = plan.course, plan.module
    album = course.text(course.title, module.language)
    previous_manifest = store.read_manifest(course.id, module.language, module.id)
    previous_chapters = {
        c.get("id"): c for c in previous_manifest.get("chapters", []) if isinstance(c, dict)
    }
    chapters_meta: list[dict[str, Any]] = []
    for chapter, outcome, key in zip(plan.chapters, plan.outcomes, plan.keys, strict=True):
        earlier = previous_chapters.get(chapter.id)
        if not key and earlier and earlier.get("key"):
            # No engine could speak the new text: learners keep the previous audio (its old
            # digest marks it out of date) rather than losing it.
            chapters_meta.append({**earlier, "error": outcome.reason})
            continue
        chapters_meta.append(
            {
                "id": chapter.id,
                "title": chapter.title,
                "digest": chapter.digest,
                "key": key,
                "engine": outcome.engine,
                "duration": round(outcome.duration, 3),
                "error": outcome.reason if outcome.status == "failed" else "",
            }
        )
    whole: dict[str, Any] | None = None
    if all(plan.keys):
        tags = {"title": module.title, "album": album, "artist": PLATFORM}
        marks = [(c.id, c.title) for c in plan.chapters]
        key = module_key(plan.keys, module_tags(course, module, plan.chapters))
        path = store.module_path(key)
        if path.is_file():
            report.modules_reused += 1
            previous = previous_manifest.get("whole")
            if isinstance(previous, dict) and previous.get("key") == key:
                seconds = float(previous.get("duration") or 0.0)
            else:
                seconds = mp3.duration(path.read_bytes())
        else:
            parts = [store.section_path(k, ".mp3").read_bytes() for k in plan.keys]
            chapters: list[mp3.ChapterMark] = []
            position = 0.0
            for (chapter_id, title), part in zip(marks, parts, strict=True):
                length = mp3.duration(part)
                chapters.append(mp3.ChapterMark(chapter_id, title, position, position + length))
                position += length
            write_tagged(
                path,
                mp3.join(parts),
                language=module.language,
                chapters=chapters,
                **tags,
            )
            seconds = position
            report.modules_built += 1
        captions = store.module_path(key, ".vtt")
        if not captions.is_file():
            # Also for a module file made before whole-module captions existed.
            write_atomic(captions, vtt(module_sentences(store, plan.keys)).encode("utf-8"))
        whole = {"key": key, "duration": round(seconds, 3)}
    else:
        report.modules_incomplete.append(f"{course.id}/{module.language}/{module.id}")
        earlier_whole = previous_manifest.get("whole")
        if isinstance(earlier_whole, dict) and earlier_whole.get("key"):
            whole = {**earlier_whole, "stale": True}  # the previous file, until all is rebuilt
    store.write_manifest(
        course.id,
        module.language,
        module.id,
        {
            "course": course.id,
            "language": module.language,
            "module": module.id,
            "title": module.title,
            "chapters": chapters_meta,
            "whole": whole,
        },
    )


# --- one module, from the task queue ----------------------------------------------------------


@dataclass
class ModuleBuild:
    """What a one-module build did."""

    report: BuildReport
    fallbacks: list[str] = field(default_factory=list)  # "section: why the first engine failed"

    @property
    def used_fallback(self) -> bool:
        """Whether some section was spoken by a later engine because the first one failed."""
        return bool(self.fallbacks)


def build_module_audio(
    app: Flask,
    course: Course,
    module: Module,
    *,
    prefer_first: bool = False,
    progress: Callable[[int, int], Any] | None = None,
) -> ModuleBuild:
    """Build one module's missing section MP3s, its whole-module MP3 and its manifest.

    Sections whose text did not change keep their artefacts (keys are content hashes), so an
    edit to one section synthesises that section only. The manifest is replaced last: until
    then learners get the previous audio.

    :param prefer_first: count only the first engine's artefacts as done, so a section spoken
        by a fallback engine while the first was unreachable is tried with it again.
    :param progress: called with (done, total) after each synthesised section.
    """
    started = time.monotonic()
    report = BuildReport()
    names = engine_names(app.config.get("TTS_ENGINES", "espeak-ng"))
    gtts_url = str(app.config.get("TTS_GTTS_URL") or "")
    engines = create_engines(names, gtts_url=gtts_url)
    store = Store(app.config["MEDIA_DIR"])
    plan = _plan_module(course, module, engines[:1] if prefer_first else engines, store)
    missing = [i for i, key in enumerate(plan.keys) if not key]
    _DOWN.clear()  # a new job: an engine down in an earlier job may be back
    outcome = ModuleBuild(report)
    for done, i in enumerate(missing, 1):
        chapter = plan.chapters[i]
        result = run_job(
            Job(
                index=i,
                chapter=chapter,
                engines=names,
                gtts_url=gtts_url,
                media_dir=str(store.root.parent),
                title=chapter.title,
                album=course.text(course.title, module.language),
                track=f"{i + 1}/{len(plan.chapters)}",
            )
        )
        section = plan.outcomes[i]
        _record(plan, i, result)
        if not result.error and result.engine != names[0]:
            outcome.fallbacks.append(f"{chapter.id}: {section.reason}")
        if progress is not None:
            progress(done, len(missing))
    report.sections.extend(plan.outcomes)
    _finish_module(plan, store, report)
    report.seconds = time.monotonic() - started
    return outcome


# --- one course and language: the modules' files joined -----------------------------------------


@dataclass(frozen=True)
class _Member:
    """A module as it goes into a course file: its current whole-module key and chapters."""

    module: Module
    key: str
    chapter_keys: tuple[str, ...]
    chapters: tuple[Chapter, ...]


def current_module_file(store: Store, course: Course, module: Module) -> _Member | str:
    """The module's whole-module file if it matches the module's current text, else why not."""
    manifest = store.read_manifest(course.id, module.language, module.id)
    built = {c.get("id"): c for c in manifest.get("chapters", []) if isinstance(c, dict)}
    chapters = module_chapters(course, module)
    keys: list[str] = []
    for chapter in chapters:
        entry = built.get(chapter.id) or {}
        key = str(entry.get("key") or "")
        try:
            present = bool(key) and store.has_section(key)
        except ValueError:
            present = False
        if not present or entry.get("digest") != chapter.digest:
            why = str(entry.get("error") or "") or "no audio for its current text yet"
            return f"section '{chapter.id}': {why}"
        keys.append(key)
    expected = module_key(keys, module_tags(course, module, chapters))
    whole = manifest.get("whole") or {}
    if whole.get("key") != expected or not store.module_path(expected).is_file():
        return "no whole-module file for its current text yet"
    return _Member(module, expected, tuple(keys), chapters)


def build_course_file(store: Store, course: Course, language: str) -> CourseOutcome:
    """Join a course's module files (visible modules, course order) into one tagged MP3.

    A module without a translation in `language` goes in in the default language, as the
    course page and the course PDF show it. The file is made only when every visible module
    has a current whole-module file: a module whose audio failed or is still being made
    leaves the previous course file in place (the views mark it as being updated) and the
    outcome says which module and why, instead of a course file with a module missing.
    """
    started = time.monotonic()
    outcome = CourseOutcome(course.id, language, "incomplete")
    members: list[_Member] = []
    problems: list[str] = []
    for entry in course.visible:
        found = course.module(entry.id, language)
        if found is None:
            continue
        current = current_module_file(store, course, found[0])
        if isinstance(current, str):
            problems.append(f"module {entry.id} ({found[0].language}): {current}")
        else:
            members.append(current)
    previous = store.read_course_manifest(course.id, language)
    earlier: dict[str, Any] = previous.get("whole") or {}
    if problems or not members:
        outcome.reason = "; ".join(problems) or "no visible module"
        outcome.kept_previous = bool(earlier and earlier.get("key"))
        _write_course_manifest(
            store,
            previous,
            {
                **previous,
                "course": course.id,
                "language": language,
                "whole": {**earlier, "stale": True} if outcome.kept_previous else None,
                "error": outcome.reason,
            },
        )
        outcome.seconds = time.monotonic() - started
        return outcome

    title = course.text(course.title, language)
    tags = {"title": title, "album": title, "artist": PLATFORM}
    outline = [
        [m.module.id, m.module.title, [[c.id, c.title] for c in m.chapters]] for m in members
    ]
    key = course_key([m.key for m in members], {**tags, "modules": outline})
    path = store.course_path(key)
    modules: list[dict[str, Any]] = []
    section_keys = [k for m in members for k in m.chapter_keys]
    if path.is_file():
        outcome.status = "reused"
        if earlier and earlier.get("key") == key:
            modules = list(previous.get("modules") or [])
            duration = float(earlier.get("duration") or 0.0)
            if not all(isinstance(m, dict) and "chapters" in m for m in modules):
                modules = []  # a manifest from before section times were kept: recompute
        else:
            duration = mp3.duration(path.read_bytes())
    else:
        parts: list[bytes] = []
        marks: list[mp3.ChapterMark] = []
        groups: list[mp3.ChapterGroup] = []
        position = 0.0
        for member in members:
            module_start = position
            ids: list[str] = []
            lengths: list[float] = []
            for chapter, chapter_key_ in zip(member.chapters, member.chapter_keys, strict=True):
                part, length = mp3.frames_and_duration(
                    store.section_path(chapter_key_, ".mp3").read_bytes()
                )
                # The introduction's chapter is titled with the module's title: a player that
                # lists chapters flat shows each module's name where the module starts.
                mark_id = f"{member.module.id}/{chapter.id}"
                marks.append(mp3.ChapterMark(mark_id, chapter.title, position, position + length))
                ids.append(mark_id)
                lengths.append(length)
                parts.append(part)
                position += length
            groups.append(mp3.ChapterGroup(member.module.id, member.module.title, tuple(ids)))
            modules.append(_module_outline(member, module_start, lengths))
        write_tagged(
            path,
            b"".join(parts),  # the sections' frames, tags already left out
            language=language,
            chapters=marks,
            groups=groups,
            **tags,
        )
        duration = position
        outcome.status = "built"
    if not modules:  # reused under a manifest from an older build: recompute the outline
        position = 0.0
        for member in members:
            lengths = [float(store.read_timings(k)["duration"]) for k in member.chapter_keys]
            modules.append(_module_outline(member, position, lengths))
            for length in lengths:  # added one by one, as the build adds them
                position += length
    captions = store.course_path(key, ".vtt")
    if not captions.is_file():
        # The course file is its sections' frames one after the other, like a module file.
        write_atomic(captions, vtt(module_sentences(store, section_keys)).encode("utf-8"))
    outcome.modules = len(members)
    outcome.duration = duration
    outcome.size = path.stat().st_size
    _write_course_manifest(
        store,
        previous,
        {
            "course": course.id,
            "language": language,
            "title": title,
            "whole": {"key": key, "duration": round(duration, 3), "size": outcome.size},
            "modules": modules,
            "error": "",
        },
    )
    outcome.seconds = time.monotonic() - started
    return outcome


def _module_outline(member: _Member, start: float, lengths: Sequence[float]) -> dict[str, Any]:
    """A module's entry in the course manifest: where it and each of its sections start and end."""
    sections: list[dict[str, Any]] = []
    position = start
    for chapter, length in zip(member.chapters, lengths, strict=True):
        sections.append(
            {"id": chapter.id, "start": round(position, 3), "end": round(position + length, 3)}
        )
        position += length
    return {
        "id": member.module.id,
        "language": member.module.language,
        "title": member.module.title,
        "key": member.key,
        "start": round(start, 3),
        "end": round(position, 3),
        "chapters": sections,
    }


def _write_course_manifest(store: Store, previous: dict[str, Any], data: dict[str, Any]) -> None:
    """Replace the course manifest only when it changes: its folder's stamp keys cached pages."""
    if data != previous:
        store.write_course_manifest(data["course"], data["language"], data)
