"""Golden-file tests for every Markdown plugin, and the sanitiser's promises."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.content.ids import slugify
from app.content.markdown import MARKDOWN, render, render_learner_markdown

GOLDEN = Path(__file__).parent / "golden" / "markdown"
CASES = sorted(p.stem for p in GOLDEN.glob("*.md"))


@pytest.mark.parametrize("name", CASES)
def test_golden(name: str) -> None:
    source = (GOLDEN / f"{name}.md").read_text(encoding="utf-8")
    expected_file = GOLDEN / f"{name}.html"
    html = render(source, "en")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_file.write_text(html, encoding="utf-8")
    assert html == expected_file.read_text(encoding="utf-8")


def test_there_is_a_golden_case_per_plugin() -> None:
    assert {"heading-ids", "callouts", "eqf-blocks", "quiz-blocks", "sanitise"} <= set(CASES)


def test_callout_labels_follow_the_file_language() -> None:
    html = render("::: tip\nx\n:::\n\n::: eqf 5\ny\n:::\n", "it")
    assert "Suggerimento" in html
    assert "Approfondimento" in html


def test_quiz_blocks_are_kept_with_their_line_not_rendered() -> None:
    env: dict = {}
    source = (GOLDEN / "quiz-blocks.md").read_text(encoding="utf-8")
    html = MARKDOWN.render(source, env)
    assert "<code" in html  # the python fence stays code
    assert "A question?" not in html and "TRUE" not in html
    kinds = [(kind, first) for kind, _, first, _ in env["quiz_blocks"]]
    # 0-based body line of each block's first content line: lines 4 and 10 of the file.
    assert kinds == [("quiz", 3), ("gift", 9)]
    assert env["quiz_blocks"][0][1].startswith("1. A question?")


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "[x](javascript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<iframe src="https://example.org"></iframe>',
        '<svg onload="alert(1)"></svg>',
        '<form action="https://example.org"><input name=a></form>',
        '<object data="x.swf"></object>',
        '<p style="background:url(https://example.org/x)">x</p>',
    ],
)
def test_trainer_html_cannot_carry_scripts_or_frames(attack: str) -> None:
    html = render(attack).lower()
    for banned in ("<script", "onerror", "onload", '="javascript:', "<iframe", "<form", "<object"):
        assert banned not in html
    assert "url(" not in html


def test_learner_markdown_never_renders_raw_html() -> None:
    html = render_learner_markdown("Hi <b>there</b> <script>x</script>")
    assert "<b>" not in html and "<script" not in html
    assert "&lt;b&gt;" in html


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Cos'è l'omnicanalità?", "cos-e-l-omnicanalita"),
        ("  CRM & dati  ", "crm-dati"),
        ("¿¡!!", "section"),
    ],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug
