"""The loader: what a good module becomes, and every trainer mistake reported at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.content.loader import load_catalogue

COURSE_YML = """\
id: demo
default_language: it
languages: [it, en]
title: {it: "Corso demo", en: "Demo course"}
description: {it: "Descrizione", en: "Description"}
eqf: 3-5
pass_mark: 60
"""

FRONT = """\
---
title: Modulo
eqf: 3-4
duration: 20
description: Una frase.
keywords: [uno, due]
outcomes:
  - Distinguere A da B
---
"""

BODY = """\
Intro paragraph.

## Primo {#first}

Text one.

## Secondo {#second}

Text two.
"""


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A one-module course in Italian and English that loads without errors."""
    root = tmp_path / "content"
    write(root, "demo/course.yml", COURSE_YML)
    write(root, "demo/01-basics/it.md", FRONT + BODY)
    write(root, "demo/01-basics/en.md", FRONT.replace("Modulo", "Module") + BODY)
    return root


def problems_of(root: Path) -> list[tuple[str, int, str]]:
    result = load_catalogue(root)
    return [(Path(p.path).name, p.line, p.message) for p in result.problems]


def test_a_good_module_loads_with_everything_the_page_needs(course: Path) -> None:
    result = load_catalogue(course)
    assert result.problems == ()
    demo = result.courses["demo"]
    assert demo.pass_mark == 60 and str(demo.eqf) == "3-5"
    module, fallback = demo.module("basics", "en")
    assert not fallback
    assert module.title == "Module" and str(module.eqf) == "3-4" and module.duration == 20
    assert module.keywords == ("uno", "due")
    assert module.outcomes == ("Distinguere A da B",)
    assert module.quiz.pass_mark == 60  # the course default
    assert [s.id for s in module.sections] == ["first", "second"]
    assert [s.line for s in module.sections] == [12, 16]
    assert module.sections[0].html.strip() == "<p>Text one.</p>"
    assert "Intro paragraph." in module.intro_html


def test_a_missing_translation_falls_back_to_the_default_language(course: Path) -> None:
    (course / "demo/01-basics/en.md").unlink()
    module, fallback = load_catalogue(course).courses["demo"].module("basics", "en")
    assert fallback and module.language == "it"


def test_folder_number_orders_modules_and_id_comes_from_the_slug(course: Path) -> None:
    write(course, "demo/02-advanced/it.md", FRONT + BODY)
    write(course, "demo/10-last/it.md", FRONT + BODY)
    write(course, "demo/03-middle/it.md", FRONT.replace("---\n", "---\nid: custom\n", 1) + BODY)
    entries = load_catalogue(course).courses["demo"].entries
    assert [e.id for e in entries] == ["basics", "advanced", "custom", "last"]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("no front matter\n", 1, "must start with front matter"),
        ("---\ntitle: x\n", 1, "front matter is not closed"),
        # The line the trainer must fix: the one that opens the list, not where YAML noticed.
        (FRONT.replace("duration: 20", "duration: [20") + BODY, 4, "invalid YAML"),
        (FRONT.replace("title: Modulo\n", "") + BODY, 1, "'title' is required"),
        (FRONT.replace("eqf: 3-4", "eqf: 2-6") + BODY, 3, "'eqf' is required"),
        (FRONT.replace("duration: 20", "duration: venti") + BODY, 4, "'duration' is required"),
        (FRONT.replace("keywords: [uno, due]", "keywords: uno") + BODY, 6, "'keywords' must be"),
        (FRONT.replace("title:", "titel: x\ntitle:") + BODY, 2, "unknown front matter key 'titel'"),
        (FRONT + BODY + "\n# Big title\n", 20, "use '##' for sections"),
        (FRONT + BODY + "\n## Again {#first}\n", 20, "section id 'first' is already used"),
        (FRONT + BODY + "\n## Bad {#Bad_ID}\n", 20, "section id 'Bad_ID' must be"),
        (FRONT + BODY + "\n::: tip\nnever closed\n", 20, "is never closed"),
        (FRONT + BODY + "\n::: danger\nx\n:::\n", 20, "unknown block '::: danger'"),
        (FRONT + BODY + "\n::: eqf 5\nx\n:::\n", 20, "outside this module's EQF range (3-4)"),
        (FRONT + BODY + "\n::: eqf 7\nx\n:::\n", 20, "needs a level from 3 to 5"),
        (FRONT + BODY + "\n![A chart](media/chart.png)\n", 20, "not found"),
        (
            FRONT + BODY + "\n![Escape](../../secret.png)\n",
            20,
            "must be a file in the module's media/",
        ),
        (FRONT.replace("---\n", "---\nquiz: {pass_mark: 120}\n", 1) + BODY, 2, "pass_mark"),
    ],
)
def test_each_mistake_is_reported_at_its_line(
    course: Path, text: str, line: int, message: str
) -> None:
    write(course, "demo/01-basics/it.md", text)
    found = [(n, ln, m) for n, ln, m in problems_of(course) if n == "it.md"]
    assert any(ln == line and message in m for _, ln, m in found), found


