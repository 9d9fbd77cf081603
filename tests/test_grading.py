"""Pure grading, per question type: right, wrong, partial credit, negative weights."""

from __future__ import annotations

import pytest

from app.content.gift import parse_gift
from app.content.questions import Question, QuestionType
from app.content.quiz_syntax import parse_quiz
from app.quizzes.grading import (
    GRADERS,
    NotGradable,
    chosen_feedback,
    grade,
    normalise_text,
    parse_number,
    score,
)


def quiz(text: str) -> Question:
    (question,) = parse_quiz(text)
    return question


def gift(text: str) -> Question:
    (question,) = parse_gift(text)
    return question


SINGLE = quiz(
    """\
1. Which channel integrates?
   - ( ) Multichannel
     > No: they live side by side.
   - (x) Omnichannel
     > Yes.
   - ( ) Single channel
"""
)
MULTIPLE = quiz(
    """\
1. Physical channels?
   - [x] Shop
     > Right, a shop.
   - [ ] App
     > No, digital.
   - [x] Pop-up store
   - [x] Kiosk
   - [ ] Newsletter
"""
)


def test_every_graded_type_has_a_grader_and_descriptions_have_none() -> None:
    graded = {t for t in QuestionType if t not in (QuestionType.DESCRIPTION, QuestionType.ESSAY)}
    assert set(GRADERS) == graded
    description = gift("::About:: Just some words.")
    assert not description.is_graded
    with pytest.raises(NotGradable):
        grade(description, None)


# --- single choice and true/false -------------------------------------------------------------


def test_single_choice_right_wrong_and_unanswered() -> None:
    assert grade(SINGLE, "b") == 1.0
    assert grade(SINGLE, "a") == 0.0
    assert grade(SINGLE, None) == 0.0
    assert grade(SINGLE, "zz") == 0.0


def test_single_choice_partial_and_negative_weights_from_gift() -> None:
    question = gift("::W:: Pick {=best ~%50%half ~%-100%harmful ~nothing}")
    assert [grade(question, o) for o in "abcd"] == [1.0, 0.5, 0.0, 0.0]


def test_true_false_from_both_syntaxes() -> None:
    task = quiz("1. The sky is blue.\n   - (x) Vero\n   - ( ) Falso\n")
    assert task.type is QuestionType.TRUE_FALSE
    assert grade(task, "true") == 1.0 and grade(task, "false") == 0.0
    moodle = gift("::TF:: The sky is green.{FALSE#Look again#Right}")
    assert grade(moodle, "false") == 1.0 and grade(moodle, "true") == 0.0
    assert chosen_feedback(moodle, "true")[0][0] == "Look again"


# --- multiple choice --------------------------------------------------------------------------


def test_multiple_choice_right_options_share_one_and_wrong_ones_take_it_away() -> None:
    assert grade(MULTIPLE, ["a", "c", "d"]) == 1.0
    assert grade(MULTIPLE, ["a", "c"]) == pytest.approx(2 / 3)
    assert grade(MULTIPLE, ["a"]) == pytest.approx(1 / 3)
    # One right (+1/3) and one wrong (-1/2): below zero, clamped to 0.
    assert grade(MULTIPLE, ["a", "b"]) == 0.0
    # Two right (+2/3) and one wrong (-1/2).
    assert grade(MULTIPLE, ["a", "c", "b"]) == pytest.approx(1 / 6)


def test_multiple_choice_never_goes_below_zero_nor_above_one() -> None:
    assert grade(MULTIPLE, ["b", "e"]) == 0.0
    assert grade(MULTIPLE, ["a", "b", "c", "d", "e"]) == 0.0  # ticking everything earns nothing
    assert grade(MULTIPLE, []) == 0.0 and grade(MULTIPLE, None) == 0.0
    generous = gift("::G:: Pick {~%100%a ~%100%b ~%-50%c}")
    assert grade(generous, ["a", "b"]) == 1.0


def test_multiple_choice_feedback_for_each_chosen_option() -> None:
    assert [text for text, _ in chosen_feedback(MULTIPLE, ["a", "b"])] == [
        "Right, a shop.",
        "No, digital.",
    ]


# --- short answer -----------------------------------------------------------------------------

SHORT = gift("::City:: Capital of Italy? {=Rome#Yes =%50%Roma#Italian name =%-50%Milan =%0%*#No}")


def test_short_answer_ignores_case_and_spaces_and_gives_partial_credit() -> None:
    assert grade(SHORT, "  rOmE ") == 1.0
    assert grade(SHORT, "Roma") == 0.5
    assert grade(SHORT, "Milan") == 0.0  # negative weight, never below 0
    assert grade(SHORT, "Turin") == 0.0  # matches only the 0% wildcard
    assert grade(SHORT, "") == 0.0 and grade(SHORT, None) == 0.0
    assert chosen_feedback(SHORT, "roma")[0][0] == "Italian name"
    assert chosen_feedback(SHORT, "Turin")[0][0] == "No"


def test_short_answer_wildcards() -> None:
    question = gift("::W:: Name a colour of the flag {=*green* =red}")
    assert grade(question, "dark green") == 1.0
    assert grade(question, "Red") == 1.0
    assert grade(question, "blue") == 0.0


