"""Content that must never take the site down: YAML bombs, huge files, SVG entities, slow PDFs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from app.content.catalog import EXTENSION_KEY
from app.content.loader import MAX_FILE_BYTES, load_catalogue
from tests.conftest import make_app
from tests.fixture_course import COURSE_YML, front, write, write_course

IT = "demo/01-m1/it.md"

# The shape of the 618-byte "billion laughs" course.yml, three levels deep instead of nine.
BOMB = """\
id: bomb
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The demo course (one module) in a content folder of its own."""
    return write_course(tmp_path / "content", modules=1)


def problems(root: Path) -> list[tuple[str, int, str]]:
    """Every problem as (path relative to the content folder, line, message)."""
    return [(p.path, p.line, p.message) for p in load_catalogue(root).problems]


def test_yaml_anchors_and_aliases_are_refused_at_their_line(root: Path) -> None:
    """In course.yml and in front matter, `&name` / `*name` are an error with path:line."""
    write(root, "bomb/course.yml", BOMB)
    text = front("Modulo").replace("keywords: [uno, due]", "keywords: &k [uno, due]")
    write(root, IT, text + "## Uno\n\nTesto.\n")
    found = problems(root)
    assert ("bomb/course.yml", 2, found[0][2]) in found
    assert "YAML anchors ('&name' and '*name') are not allowed" in found[0][2]
    assert any(p[:2] == (IT, 6) and "YAML anchors" in p[2] for p in found)


def test_a_broken_course_never_stops_the_others_and_its_load_is_cached(root: Path, tmp_path):
    """An alias bomb and a YAML nested 2,000 deep: / serves the good course; no reload per hit."""
    write(root, "bomb/course.yml", BOMB)
    deep = write(root, "deep/course.yml", "title: " + "[" * 2_000 + "]" * 2_000 + "\n")
    app = make_app(tmp_path, root, migrate=False)
    client = app.test_client()
    for _ in range(3):
        page = client.get("/en/")
        assert page.status_code == 200 and "Demo course" in page.data.decode()
    cache = app.extensions[EXTENSION_KEY]
    assert cache.loads == 1  # a failed load is kept until a file changes
    catalogue = cache.get()
    assert any(p.path == "deep/course.yml" and "nested more than 32 deep" in p.message
               for p in catalogue.problems)  # fmt: skip
    os.utime(deep, ns=(1, 1))
    assert client.get("/en/").status_code == 200 and cache.loads == 2


def test_a_content_file_over_the_size_cap_is_refused_unread(root: Path) -> None:
    """A module file larger than the cap is an error at line 1; the file is never parsed."""
    write(root, IT, front("Modulo") + "## Uno\n\n" + "parola " * (MAX_FILE_BYTES // 6))
    [(path, line, message)] = [p for p in problems(root) if p[0] == IT]
    assert line == 1 and f"at most {MAX_FILE_BYTES // 1000} KB" in message
    assert load_catalogue(root).courses["demo"].visible == ()


SVG_BOMB = """<?xml version="1.0"?>
<!DOCTYPE svg [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
]>
<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><text>&b;</text></svg>
"""


def test_an_svg_declaring_entities_is_a_checker_error(root: Path) -> None:
    """The picture is refused at the line that uses it; a plain SVG is fine."""
    write(root, "demo/01-m1/media/bomb.svg", SVG_BOMB)
    write(root, "demo/01-m1/media/plain.svg", SVG_BOMB.split("]>\n")[1].replace("&b;", "ok"))
    body = "Intro.\n\n## Uno\n\n![Bomba](media/bomb.svg)\n\n![Piano](media/plain.svg)\n"
    write(root, IT, front("Modulo") + body)
    [(path, line, message)] = [p for p in problems(root) if p[0] == IT]
    assert line == 14 and "image 'media/bomb.svg': the SVG declares XML entities" in message


def test_media_names_with_a_nul_byte_or_10000_characters_are_404(root: Path, tmp_path) -> None:
    """Both used to raise (embedded null byte, file name too long) and answer 500."""
    (root / "demo/01-m1/media").mkdir()
    Image.new("RGB", (4, 4)).save(root / "demo/01-m1/media/ok.png")
    client = make_app(tmp_path, root, migrate=False).test_client()
    with client.get("/media/demo/m1/ok.png") as served:
        assert served.status_code == 200
    assert client.get("/media/demo/m1/ok.png%00").status_code == 404
    assert client.get("/media/demo/m1/ok.png%00.png").status_code == 404
    assert client.get("/media/demo/m1/" + "a" * 10_000 + ".png").status_code == 404
    assert client.get("/media/demo/m1/" + "/".join(["b" * 250] * 40) + ".png").status_code == 404


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("keywords: [uno, due]", "keywords [uno, due]"), 6, "needs a colon after its key"),
        (("title: Modulo", 'title: "Modulo'), 2, "a quote opened on this line is never closed"),
        (("title: Modulo", "title: Modulo: primo"), 2, "must be in quotes"),
        (("keywords: [uno, due]", "keywords: [uno, due"), 6, "not closed with ']'"),
        (("duration: 10", "\tduration: 10"), 4, "indented with a tab"),
    ],
    ids=["missing-colon", "open-quote", "colon-in-text", "open-list", "tab"],
)
def test_yaml_errors_are_reported_at_the_line_to_fix_in_plain_words(
    root: Path, change: tuple[str, str], line: int, words: str
) -> None:
    """The line the trainer must edit, not the one after it where the parser noticed."""
    write(root, IT, front("Modulo").replace(*change) + "## Uno\n\nTesto.\n")
    [(path, found_line, message)] = [p for p in problems(root) if p[0] == IT]
    assert (found_line, words in message) == (line, True), message
    assert "scanning" not in message and "expected" not in message


@pytest.mark.pdf  # starts a WeasyPrint render (and stops it)
def test_a_pdf_render_that_takes_too_long_is_stopped(root: Path, tmp_path: Path) -> None:
    """With a 10 ms bound no PDF finishes: the download says to try later; the site stays up."""
    app = make_app(tmp_path, root, PDF_RENDER_SECONDS=0.01)
    client = app.test_client()
    response = client.get("/en/demo/m1.pdf")
    assert response.status_code == 503
    assert "Not available right now" in response.data.decode()
    assert client.get("/en/demo/m1/").status_code == 200


def test_course_yml_size_is_capped_too(root: Path) -> None:
    """course.yml gets the same cap as module files."""
    write(root, "demo/course.yml", COURSE_YML + "#" * (MAX_FILE_BYTES + 1) + "\n")
    [(path, line, message)] = problems(root)
    assert (path, line) == ("demo/course.yml", 1) and "at most" in message
