"""`flask content check`: every planted error reported as path:line: message."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from tests.conftest import make_app
from tests.helpers import write_mini_course


def test_a_clean_course_passes_with_a_one_line_summary(runner) -> None:
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "OK: 1 course(s), 3 module(s), 6 file(s), 28 question(s), no errors."
    ]


def plant(lines: list[str], after: str, new: str) -> int:
    """Insert `new` after the first line equal to `after`; return the 1-based line of `new`."""
    index = lines.index(after) + 1
    lines.insert(index, new)
    return index + 1


def test_planted_errors_are_each_reported_with_their_line(
    tmp_path: Path, content_copy: Path
) -> None:
    module_file = content_copy / "trial" / "01-first-steps" / "en.md"
    lines = module_file.read_text(encoding="utf-8").split("\n")
    expected: list[tuple[int, str]] = []

    # 1. a typo in a front matter key
    expected.append((plant(lines, "---", "titel: Oops"), "unknown front matter key 'titel'"))
    # 2. an EQF level outside 3..5, replacing the real one
    eqf_line = next(i for i, line in enumerate(lines) if line.startswith("eqf:"))
    lines[eqf_line] = "eqf: 7"
    # 3. a callout of a kind that does not exist, just before the first section
    first_section = next(i for i, line in enumerate(lines) if line.startswith("## "))
    lines[first_section:first_section] = ["::: danger", "Careful.", ":::", ""]
    danger_line = first_section + 1
    # 4. a duplicate section id at the end of the text, before the quiz section
    quiz_section = max(i for i, line in enumerate(lines) if line.startswith("## "))
    first_id = lines[first_section + 4].rsplit("{#", 1)[1].rstrip("}")
    lines[quiz_section:quiz_section] = [f"## Again {{#{first_id}}}", "", "Text.", ""]
    duplicate_line = quiz_section + 1
    module_file.write_text("\n".join(lines), encoding="utf-8")
    expected += [
        (eqf_line + 1, "'eqf' is required"),
        (danger_line, "unknown block '::: danger'"),
        (duplicate_line, f"section id '{first_id}' is already used"),
    ]

    app: Flask = make_app(tmp_path, content_copy)
    result = app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 1
    reported = [line for line in result.output.splitlines() if line.startswith(str(module_file))]
    for line, message in expected:
        assert any(r.startswith(f"{module_file}:{line}: ") and message in r for r in reported), (
            line,
            message,
            reported,
        )
    assert "hidden from learners until fixed" in result.output


def test_errors_in_several_modules_are_all_reported(tmp_path: Path, content_copy: Path) -> None:
    broken = []
    for folder in sorted((content_copy / "trial").glob("0[12]-*")):
        path = folder / "it.md"
        path.write_text(path.read_text(encoding="utf-8").replace("duration:", "duration: x #"))
        broken.append(str(path))
    result = make_app(tmp_path, content_copy).test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 1
    for path in broken:
        assert f"{path}:4: 'duration' is required" in result.output


@pytest.mark.audio
@pytest.mark.pdf
def test_content_build_makes_audio_and_pdfs_then_reuses_them(tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_mini_course(root)
    app = make_app(tmp_path, root)
    first = app.test_cli_runner().invoke(args=["content", "build", "--workers", "1"])
    assert first.exit_code == 0, first.output
    assert "Audio versions" in first.output and "PDF downloads" in first.output
    media = tmp_path / "media"
    assert list(media.rglob("*.mp3")) and list(media.rglob("*.pdf"))
    files = sorted(p.name for p in media.rglob("*") if p.is_file())
    second = app.test_cli_runner().invoke(args=["content", "build", "--workers", "1"])
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in media.rglob("*") if p.is_file()) == files
