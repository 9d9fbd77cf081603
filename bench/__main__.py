"""`make bench`: content loading, the per-request change check, and page rendering."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from app import create_app
from app.content.catalog import content_stamp
from app.content.loader import load_catalogue

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"


def measure(label: str, func: Callable[[], object], repeat: int) -> float:
    """Run `func` `repeat` times and print the median and best time in milliseconds."""
    func()  # warm up caches and imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"{label:<52} median {median:8.3f} ms   best {min(times):8.3f} ms   (n={repeat})")
    return median


def main() -> None:
    """Print the content pipeline's figures."""
    catalogue = load_catalogue(CONTENT)
    files = sum(len(e.versions) for c in catalogue.courses.values() for e in c.entries)
    print(f"content: {len(catalogue.courses)} course(s), {files} module file(s)")
    measure("full load + render of every course", lambda: load_catalogue(CONTENT), 20)
    measure("change check on each request (stat walk)", lambda: content_stamp(CONTENT), 500)

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "CONTENT_DIR": str(CONTENT),
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            }
        )
        client = app.test_client()
        course = next(iter(catalogue.courses.values()))
        module_id = course.visible[0].id
        url = f"/it/{course.id}/{module_id}/"
        measure(f"GET {url} (cached content)", lambda: client.get(url), 200)
        measure("GET / (catalogue)", lambda: client.get("/"), 200)


def bench_trainer() -> None:
    """Trainer reports for 1,000 learners on SQLite, then on a throwaway PostgreSQL."""
    from bench.trainer import run

    run("", "SQLite")
    script = ROOT / "scripts" / "test-postgres.sh"
    # The same measurement in a child process, with ACADEMY_DATABASE_URL set by the script.
    result = subprocess.run([str(script), sys.executable, "-m", "bench.trainer"], cwd=ROOT)
    if result.returncode:
        print(f"PostgreSQL run failed (exit {result.returncode})")


def bench_audio() -> None:
    """Audio: real-time factor of each engine that works here, and the whole-course build."""
    from app.audio import mp3
    from app.audio.build import cores
    from app.audio.engines import KNOWN_ENGINES, EngineError, create_engines
    from app.audio.narration import module_chapters

    catalogue = load_catalogue(CONTENT)
    course = next(c for c in catalogue.courses.values() if c.visible)
    module = course.visible[0].versions[course.default_language]
    sentences = [s.text for s in module_chapters(course, module)[1].sentences][:12]
    for name in KNOWN_ENGINES:
        engine = create_engines([name])[0]
        try:
            start = time.perf_counter()
            pcm = [engine.synthesize(text, module.language) for text in sentences]
            synthesis = time.perf_counter() - start
        except EngineError as error:
            print(f"audio engine {name:<10} unavailable here: {error.message}")
            continue
        audio = sum(p.seconds for p in pcm)
        start = time.perf_counter()
        for p in pcm:
            mp3.encode(p)
        encoding = time.perf_counter() - start
        print(
            f"audio engine {name:<10} {len(sentences)} sentences, {audio:6.1f} s of speech: "
            f"real-time factor {synthesis / audio:.4f} synthesis + {encoding / audio:.4f} MP3 "
            f"({audio / (synthesis + encoding):.0f}x faster than real time, one core)"
        )

    # The whole course, espeak-ng only (a bench must not depend on the network or Google's
    # rate limits): a first build on every core and one with a single worker, each into an
    # empty media folder, side by side; then a second build, which has nothing to synthesise.
    n = cores()
    walls: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, workers in ((f"first build, {n} workers", n), ("first build, 1 worker", 1)):
            media = Path(tmp) / f"media-{workers}"
            walls[workers] = _audio_build(label, media, workers)
        _audio_build(f"second build, {n} workers", Path(tmp) / f"media-{n}", n)
    load = os.getloadavg()[0]
    print(
        f"audio whole course: {n} workers build it {walls[1] / walls[n]:.2f}x as fast as "
        f"1 worker ({walls[1]:.1f} s vs {walls[n]:.1f} s wall; ideal {n}.00x; "
        f"machine load {load:.1f} on {os.cpu_count()} cores, other work shares them)"
    )