def test_every_error_is_reported_not_only_the_first(course: Path) -> None:
    text = FRONT.replace("duration: 20", "duration: -1").replace("eqf: 3-4", "eqf: 9")
    text += BODY + "\n::: danger\nx\n:::\n\n## Again {#first}\n"
    write(course, "demo/01-basics/it.md", text)
    lines = sorted(ln for n, ln, _ in problems_of(course) if n == "it.md")
    assert lines == [3, 4, 20, 24]


def test_a_broken_module_is_hidden_and_the_others_stay(course: Path) -> None:
    write(course, "demo/02-broken/it.md", "no front matter")
    demo = load_catalogue(course).courses["demo"]
    assert [e.id for e in demo.entries] == ["basics", "broken"]
    assert [e.id for e in demo.visible] == ["basics"]
    assert demo.module("broken", "it") is None


def test_translations_must_use_the_same_section_ids(course: Path) -> None:
    write(course, "demo/01-basics/en.md", FRONT + BODY.replace("{#second}", "{#other}"))
    found = problems_of(course)
    assert ("en.md", 16, found[0][2]) in found
    assert "section 2 has id '{#other}' but it.md calls it 'second'" in found[0][2]
    # Only the translation is hidden: English learners get the Italian module.
    demo = load_catalogue(course).courses["demo"]
    assert [e.id for e in demo.visible] == ["basics"]
    assert demo.module("basics", "en")[0].language == "it"


def test_language_files_must_be_course_languages(course: Path) -> None:
    write(course, "demo/01-basics/fr.md", FRONT + BODY)
    assert ("fr.md", 1, "'fr.md' is not a course language (course.yml lists: it, en)") in (
        problems_of(course)
    )


def test_the_default_language_file_is_required(course: Path) -> None:
    (course / "demo/01-basics/it.md").unlink()
    assert any("needs a it.md" in m for _, _, m in problems_of(course))


def test_course_yml_mistakes_have_lines(course: Path) -> None:
    write(
        course,
        "demo/course.yml",
        COURSE_YML.replace('en: "Demo course"', "").replace("pass_mark: 60", "pass_mark: 200"),
    )
    found = problems_of(course)
    assert ("course.yml", 4, "'title' has no 'en' translation") in found
    assert ("course.yml", 7, "pass_mark must be a whole percentage from 0 to 100") in found


def test_a_module_folder_must_be_numbered(course: Path) -> None:
    write(course, "demo/basics-again/it.md", FRONT + BODY)
    assert any("is not a module: name it NN-module-id" in m for _, _, m in problems_of(course))


def test_not_utf8_is_reported(course: Path) -> None:
    (course / "demo/01-basics/it.md").write_bytes((FRONT + "caff\xe8\n").encode("latin-1"))
    assert ("it.md", 10, "the file is not UTF-8 text: save it as UTF-8") in problems_of(course)


def test_quiz_errors_point_at_the_module_file_line(course: Path) -> None:
    quiz = "\n## Quiz {#quiz}\n\n```quiz\n1. Which one?\n   - (x) A\n   - (x) B\n```\n"
    write(course, "demo/01-basics/it.md", FRONT + BODY + quiz)
    found = [(n, ln, m) for n, ln, m in problems_of(course)]
    # Line 25 of the file holds the second (x); inside the block it is line 3.
    assert [(n, ln) for n, ln, _ in found] == [("it.md", 25)]
    assert "has 2 options marked (x)" in found[0][2]


def test_images_in_media_are_served_through_the_media_route(course: Path) -> None:
    write(course, "demo/01-basics/media/chart.png", "png")
    write(course, "demo/01-basics/it.md", FRONT + BODY + "\n![A chart](media/chart.png)\n")
    module, _ = load_catalogue(course).courses["demo"].module("basics", "it")
    assert '<img src="/media/demo/basics/chart.png" alt="A chart">' in module.sections[-1].html