# --- numerical --------------------------------------------------------------------------------

YEAR = gift("::Year:: Moodle 1.0? {#=2002:0#Exact =%50%2002:2#Close ~#Way off}")


def test_numerical_exact_tolerance_and_partial_credit() -> None:
    assert grade(YEAR, "2002") == 1.0
    assert grade(YEAR, "2003.5") == 0.5
    assert grade(YEAR, "1990") == 0.0
    assert [t for t, _ in chosen_feedback(YEAR, "2001")] == ["Close"]
    assert [t for t, _ in chosen_feedback(YEAR, "1990")] == ["Way off"]


def test_numerical_ranges_decimal_commas_and_junk() -> None:
    pi = gift("::Pi:: Pi? {#3.14..3.15}")
    assert grade(pi, "3.141") == 1.0 and grade(pi, "3,141") == 1.0
    assert grade(pi, "3.2") == 0.0
    assert grade(pi, "three") == 0.0 and grade(pi, "") == 0.0 and grade(pi, "inf") == 0.0


def test_numerical_takes_the_best_matching_answer_whatever_the_order() -> None:
    reversed_order = gift("::R:: Year? {#=%50%2002:2 =2002:0}")
    assert grade(reversed_order, "2002") == 1.0


def test_parse_number() -> None:
    assert parse_number(" -2,5 ") == -2.5
    assert parse_number("1e3") == 1000
    assert parse_number("1,000.5") == 1000.5  # a thousands comma before a decimal point
    assert parse_number("nan") is None


# --- matching ---------------------------------------------------------------------------------

MATCH = gift(
    """::M:: Match. {
=Shop -> physical
=Newsletter -> digital
=App -> digital
= -> neither
}"""
)


def test_matching_is_scored_per_pair_and_distractors_do_not_count() -> None:
    right = {"a": "physical", "b": "digital", "c": "digital"}
    assert grade(MATCH, right) == 1.0
    assert grade(MATCH, {**right, "c": "neither"}) == pytest.approx(2 / 3)
    assert grade(MATCH, {"a": "digital"}) == 0.0
    assert grade(MATCH, {"a": "physical"}) == pytest.approx(1 / 3)
    assert grade(MATCH, None) == 0.0 and grade(MATCH, "physical") == 0.0


# --- gap-fill ---------------------------------------------------------------------------------

GAPS = quiz("1. Buy online and [[collect|pick up]] in store: this is [[click and collect|C&C]].")


def test_gap_fill_is_scored_per_gap_ignoring_case_and_surrounding_spaces() -> None:
    assert grade(GAPS, {"g1": "Collect", "g2": "  click AND collect "}) == 1.0
    assert grade(GAPS, {"g1": "pick   up", "g2": "c&c"}) == 1.0
    assert grade(GAPS, {"g1": "collect", "g2": "delivery"}) == 0.5
    assert grade(GAPS, {"g2": "C&C"}) == 0.5
    assert grade(GAPS, {}) == 0.0 and grade(GAPS, None) == 0.0
    assert grade(GAPS, {"g1": "collected"}) == 0.0


def test_normalise_text() -> None:
    assert normalise_text("  Click\tAND\n collect ") == "click and collect"
    # Composed and decomposed accents compare equal.
    assert normalise_text("perche\u0301") == normalise_text("perch\u00e9")


# --- a whole attempt --------------------------------------------------------------------------


def test_score_is_the_mean_over_graded_questions_descriptions_excluded() -> None:
    description = gift("::About:: Read this first.")
    questions = [description, SINGLE, MULTIPLE, GAPS]
    result = score(questions, {SINGLE.id: "b", MULTIPLE.id: ["a"], GAPS.id: {"g1": "collect"}})
    assert set(result.per_question) == {SINGLE.id, MULTIPLE.id, GAPS.id}
    assert result.total == pytest.approx((1 + 1 / 3 + 0.5) / 3)
    assert not result.passed(70)
    assert result.passed(60)


def test_pass_mark_boundary_and_empty_quiz() -> None:
    questions = [
        SINGLE,
        MULTIPLE,
        YEAR,
        SHORT,
        MATCH,
        GAPS,
        gift("::T:: T? {T}"),
        quiz("1. x\n   - (x) a\n   - ( ) b\n   - ( ) c\n"),
        gift("::U:: U? {F}"),
        quiz("1. y\n   - (x) a\n   - ( ) b\n   - ( ) c\n"),
    ]
    answers = {q.id: None for q in questions}
    answers.update(
        {SINGLE.id: "b", YEAR.id: "2002", SHORT.id: "rome", GAPS.id: {"g1": "collect", "g2": "C&C"}}
    )
    answers.update({MATCH.id: {"a": "physical", "b": "digital", "c": "digital"}})
    answers.update({MULTIPLE.id: ["a", "c", "d"], questions[6].id: "true"})
    result = score(questions, answers)
    assert result.total == pytest.approx(0.7)
    assert result.passed(70) and not result.passed(71)
    assert score([], {}).total == 0.0
