"""The omnichannel course: six modules, Italian and English, complete and consistent."""

from __future__ import annotations

import re

import pytest

from app.content.loader import load_catalogue
from app.content.questions import QuestionType, Syntax
from tests.conftest import CONTENT

CATALOGUE = load_catalogue(CONTENT)
COURSE = CATALOGUE.courses["omnichannel"]
MODULE_IDS = [
    "omnichannel-basics",
    "channels-touchpoints",
    "omnichannel-strategies",
    "benefits-challenges",
    "crm-data-technology",
    "journey-to-omnichannel",
]
VERSIONS = [(entry.id, lang) for entry in COURSE.entries for lang in ("it", "en")]


def test_the_course_loads_without_a_single_error() -> None:
    assert CATALOGUE.problems == ()


def test_six_modules_in_order_in_both_languages() -> None:
    assert [entry.id for entry in COURSE.visible] == MODULE_IDS
    assert COURSE.default_language == "it" and COURSE.languages == ("it", "en")
    for entry in COURSE.entries:
        assert set(entry.versions) == {"it", "en"}, entry.id


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_same_section_and_question_ids_in_both_languages(module_id: str) -> None:
    it, _ = COURSE.module(module_id, "it")
    en, _ = COURSE.module(module_id, "en")
    assert [s.id for s in it.sections] == [s.id for s in en.sections]
    assert [q.id for q in it.questions] == [q.id for q in en.questions]
    assert [q.type for q in it.questions] == [q.type for q in en.questions]
    assert (it.eqf, it.duration) == (en.eqf, en.duration)
    assert len(it.bibliography) == len(en.bibliography)


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_front_matter_is_complete(module_id: str, lang: str) -> None:
    module, fallback = COURSE.module(module_id, lang)
    assert not fallback
    assert 3 <= module.eqf.low <= module.eqf.high <= 5
    assert 10 <= module.duration <= 60
    assert 5 <= len(module.keywords) <= 10
    assert 3 <= len(module.outcomes) <= 5
    assert 3 <= len(module.bibliography) <= 6
    for reference in module.bibliography:
        assert re.search(r"\b(19|20)\d\d\b", reference), reference  # every reference has a year


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_sections_callouts_and_deepening(module_id: str, lang: str) -> None:
    module, _ = COURSE.module(module_id, lang)
    source = (CONTENT / "omnichannel").glob(f"*-{module_id}/{lang}.md")
    text = next(source).read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert all(re.search(r"\{#[a-z0-9-]+\}\s*$", h) for h in headings), "every ## has an {#id}"
    content_sections = [s for s in module.sections if s.id != "quiz"]
    assert 4 <= len(content_sections) <= 7
    assert module.sections[-1].id == "quiz"
    html = "".join(s.html for s in module.sections) + module.intro_html
    assert 'class="callout callout-' in html
    if 5 in module.eqf:
        assert any(5 in s.eqf_levels for s in module.sections), "EQF 5 modules deepen at 5"


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_quiz_mixes_question_types_and_every_question_teaches(module_id: str, lang: str) -> None:
    module, _ = COURSE.module(module_id, lang)
    questions = module.questions
    assert 8 <= len(questions) <= 12
    types = {q.type for q in questions}
    assert {
        QuestionType.SINGLE_CHOICE,
        QuestionType.MULTIPLE_CHOICE,
        QuestionType.TRUE_FALSE,
        QuestionType.GAP_FILL,
        QuestionType.MATCHING,
    } <= types
    for question in questions:
        # A GIFT block with text after its closing brace turns into a missing-word question:
        # in this course that would only ever be a misplaced #### feedback line.
        assert not (question.syntax is Syntax.GIFT and question.is_missing_word), question.id
        assert question.explicit_id, f"{question.id} has no explicit id"
        if question.options:
            assert all(o.feedback.strip() for o in question.options) or (
                question.general_feedback.strip()
            ), f"{question.id}: no feedback"
        else:
            assert question.general_feedback.strip(), f"{question.id}: no general feedback"
        if question.type is QuestionType.MATCHING:
            assert len([p for p in question.pairs if not p.is_distractor]) >= 3


@pytest.mark.parametrize("lang", ["it", "en"])
def test_the_lexicon_covers_every_abbreviation_used(lang: str) -> None:
    words: set[str] = set()
    for entry in COURSE.entries:
        module = entry.versions[lang]
        body = " ".join(s.text for s in module.sections) + module.intro_html
        words |= set(re.findall(r"\b[A-Z]{2,}[0-9]?[A-Z]*s?\b", body))
    missing = sorted(w for w in words if w not in COURSE.lexicon[lang] and len(w) <= 5)
    assert missing == [], missing
