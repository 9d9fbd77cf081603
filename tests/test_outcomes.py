"""Learning outcomes tied to questions: ids, both syntaxes, the GIFT round trip, the checker."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask

from app.content.errors import ContentError
from app.content.gift import parse_gift
from app.content.loader import load_catalogue
from app.content.quiz_syntax import parse_quiz
from app.quizzes.gift_export import to_gift
from tests.conftest import make_app

COURSE_YML = """\
id: demo
default_language: it
languages: [it, en]
title: {it: "Corso demo", en: "Demo course"}
description: {it: "Descrizione", en: "Description"}
"""


def front(outcomes: str) -> str:
    """Front matter with the given YAML `outcomes:` list."""
    return (
        "---\ntitle: Modulo\neqf: 3-4\nduration: 20\ndescription: Una frase.\n"
        f"keywords: [uno]\noutcomes:\n{outcomes}---\n\nIntro.\n\n## Primo {{#first}}\n\nTesto.\n\n"
        "## Quiz {#quiz}\n\nProva.\n\n"
    )


OUTCOMES = "  - Distinguere A da B\n  - Spiegare C {#explain-c}\n  - Applicare D\n"

QUIZ = """\
```quiz
1. Quale? {#q-which outcome=o1}
   - (x) A
   - ( ) B

2. Vero? {outcome=explain-c, o1}
   - (x) Vero
   - ( ) Falso
```

