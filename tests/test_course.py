"""The omnichannel course: six modules, Italian and English, complete and consistent."""

from __future__ import annotations

import re

import pytest

from app.content.loader import load_catalogue
from app.content.questions import Question, QuestionType, Syntax
from tests.conftest import COURSE_CONTENT as CONTENT

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
        # a year, or 'no date' (n.d., Italian s.d.): never one the source does not state
        assert re.search(r"\b(19|20)\d\d\b|\((n|s)\.d\.\)", reference), reference


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
    assert 8 <= len(questions) <= 14
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


# --- one home per question, same answers in both languages -------------------------------------


def test_no_question_id_is_shared_between_modules() -> None:
    """Attempts and statistics are keyed by question id: a twin id in two modules mixes them."""
    home: dict[str, str] = {}
    shared = []
    for entry in COURSE.entries:
        for question in entry.versions["it"].questions:
            if question.id in home:
                shared.append((question.id, home[question.id], entry.id))
            home[question.id] = entry.id
    assert shared == []


def _answer_key(question: Question) -> tuple[object, ...]:
    """What a question grades, independent of the language it is written in."""
    return (
        question.type,
        tuple(round(o.fraction, 4) for o in question.options),
        tuple((n.value, n.tolerance, n.fraction) for n in question.numeric),
        len([p for p in question.pairs if not p.is_distractor]),
        len(question.gaps),
    )


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_both_languages_grade_the_same_answers(module_id: str) -> None:
    it, _ = COURSE.module(module_id, "it")
    en, _ = COURSE.module(module_id, "en")
    assert len(it.outcomes) == len(en.outcomes)
    for q_it, q_en in zip(it.questions, en.questions, strict=True):
        assert _answer_key(q_it) == _answer_key(q_en), q_it.id


# --- citations: every entry cited in the text, every citation listed ----------------------------

# An entry reads "Surname, I., Surname2, I., & ... (2015). Title..." or, for an organisation,
# "Organisation name (n.d.). Title..." (Italian "s.d."): undated sources are given no year.
_ENTRY = re.compile(r"^(?P<authors>.+?) \((?P<year>(?:19|20)\d\d[a-z]?|n\.d\.|s\.d\.)\)\.")
_PAREN_YEAR = re.compile(r"\((?P<inside>[^()]*?)\b(?P<year>(?:19|20)\d\d)[a-z]?\)")


def _surnames(authors: str) -> list[str]:
    """Family names of an APA author list, or the organisation's name."""
    parts = [p.strip() for p in authors.replace("&", "").split(",")]
    names = [
        p for p in parts if p and not re.fullmatch(r"(?:[A-ZÀ-Ý][a-z]?\.\s*)+(?:-\s*[A-Z]\.)?", p)
    ]
    return names or [authors]


def _entries() -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """Per (module, language): (entry, first surname, year) of each bibliography entry."""
    result = {}
    for entry in COURSE.entries:
        for lang, module in entry.versions.items():
            rows = []
            for reference in module.bibliography:
                match = _ENTRY.match(reference)
                assert match, f"{entry.id}/{lang}: not in author-year form: {reference}"
                rows.append((reference, match["authors"], match["year"]))
            result[(entry.id, lang)] = rows
    return result


ENTRIES = _entries()


def _prose(module_id: str, lang: str) -> str:
    """The module's reading text (introduction and sections, not the quiz)."""
    module, _ = COURSE.module(module_id, lang)
    return "\n".join([module.intro_html, *(s.text for s in module.sections if not s.has_quiz)])


def _citation_keys(lang: str) -> dict[str, list[str]]:
    """Names a text must show for each entry: the first author, plus the second when the
    course has two entries with the same first author and year (Neslin 2006 twice)."""
    seen: dict[tuple[str, str], set[str]] = {}
    for (_, language), rows in ENTRIES.items():
        if language == lang:
            for reference, authors, year in rows:
                seen.setdefault((_surnames(authors)[0], year), set()).add(reference)
    keys = {}
    for (_, language), rows in ENTRIES.items():
        if language == lang:
            for reference, authors, year in rows:
                names = _surnames(authors)
                ambiguous = len(seen[(names[0], year)]) > 1
                keys[reference] = names[:2] if ambiguous else names[:1]
    return keys


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_every_bibliography_entry_is_cited_in_the_text(module_id: str, lang: str) -> None:
    """Author-year citations (docs/authoring.md): 'Surname (2015)', '(Surname, 2015)', ..."""
    text = _prose(module_id, lang)
    keys = _citation_keys(lang)
    uncited = []
    for reference, _, year in ENTRIES[(module_id, lang)]:
        names = keys[reference]
        windows = [text[m.end() : m.end() + 60] for m in re.finditer(re.escape(names[0]), text)]
        if not any(year in w and all(n in w for n in names[1:]) for w in windows):
            uncited.append(reference)
    assert uncited == []


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_every_citation_in_the_text_is_in_the_bibliography(module_id: str, lang: str) -> None:
    text = _prose(module_id, lang)
    listed = [(_surnames(authors)[0], year) for _, authors, year in ENTRIES[(module_id, lang)]]
    unlisted = []
    for match in _PAREN_YEAR.finditer(text):
        before = text[max(0, match.start() - 80) : match.end()]
        if not any(name in before and year == match["year"] for name, year in listed):
            unlisted.append(before.strip())
    assert unlisted == []


