"""`make bench`: content loading, the per-request change check, and page rendering."""

from __future__ import annotations

import statistics
import tempfile
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


if __name__ == "__main__":
    main()