```gift
// [tag:outcome:o3] [tag:capitolo-1]
::q-gift:: Scegli {=giusto ~sbagliato}
```
"""


def write_course(root: Path, it_body: str, en_body: str | None = None) -> Path:
    """A two-language, one-module course under root/content; returns the content root."""
    content = root / "content"
    module = content / "demo" / "01-basics"
    module.mkdir(parents=True)
    (content / "demo" / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    (module / "it.md").write_text(it_body, encoding="utf-8")
    (module / "en.md").write_text(en_body if en_body is not None else it_body, encoding="utf-8")
    return content


def test_outcome_ids_are_explicit_or_positional_and_questions_name_them(tmp_path: Path) -> None:
    catalogue = load_catalogue(write_course(tmp_path, front(OUTCOMES) + QUIZ))
    assert catalogue.problems == ()
    assert catalogue.warnings == ()
    module = catalogue.courses["demo"].module("basics", "it")[0]
    assert [(o.id, o.text) for o in module.learning_outcomes] == [
        ("o1", "Distinguere A da B"),
        ("explain-c", "Spiegare C"),
        ("o3", "Applicare D"),
    ]
    # Pages, audio and PDFs show the texts without the id markup.
    assert module.outcomes == ("Distinguere A da B", "Spiegare C", "Applicare D")
    assert [o.line for o in module.learning_outcomes] == [8, 9, 10]
    assert {q.id: q.outcomes for q in module.questions} == {
        "q-which": ("o1",),
        "vero": ("explain-c", "o1"),
        "q-gift": ("o3",),
    }
    # Other Moodle tags stay tags; only `outcome:` tags name outcomes.
    assert module.questions[2].tags == ("outcome:o3", "capitolo-1")


def test_outcomes_survive_the_gift_round_trip_in_both_syntaxes() -> None:
    questions = parse_quiz("1. Quale? {#q1 outcome=o1,o2}\n   - (x) A\n   - ( ) B\n")
    questions += parse_gift("// [id:Q-7] [tag:outcome:o3]\n::q2:: Scegli {=giusto ~sbagliato}\n")
    gift = to_gift(questions)
    assert "// [tag:outcome:o1] [tag:outcome:o2]" in gift
    assert "// [id:Q-7] [tag:outcome:o3]" in gift
    back = parse_gift(gift)
    assert [q.outcomes for q in back] == [("o1", "o2"), ("o3",)]
    assert [q.tags for q in back] == [q.tags for q in questions]


def test_quiz_block_attribute_mistakes_are_reported_at_their_line() -> None:
    with pytest.raises(ContentError) as caught:
        parse_quiz("1. Quale? {#q1 outcome=}\n   - (x) A\n   - ( ) B\n", first_line=20)
    assert caught.value.problems[0][0] == 20
    assert "names no outcome" in caught.value.problems[0][1]
    with pytest.raises(ContentError) as caught:
        parse_quiz("1. Quale? {#q1 outcome=o1 weight=2}\n   - (x) A\n   - ( ) B\n")
    assert "'weight=2' is not understood" in caught.value.problems[0][1]


def test_a_question_naming_an_unknown_outcome_is_an_error_that_hides_the_module(
    tmp_path: Path,
) -> None:
    body = front(OUTCOMES) + QUIZ.replace("outcome=o1}", "outcome=o9}")
    catalogue = load_catalogue(write_course(tmp_path, body))
    messages = [str(p) for p in catalogue.problems]
    assert any(
        m.endswith("01-basics/it.md:24: question 'q-which' names outcome 'o9', which this module "
                   "does not have (its outcomes: explain-c, o1, o3)")
        for m in messages
    ), messages  # fmt: skip
    assert not catalogue.courses["demo"].entries[0].ok


def test_unknown_outcome_in_gift_is_reported_at_the_question(tmp_path: Path) -> None:
    body = front(OUTCOMES) + QUIZ.replace("tag:outcome:o3", "tag:outcome:nope")
    catalogue = load_catalogue(write_course(tmp_path, body))
    assert [(Path(p.path).name, p.line) for p in catalogue.problems] == [
        ("en.md", 35),
        ("it.md", 35),
    ]
    assert "names outcome 'nope'" in catalogue.problems[0].message


def test_an_outcome_no_question_assesses_is_a_warning_and_the_module_stays_visible(
    tmp_path: Path,
) -> None:
    body = front(OUTCOMES) + QUIZ.replace("[tag:outcome:o3] ", "")
    catalogue = load_catalogue(write_course(tmp_path, body))
    assert catalogue.problems == ()
    # A translation's questions assess what the default file's do: the warning is said once.
    assert [(Path(w.path).name, w.line) for w in catalogue.warnings] == [("it.md", 10)]
    assert "outcome 'o3' is assessed by no question" in catalogue.warnings[0].message
    assert catalogue.courses["demo"].entries[0].ok


def test_translations_must_use_the_same_outcome_ids(tmp_path: Path) -> None:
    en = front(OUTCOMES.replace("{#explain-c}", "{#explain}")) + QUIZ.replace(
        "explain-c", "explain"
    )
    catalogue = load_catalogue(write_course(tmp_path, front(OUTCOMES) + QUIZ, en))
    assert len(catalogue.problems) == 1
    problem = catalogue.problems[0]
    assert (Path(problem.path).name, problem.line) == ("en.md", 9)
    assert "outcome 2 has id '{#explain}' but it.md calls it 'explain-c'" in problem.message


def test_duplicate_and_malformed_outcome_ids_are_errors(tmp_path: Path) -> None:
    outcomes = "  - Uno {#same}\n  - Due {#same}\n  - Tre {#Not Valid}\n"
    catalogue = load_catalogue(write_course(tmp_path, front(outcomes)))
    it = sorted((p.line, p.message) for p in catalogue.problems if p.path.endswith("it.md"))
    assert it == [
        (9, "outcome id 'same' is already used at line 8"),
        (10, "outcome id 'Not Valid' must be lowercase letters, digits, '-' or '_'"),
    ]


@pytest.fixture
def checked_app(tmp_path: Path) -> Flask:
    body = front(OUTCOMES) + QUIZ.replace("[tag:outcome:o3] ", "")
    return make_app(tmp_path, write_course(tmp_path, body), migrate=False)


def test_content_check_prints_warnings_and_exits_zero(checked_app: Flask) -> None:
    result = checked_app.test_cli_runner().invoke(args=["content", "check"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(
        line.endswith("01-basics/it.md:10: warning: outcome 'o3' is assessed by no question: "
                      "name it in a question ('// [tag:outcome:o3]' in GIFT, '{outcome=o3}' in a "
                      "quiz block)")
        for line in lines
    ), lines  # fmt: skip
    assert lines[-1].endswith("no errors, 1 warning(s).")