# --- links, quotation marks, wording ------------------------------------------------------------

_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_links_to_other_modules_reach_an_existing_section(module_id: str, lang: str) -> None:
    """A cross-reference is written [module 6](journey-to-omnichannel#company-size)."""
    sections = {entry.id: {s.id for s in entry.versions[lang].sections} for entry in COURSE.entries}
    broken = []
    for match in _LINK.finditer(_prose(module_id, lang)):
        target = match["target"]
        if target.startswith(("http://", "https://", "mailto:", "media/")):
            continue
        page, _, anchor = target.partition("#")
        page = page or module_id
        if page not in sections or (anchor and anchor not in sections[page]):
            broken.append(target)
    assert broken == []


def _body(module_id: str, lang: str) -> str:
    """The file after its front matter: prose and quiz, everything a learner reads."""
    path = next((CONTENT / "omnichannel").glob(f"*-{module_id}/{lang}.md"))
    return path.read_text(encoding="utf-8").split("\n---\n", 1)[1]


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_quotation_marks_follow_each_language(module_id: str) -> None:
    """Italian quotes with «», English with straight double quotes; no curly quotes mixed in."""
    italian, english = _body(module_id, "it"), _body(module_id, "en")
    assert re.findall(r'.{0,30}["“”].{0,30}', italian) == []
    assert italian.count("«") == italian.count("»")
    assert re.findall(r".{0,30}[«»“”].{0,30}", english) == []


def test_data_takes_a_plural_verb_in_english() -> None:
    """The course writes "the data are": one convention throughout."""
    singular = []
    for module_id in MODULE_IDS:
        text = _body(module_id, "en")
        for match in re.finditer(r"(?:\S+\s+){0,3}data (?:is|was|has|does)\b", text):
            # "the quality of customer data is", "a model on incomplete data is", "having data is":
            # there "data" is not the subject of the verb.
            if not re.search(r"(?i)\b(?:of|on|having)\s+(?:\w+\s+){0,2}data\s", match.group(0)):
                singular.append(match.group(0))
    assert singular == []


def test_the_observatory_figure_names_its_source_and_no_invented_edition() -> None:
    """31.7 million / 60 % comes from the Observatory; the source gives no edition year."""
    for lang, figure in (("it", "31,7"), ("en", "31.7")):
        found = False
        for module_id in MODULE_IDS:
            for paragraph in _prose(module_id, lang).split("\n\n"):
                if figure in paragraph:
                    found = True
                    assert "Osservatorio" in paragraph or "Observatory" in paragraph, paragraph
                    assert not re.search(r"\b20\d\d\b", paragraph), paragraph
        assert found, lang


# --- outcomes that questions assess ---------------------------------------------------------

# A judgement in a scenario: a choice or a calculation on a described case, not a recall.
JUDGEMENT_TYPES = {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.NUMERICAL}


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_every_outcome_is_assessed_and_every_question_assesses_one(
    module_id: str, lang: str
) -> None:
    module, _ = COURSE.module(module_id, lang)
    ids = [o.id for o in module.learning_outcomes]
    assert all(not re.fullmatch(r"o\d+", i) for i in ids), "outcomes carry explicit {#id}s"
    assessed = {o for q in module.questions for o in q.outcomes}
    assert [i for i in ids if i not in assessed] == []
    assert [q.id for q in module.questions if not q.outcomes] == []
    assert assessed <= set(ids)


@pytest.mark.parametrize("module_id", MODULE_IDS)
def test_both_languages_tie_questions_to_the_same_outcomes(module_id: str) -> None:
    it, _ = COURSE.module(module_id, "it")
    en, _ = COURSE.module(module_id, "en")
    assert [o.id for o in it.learning_outcomes] == [o.id for o in en.learning_outcomes]
    assert [(q.id, q.outcomes) for q in it.questions] == [(q.id, q.outcomes) for q in en.questions]


@pytest.mark.parametrize(("module_id", "lang"), VERSIONS)
def test_evaluate_outcomes_are_assessed_by_judgement_in_a_scenario(
    module_id: str, lang: str
) -> None:
    """'Valutare'/'Evaluate' outcomes: only scenario questions (choice or calculation on a case)."""
    module, _ = COURSE.module(module_id, lang)
    evaluate = [o for o in module.learning_outcomes if o.text.startswith(("Valutare", "Evaluate"))]
    assert evaluate, "every module has an outcome at the evaluation level"
    for outcome in evaluate:
        questions = [q for q in module.questions if outcome.id in q.outcomes]
        assert questions, outcome.id
        recall = [q.id for q in questions if q.type not in JUDGEMENT_TYPES or len(q.text) < 100]
        assert recall == [], outcome.id
