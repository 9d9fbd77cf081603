"""Translations of a module: ids by position, and an error that hides only that translation."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.content.loader import load_catalogue
from tests.conftest import make_app
from tests.fixture_course import EN_BODY, front, write, write_course
from tests.helpers import PASSWORD, login, register

EN = "demo/01-m1/en.md"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The two-language demo course, with plain translations that write no ids."""
    return write_course(tmp_path / "content")


def test_a_plain_translation_without_ids_takes_the_default_files_ids(root: Path) -> None:
    """en.md writes no ids at all: it gets it.md's module, section and question ids in order."""
    write(root, "demo/01-m1/it.md", (root / "demo/01-m1/it.md").read_text().replace(
        "keywords:", "id: basics\nkeywords:"))  # fmt: skip
    catalogue = load_catalogue(root)
    assert catalogue.problems == ()
    entry = catalogue.courses["demo"].entries[0]
    it, en = entry.versions["it"], entry.versions["en"]
    assert entry.id == it.id == en.id == "basics"
    assert (
        [s.id for s in en.sections] == [s.id for s in it.sections] == ["first", "secondo", "quiz"]
    )
    assert [q.id for q in en.questions] == ["q-shop", "il-cliente-e-al-centro"]
    assert [s.title for s in en.sections] == ["First", "Second part", "Test yourself"]


def test_a_translation_takes_outcome_ids_and_the_outcomes_its_questions_assess(root: Path) -> None:
    """it.md names its outcome and ties a question to it; the plain en.md gets both."""
    it = (root / "demo/01-m1/it.md").read_text()
    it = it.replace("[Distinguere A da B]", "['Distinguere A da B {#tell-apart}']")
    write(root, "demo/01-m1/it.md", it.replace("{#q-shop}", "{#q-shop outcome=tell-apart}"))
    catalogue = load_catalogue(root)
    assert catalogue.problems == ()
    en = catalogue.courses["demo"].entries[0].versions["en"]
    assert [o.id for o in en.learning_outcomes] == ["tell-apart"]
    assert en.questions[0].outcomes == ("tell-apart",)


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (lambda t: t.replace("## Second part\n", ""), 12, "2 section(s) here, 3 in it.md"),
        (lambda t: t.replace("## First", "## First {#uno}"), 12, "section 1 has id '{#uno}'"),
        (
            lambda t: t.replace("(x) True", "[x] True").replace("( ) False", "[ ] False"),
            27,
            "question 2 is multiple choice here but true false in it.md",
        ),  # fmt: skip
        (lambda t: t.replace("physical?", "physical? {#q-other}"), 23, "question 1 has id"),
        (lambda t: t.replace("keywords:", "id: other\nkeywords:"), 1, "module id 'other'"),
    ],
    ids=["section-count", "section-id", "question-type", "question-id", "module-id"],
)
def test_a_translation_error_hides_that_translation_only(root: Path, change, line, words) -> None:
    """The error is reported in en.md at its line; the module stays, in Italian for everyone."""
    write(root, EN, change(front("Module 1") + EN_BODY))
    catalogue = load_catalogue(root)
    [problem] = catalogue.problems
    assert problem.path.endswith(EN) and problem.line == line and words in problem.message
    assert "learners of this language get it.md" in problem.message
    course = catalogue.courses["demo"]
    assert [e.id for e in course.visible] == ["m1", "m2", "m3"]
    module, fallback = course.module("m1", "en")
    assert (module.language, fallback) == ("it", True)
    assert course.module("m2", "en")[1] is False
    assert course.entries[0].hidden_languages == ("en",)


def test_an_error_in_the_default_file_still_hides_the_module(root: Path) -> None:
    """it.md is what every translation is measured against: broken, the module is hidden."""
    write(root, "demo/01-m1/it.md", "no front matter\n")
    course = load_catalogue(root).courses["demo"]
    assert [e.id for e in course.visible] == ["m2", "m3"]
    assert course.module("m1", "en") is None


def test_the_checker_says_which_translations_fall_back(root: Path, tmp_path: Path) -> None:
    """`flask content check` names the hidden translation and what its learners get."""
    write(root, EN, front("Module 1") + EN_BODY.replace("## First\n", ""))
    result = (
        make_app(tmp_path, root, migrate=False).test_cli_runner().invoke(args=["content", "check"])
    )
    assert result.exit_code == 1
    assert "en.md:" in result.output and "0 of 3 module(s) hidden" in result.output
    assert "Translations hidden until fixed: m1 (en)" in result.output


@pytest.mark.db
def test_learners_of_a_broken_translation_keep_the_module_everywhere(
    root: Path, tmp_path: Path
) -> None:
    """Course page, module page and dashboard keep the module; trainers see the error."""
    write(root, EN, front("Module 1") + EN_BODY.replace("## First\n", ""))
    app = make_app(tmp_path, root)
    app.test_cli_runner().invoke(
        args=["users", "create", "--role", "trainer", "tina@example.org", "--password", PASSWORD]
    )
    learner = app.test_client()
    course_page = learner.get("/en/demo/").data.decode()
    assert "3 modules" in course_page and "/en/demo/m1/" in course_page
    page = learner.get("/en/demo/m1/").data.decode()
    assert "This module is not available in English yet" in page and "Modulo 1" in page
    assert "Trainers only" not in page
    register(learner, "lea@example.org")
    dashboard = learner.get("/en/me/").data.decode()
    assert 'data-module="m1"' in dashboard and "0 of 3 modules completed" in dashboard
    assert "Modulo 1" in learner.get("/it/demo/m1/").data.decode()

    trainer = app.test_client()
    login(trainer, "tina@example.org")
    status = trainer.get("/en/trainer/content/").data.decode()
    assert "en hidden: 1 error" in status and "01-m1/en.md:15" in status
    module_page = trainer.get("/en/demo/m1/").data.decode()
    assert "Trainers only" in module_page and "01-m1/en.md:15" in module_page
    # Paths are relative to the content folder: the pages never show where the site lives.
    assert str(tmp_path) not in status and str(tmp_path) not in module_page
    assert "<code>demo/01-m1/en.md:15</code>" in status