def _audio_build(label: str, media: Path, workers: int) -> float:
    """One `flask content build`-style audio build of the real course; print it, return wall s."""
    from app.audio.build import build_audio, cores

    app = create_app(
        {
            "TESTING": True,
            "CONTENT_DIR": str(CONTENT),
            "MEDIA_DIR": str(media),
            "TTS_ENGINES": "espeak-ng",
        }
    )
    start = time.perf_counter()
    with BuildCpu() as cpu:
        report = build_audio(
            app, echo=lambda line: None, progress=lambda step: None, workers=workers
        )
    seconds = time.perf_counter() - start
    audio = sum(s.duration for s in report.sections)
    print(
        f"audio whole course, {label:<24} {seconds:7.1f} s wall: "
        f"{len(report.built)} built, {len(report.reused)} reused, "
        f"{len(report.failed)} failed, {report.modules_built} module file(s) built; "
        f"{audio / 3600:.2f} h of speech"
    )
    print(
        f"audio whole course, {label:<24} {cpu.seconds:7.1f} s CPU in "
        f"{cpu.processes} process(es): {cpu.seconds / seconds:.2f} of {cores()} cores busy "
        "on average"
    )
    for course in report.courses:
        # Joining the module files (no synthesis): the course MP3's own cost.
        print(
            f"audio course file {course.where:<16} {label:<24} {course.status:<10} "
            f"{course.seconds:6.2f} s wall, {course.size / 1_048_576:6.1f} MB, "
            f"{course.duration / 3600:.2f} h, {course.modules} module(s)"
        )
    return seconds


class BuildCpu:
    """CPU seconds of this process and its worker pool while open, their programs included.

    The pool's workers are children of multiprocessing's forkserver, so the OS's RUSAGE_CHILDREN
    does not see them: /proc is sampled for each descendant running this interpreter (the
    forkserver and its workers; the last sample of each counts), a worker with the children it
    reaped (espeak-ng), the forkserver without (it reaps the workers, counted already, and
    lives on from one build to the next). This process counts itself and its own reaped
    children by os.times().
    """

    def __enter__(self) -> BuildCpu:
        self.seen: dict[int, tuple[float, float]] = {}
        self.forkservers: set[int] = set()  # our own children: they reap the workers
        self.base = _interpreters()
        self.own = _own_cpu()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            for pid, (cpu, reaped, parent) in _interpreters().items():
                base = self.base.get(pid, (0.0, 0.0, 0))
                self.seen[pid] = (cpu - base[0], reaped - base[1])
                if parent == os.getpid():
                    self.forkservers.add(pid)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.own = _own_cpu() - self.own

    @property
    def seconds(self) -> float:
        """CPU seconds (user + system): this process, its pool, what they ran."""
        return self.own + sum(
            cpu + (0.0 if pid in self.forkservers else reaped)
            for pid, (cpu, reaped) in self.seen.items()
        )

    @property
    def processes(self) -> int:
        """Processes of this interpreter that used CPU: this one and the busy workers."""
        return 1 + sum(1 for cpu, reaped in self.seen.values() if cpu + reaped > 0.05)


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _interpreters() -> dict[int, tuple[float, float, int]]:
    """Each descendant running this program: its CPU seconds, its reaped children's, its parent."""
    ticks = os.sysconf("SC_CLK_TCK")
    name = Path("/proc/self/comm").read_text().strip()
    parents: dict[int, int] = {}
    stats: dict[int, tuple[float, float, int]] = {}
    same: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except (OSError, ValueError):
            continue
        fields = tail.split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        own = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        reaped = (int(fields[13]) + int(fields[14])) / ticks  # cutime, cstime
        stats[pid] = (own, reaped, parents[pid])
        if head.split("(", 1)[-1] == name:
            same.add(pid)
    mine, found = {os.getpid()}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                found = True
    mine.discard(os.getpid())
    return {pid: stats[pid] for pid in mine & same}


def bench_pdf(repeat: int = 3) -> None:
    """PDF rendering: seconds per page for a module and the course, against bare WeasyPrint."""
    import weasyprint

    from app.pdf.bounded import render_pdf_bounded
    from app.pdf.build import course_job, module_job
    from app.pdf.render import SafeFetcher, render_pdf
    from app.web import catalogue as current_catalogue

    def best_of(func: Callable[[], object], times: int) -> tuple[float, object]:
        results = []
        for _ in range(times):
            start = time.perf_counter()
            result = func()
            results.append((time.perf_counter() - start, result))
        return min(results, key=lambda r: r[0])

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "CONTENT_DIR": str(CONTENT), "MEDIA_DIR": tmp})
        with app.test_request_context("/it/"):
            course = next(c for c in current_catalogue().courses.values() if c.visible)
            entry = course.visible[0]
            module = entry.versions[course.default_language]
            job = module_job(course, entry.id, course.default_language, "http://localhost/")
            assert job is not None
            seconds, rendered = best_of(lambda: render_pdf(job.html, job.policy), repeat)
            pages = rendered.pages  # type: ignore[attr-defined]
            per_page = seconds / pages
            print(
                f"PDF module {entry.id:<37} {seconds:6.2f} s  {pages:3d} pages  "
                f"{per_page:6.3f} s/page (best of {repeat})"
            )

            # The same module's HTML with no stylesheet, worksheet or cover: WeasyPrint's floor.
            bare = (
                f'<html lang="{module.language}"><head><title>{module.title}</title></head><body>'
                f"<h1>{module.title}</h1>{module.intro_html}"
                + "".join(f"<h2>{s.title}</h2>{s.html}" for s in module.sections)
                + "</body></html>"
            )

            def bare_render() -> int:
                return len(weasyprint.HTML(string=bare).render().pages)

            bare_seconds, bare_pages = best_of(bare_render, repeat)
            bare_per_page = bare_seconds / int(bare_pages)  # type: ignore[call-overload]
            print(
                f"PDF bare WeasyPrint, same module, no styles     {bare_seconds:6.2f} s  "
                f"{bare_pages:3d} pages  {bare_per_page:6.3f} s/page"
            )
            print(
                f"PDF module / bare: {seconds / bare_seconds:.2f}x the time, "
                f"{per_page / bare_per_page:.2f}x per page"
            )

            # The build as `flask pdf build` runs it (course HTML made from the content, then
            # rendered in a child process with tags for PDF/UA) against bare WeasyPrint on the
            # very same HTML and resources, alternating so other load hits both alike.
            start = time.perf_counter()
            cjob = course_job(course, course.default_language, "http://localhost/")
            html_seconds = time.perf_counter() - start
            ours: list[float] = []
            bare_course: list[float] = []
            pages = 0
            for _ in range(2):
                start = time.perf_counter()
                # No time limit that matters here: a loaded machine must not stop the figure.
                rendered = render_pdf_bounded(cjob.html, cjob.policy, seconds=3600)
                ours.append(time.perf_counter() - start + html_seconds)
                pages = rendered.pages
                start = time.perf_counter()
                weasyprint.HTML(
                    string=cjob.html,
                    base_url=cjob.policy.base_url,
                    url_fetcher=SafeFetcher(cjob.policy),
                ).write_pdf()
                bare_course.append(time.perf_counter() - start)
            print(
                f"PDF course build {course.id:<31} {min(ours):6.2f} s  {pages:3d} pages  "
                f"{min(ours) / pages:6.3f} s/page (HTML {html_seconds:.2f} s, render, PDF/UA tags)"
            )
            print(
                f"PDF bare WeasyPrint, same course HTML          {min(bare_course):6.2f} s  "
                f"(write_pdf, default options, same resources)"
            )
            print(
                f"PDF course build / bare on the same HTML: {min(ours) / min(bare_course):.2f}x "
                f"(goal <= 1.5x; best of 2, alternating)"
            )


def bench_quiz(repeat: int = 50) -> None:
    """Grading an attempt, GIFT export, and the quiz page shown and submitted."""
    import re

    from app.extensions import db
    from app.quizzes.gift_export import to_gift
    from app.quizzes.grading import score

    course = load_catalogue(CONTENT).courses["omnichannel"]
    module = course.visible[0].versions["it"]
    questions = [q for e in course.visible for q in e.versions["it"].questions]
    measure(
        f"grade an attempt at {len(module.questions)} questions",
        lambda: score(module.questions, {}),
        2000,
    )
    measure(
        f"GIFT export of the course ({len(questions)} questions)",
        lambda: to_gift(questions),
        repeat,
    )
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "TESTING": True,
                "CONTENT_DIR": str(CONTENT),
                "DATABASE_URL": f"sqlite:///{tmp}/q.sqlite3",
            }
        )
        with app.app_context():
            db.create_all()
        client = app.test_client()
        url = f"/it/{course.id}/{module.id}/quiz"
        measure(f"GET {url}", lambda: client.get(url), repeat)

        def submit() -> None:
            html = client.get(url).data.decode()
            hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))
            assert client.post(url, data=hidden).status_code == 303

        measure("GET + POST the quiz (grade, store, record progress)", submit, repeat)


def run(selected: list[str]) -> None:
    """Run the named parts (all of them when none is named)."""
    from bench import pages, studio

    parts: dict[str, Callable[[], None]] = {
        "content": main,
        "pages": pages.main,
        "pdf": bench_pdf,
        "audio": bench_audio,
        "quiz": bench_quiz,
        "trainer": bench_trainer,
        "studio": studio.main,
    }
    unknown = [name for name in selected if name not in parts]
    if unknown:
        raise SystemExit(f"unknown bench part(s) {unknown}; choose from {sorted(parts)}")
    for name in selected or ["content", "pages", "pdf", "audio", "quiz", "trainer", "studio"]:
        parts[name]()


if __name__ == "__main__":
    import sys

    run(sys.argv[1:])
