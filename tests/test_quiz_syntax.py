"""Tests of the `quiz` task-list syntax, of parse_blocks, and fuzzing of both syntaxes."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.content.errors import ContentError
from app.content.gift import parse_gift
from app.content.questions import (
    BLANK,
    Question,
    QuestionType,
    Syntax,
    TextFormat,
    option_id,
    slugify,
)
from app.content.quiz_syntax import ESSAY_MESSAGE, parse_blocks, parse_quiz


def quiz(source: str, first_line: int = 1) -> list[Question]:
    return parse_blocks([("quiz", textwrap.dedent(source).strip("\n"), first_line)])


def problems(blocks: list[tuple[str, str, int]]) -> list[tuple[int, str]]:
    with pytest.raises(ContentError) as info:
        parse_blocks(blocks)
    return info.value.problems


def quiz_problems(source: str, first_line: int = 1) -> list[tuple[int, str]]:
    return problems([("quiz", source, first_line)])


def lines_of(found: list[tuple[int, str]]) -> list[int]:
    return [line for line, _ in found]


# --- question kinds -------------------------------------------------------------------


def test_single_choice_with_option_and_general_feedback() -> None:
    [q] = quiz(
        """
        1. Quale approccio integra i canali tra loro?
           - ( ) Multicanale
             > No: nel multicanale i canali convivono senza scambiarsi dati.
           - (x) Omnicanale
           - ( ) Monocanale
           > Spiegazione generale mostrata dopo la risposta.
        """,
        first_line=20,
    )
    assert q.type is QuestionType.SINGLE_CHOICE
    assert q.syntax is Syntax.QUIZ and q.line == 20
    assert q.text == "Quale approccio integra i canali tra loro?"
    assert q.text_format is TextFormat.MARKDOWN
    assert [(o.id, o.text, o.fraction) for o in q.options] == [
        ("a", "Multicanale", 0.0),
        ("b", "Omnicanale", 1.0),
        ("c", "Monocanale", 0.0),
    ]
    assert q.options[0].feedback == "No: nel multicanale i canali convivono senza scambiarsi dati."
    assert q.options[1].feedback == "" and q.options[2].feedback == ""
    assert q.general_feedback == "Spiegazione generale mostrata dopo la risposta."
    assert [o.correct for o in q.options] == [False, True, False]


def test_multiple_choice_fractions_share_plus_and_minus_one() -> None:
    [q] = quiz(
        """
        2. Quali sono canali fisici? (più risposte)
           - [x] Negozio
           - [ ] App mobile
           - [X] Punto vendita temporaneo
        """
    )
    assert q.type is QuestionType.MULTIPLE_CHOICE
    assert [o.fraction for o in q.options] == [0.5, -1.0, 0.5]
    # Ticking everything earns nothing; ticking only the right ones earns everything.
    assert sum(o.fraction for o in q.options) == 0
    assert sum(o.fraction for o in q.options if o.correct) == 1


def test_multiple_choice_all_options_right() -> None:
    [q] = quiz("1. Pick all\n   - [x] a\n   - [x] b")
    assert [o.fraction for o in q.options] == [0.5, 0.5]


def test_vero_falso_options_are_a_true_false_question() -> None:
    [q] = quiz("1. Il CRM è un canale.\n   - ( ) Vero\n   - (x) Falso")
    assert q.type is QuestionType.TRUE_FALSE
    assert [(o.id, o.text, o.fraction) for o in q.options] == [
        ("true", "Vero", 0.0),
        ("false", "Falso", 1.0),
    ]


def test_gap_fill_with_several_gaps() -> None:
    [q] = quiz(
        """
        3. Ritiro: [[click and collect|click & collect]], spedizione: [[ home delivery ]].
           > Sono due servizi omnicanale.
        """
    )
    assert q.type is QuestionType.GAP_FILL
    assert [(g.id, g.answers) for g in q.gaps] == [
        ("g1", ("click and collect", "click & collect")),
        ("g2", ("home delivery",)),
    ]
    assert q.text_parts == ("Ritiro: ", ", spedizione: ", ".")
    assert q.text == BLANK.join(q.text_parts)
    assert "click" not in q.text  # the answers never leak into the displayed text
    assert q.general_feedback == "Sono due servizi omnicanale."
    assert q.is_missing_word


def test_question_text_continues_on_indented_lines() -> None:
    [q] = quiz(
        """
        1. First line of the question
           and its second line
           - a list inside the text
           - (x) yes
           - ( ) no
        """
    )
    assert q.text == "First line of the question\nand its second line\n- a list inside the text"
    assert [o.text for o in q.options] == ["yes", "no"]


def test_multiline_feedback_and_option_continuation() -> None:
    [q] = quiz(
        """
        1. Q?
           - (x) right
             answer
             > well
             > done
           - ( ) wrong
           > general
             feedback
        """
    )
    assert q.options[0].text == "right\nanswer"
    assert q.options[0].feedback == "well\ndone"
    assert q.general_feedback == "general\nfeedback"


def test_tabs_and_star_bullets_and_paren_numbers() -> None:
    [q] = quiz("1) Q?\n\t* (x) a\n\t* ( ) b\n\t> general")
    assert [o.text for o in q.options] == ["a", "b"]
    assert q.general_feedback == "general"


def test_option_ids_are_stable_letters() -> None:
    assert [option_id(i) for i in (0, 1, 25, 26, 27, 51, 52)] == [
        "a",
        "b",
        "z",
        "aa",
        "ab",
        "az",
        "ba",
    ]


# --- ids ------------------------------------------------------------------------------


def test_explicit_id() -> None:
    [q] = quiz("1. Qual è il canale? {#canale-principale}\n   - (x) a\n   - ( ) b")
    assert q.id == "canale-principale" and q.explicit_id
    assert q.text == "Qual è il canale?"


def test_derived_id_is_an_ascii_slug_without_accents() -> None:
    [q] = quiz("1. Perché l'omnicanalità è più efficace?\n   - (x) a\n   - ( ) b")
    assert q.id == "perche-l-omnicanalita-e-piu-efficace" and not q.explicit_id


def test_derived_id_is_at_most_40_chars_cut_at_a_word() -> None:
    text = "Quale approccio integra davvero tutti i canali tra loro?"
    [q] = quiz(f"1. {text}\n   - (x) a\n   - ( ) b")
    assert q.id == "quale-approccio-integra-davvero-tutti-i"
    assert len(q.id) <= 40
    assert slugify("x" * 100) == "x" * 40
    assert slugify("¿¡!!") == ""


def test_derived_id_without_letters_falls_back() -> None:
    [q] = quiz("1. ???\n   - (x) a\n   - ( ) b")
    assert q.id == "question"


def test_derived_ids_are_deduplicated_across_the_module() -> None:
    questions = parse_blocks(
        [
            ("quiz", "1. Same?\n   - (x) a\n   - ( ) b\n2. Same?\n   - (x) a\n   - ( ) b", 1),
            ("gift", "Same? {T}", 20),
        ]
    )
    assert [q.id for q in questions] == ["same", "same-2", "same-3"]


def test_explicit_ids_win_over_derived_ones_wherever_they_are() -> None:
    questions = parse_blocks(
        [
            ("quiz", "1. Canale\n   - (x) a\n   - ( ) b", 1),
            ("quiz", "1. Other {#canale}\n   - (x) a\n   - ( ) b", 10),
        ]
    )
    assert [q.id for q in questions] == ["canale-2", "canale"]


def test_gift_title_is_an_explicit_id() -> None:
    questions = parse_blocks([("gift", "::Canale principale:: Vero? {T}\n\nAltro? {F}", 5)])
    assert [(q.id, q.explicit_id, q.line) for q in questions] == [
        ("canale-principale", True, 5),
        ("altro", False, 7),
    ]


def test_duplicate_explicit_ids_are_reported_with_both_lines() -> None:
    found = problems(
        [
            ("quiz", "1. A {#dup}\n   - (x) a\n   - ( ) b", 3),
            ("gift", "::dup:: B {T}", 12),
        ]
    )
    assert found == [
        (
            12,
            "duplicate question id 'dup' (already used by the question at line 3); "
            "ids must be unique in a module",
        ),
    ]


def test_invalid_explicit_id() -> None:
    found = quiz_problems("1. A {#not valid!}\n   - (x) a\n   - ( ) b", 7)
    assert lines_of(found) == [7]
    assert "not a valid question id" in found[0][1]


# --- errors, each at its file line ----------------------------------------------------


def test_question_without_options_or_gaps() -> None:
    found = quiz_problems("1. Just a sentence.", 40)
    assert lines_of(found) == [40]
    assert "question 1 has no options and no gaps" in found[0][1]


def test_single_choice_without_correct_option() -> None:
    found = quiz_problems("\n1. Q?\n   - ( ) a\n   - ( ) b", 10)
    assert found == [(11, "question 1 has no correct option: mark exactly one with (x)")]


def test_single_choice_with_several_correct_options_points_at_the_second() -> None:
    found = quiz_problems("1. Q?\n   - (x) a\n   - ( ) b\n   - (x) c", 10)
    assert lines_of(found) == [13]
    assert "2 options marked (x)" in found[0][1]


def test_multiple_choice_without_checked_option() -> None:
    found = quiz_problems("1. Q?\n   - [ ] a\n   - [ ] b", 10)
    assert found == [(10, "question 1 has no correct option: mark at least one with [x]")]


def test_mixing_round_and_square_options() -> None:
    found = quiz_problems("1. Q?\n   - (x) a\n   - [ ] b", 10)
    assert lines_of(found) == [12]
    assert "mixes ( ) and [ ]" in found[0][1]


def test_empty_gap_and_empty_alternative() -> None:
    found = quiz_problems("1. Fill [[]] here\n2. Fill\n   also [[a| ]] here", 5)
    assert lines_of(found) == [5, 7]
    assert "empty gap [[]]" in found[0][1]
    assert "empty alternative" in found[1][1]


def test_feedback_with_nothing_to_attach_to() -> None:
    found = quiz_problems("> orphan feedback\n1. Q?\n   - (x) a\n   - ( ) b", 8)
    assert found == [(8, "feedback '>' with nothing to attach to: no question before it")]


def test_general_feedback_before_options() -> None:
    found = quiz_problems("1. Q?\n   > too early\n   - (x) a\n   - ( ) b", 8)
    assert lines_of(found) == [9]
    assert "options follow it" in found[0][1]


def test_misindented_option_feedback_is_reported() -> None:
    # Feedback at the option's own indent is general feedback; another option after it
    # reveals that the trainer meant it for the option above.
    found = quiz_problems("1. Q?\n   - (x) a\n   > for a\n   - ( ) b", 8)
    assert lines_of(found) == [10]


def test_stray_text_is_reported_once_per_paragraph() -> None:
    found = quiz_problems(
        "Intro text\nstill intro\n\n1. Q?\n   - (x) a\n   - ( ) b\nloose line after", 30
    )
    assert lines_of(found) == [30, 36]
    assert all("is not part of a quiz question" in message for _, message in found)


def test_text_among_options_is_not_an_option() -> None:
    found = quiz_problems("1. Q?\n   - (x) a\n   - b without marker\n   - ( ) c", 1)
    assert lines_of(found) == [3]
    assert "is not an option" in found[0][1]


def test_single_option_and_empty_option() -> None:
    found = quiz_problems("1. Q?\n   - (x) only\n2. R?\n   - (x)\n   - ( ) b", 1)
    assert lines_of(found) == [1, 4]
    assert "only one option" in found[0][1]
    assert "no text" in found[1][1]


def test_gap_error_line_counts_blank_lines() -> None:
    found = quiz_problems("1. Fill\n\n   here [[ ]]", 5)
    assert lines_of(found) == [7]


def test_options_and_gaps_together() -> None:
    found = quiz_problems("1. Fill [[x]]\n   - (x) a\n   - ( ) b", 1)
    assert lines_of(found) == [1]
    assert "both options and gaps" in found[0][1]


def test_all_errors_of_all_blocks_are_collected() -> None:
    found = problems(
        [
            ("quiz", "1. no options\n2. Q?\n   - ( ) a\n   - ( ) b\nstray", 10),
            ("gift", "Broken {=a\n\n// c\nDescribe. {}\n\nFine {T}", 30),
            ("quiz", "1. Q? {#x}\n   - [ ] a\n   - [ ] b", 50),
        ]
    )
    assert lines_of(found) == [10, 11, 14, 30, 33, 50]
    assert (33, ESSAY_MESSAGE) in found


def test_parse_quiz_alone_reports_duplicate_ids_too() -> None:
    with pytest.raises(ContentError) as info:
        parse_quiz("1. A {#x}\n   - (x) a\n   - ( ) b\n2. B {#x}\n   - (x) a\n   - ( ) b", 1)
    assert lines_of(info.value.problems) == [4]


def test_content_error_message_names_lines() -> None:
    with pytest.raises(ContentError) as info:
        quiz("1. Q?\n   - [ ] a\n   - [ ] b", 42)
    assert str(info.value).startswith("line 42: question 1 has no correct option")


# --- GIFT inside a module -------------------------------------------------------------


def test_gift_lines_are_file_lines_and_comments_are_skipped() -> None:
    found = problems([("gift", "// note\n// more\nQ {~only}", 100)])
    assert lines_of(found) == [102]
    assert "There are not enough answers" in found[0][1]


def test_gift_essay_is_refused_in_a_self_assessment() -> None:
    found = problems([("gift", "::E:: Tell me. {}", 3)])
    assert found == [(3, ESSAY_MESSAGE)]


def test_gift_missing_word_keeps_text_around_the_blank() -> None:
    [q] = parse_gift("[markdown]Two plus two equals {=four =4}.")
    assert q.type is QuestionType.SHORT_ANSWER
    assert q.text == "Two plus two equals _____." and q.text_format is TextFormat.MARKDOWN
    assert q.text_parts == ("Two plus two equals ", ".")
    assert [(a.id, a.text, a.fraction) for a in q.answers] == [("a", "four", 1), ("b", "4", 1)]


def test_gift_missing_word_multiple_choice_with_escapes() -> None:
    [q] = parse_gift("Grant \\{is\\} {~buried =entombed ~living} in Grant's tomb\\n")
    assert q.type is QuestionType.SINGLE_CHOICE
    assert q.text_parts == ("Grant {is} ", " in Grant's tomb")
    assert q.text == BLANK.join(q.text_parts)


def test_gift_numerical_forms() -> None:
    [q] = parse_gift("Year? {#=1822:0#Exact =%50%1820..1824#Close ~#Way off}")
    assert q.type is QuestionType.NUMERICAL
    assert [(n.value, n.tolerance, n.fraction, n.feedback) for n in q.numeric] == [
        (1822, 0, 1, "Exact"),
        (1822, 2, 0.5, "Close"),
        (None, None, 0, "Way off"),
    ]
    assert q.numeric[1].matches(1823.5) and not q.numeric[1].matches(1825)
    assert q.numeric[2].matches(-1)


def test_gift_weights_outside_the_grade_range_are_rejected() -> None:
    with pytest.raises(ContentError) as info:
        parse_gift("Q {~%150%a ~b}", 4)
    assert lines_of(info.value.problems) == [4]
    assert "outside -100%..100%" in info.value.problems[0][1]


def test_gift_lone_zero_answer_follows_moodle_and_says_how_to_fix() -> None:
    with pytest.raises(ContentError) as info:
        parse_gift("Five minus five? {#0}")
    assert "{#=0}" in info.value.problems[0][1]
    [q] = parse_gift("Five minus five? {#=0}")
    assert q.numeric[0].value == 0


def test_gift_range_with_non_numeric_bound_is_rejected() -> None:
    with pytest.raises(ContentError) as info:
        parse_gift("Pi? {#3.141..bye}")
    assert "crashes" in info.value.problems[0][1]


def test_gift_old_mac_line_ends_and_bom() -> None:
    questions = parse_gift("\ufeffFirst {T}\r\rSecond {F}\r", 1)
    assert [(q.text, q.line) for q in questions] == [("First", 1), ("Second", 3)]


def test_gift_category_gives_no_question() -> None:
    assert parse_gift("$CATEGORY: $course$/top/Unit 1\n\nQ {T}")[0].text == "Q"


def test_unknown_block_kind_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_blocks([("yaml", "x", 1)])


# --- fuzzing --------------------------------------------------------------------------

QUIZ_TOKENS = [
    "1. ",
    "2) ",
    "   - ( ) ",
    "   - (x) ",
    "   - [ ] ",
    "   - [x] ",
    "     > ",
    "   > ",
    "> ",
    "[[",
    "]]",
    "|",
    "{#",
    "}",
    "id",
    "text",
    " ",
    "\t",
    "\n",
    "\n\n",
    "é",
    "???",
    "  ",
    "(x)",
    "[x]",
]
GIFT_TOKENS = [
    "::",
    "title",
    "{",
    "}",
    "=",
    "~",
    "#",
    "####",
    "->",
    "%50%",
    "%-100%",
    "%150%",
    "%--5%",
    "T",
    "FALSE",
    "..",
    ":",
    "1",
    "0",
    "3.5",
    "-",
    "\\",
    "\\{",
    "\\n",
    "\\\\",
    "//",
    "[id:x]",
    "[html]",
    "[markdown]",
    "$CATEGORY:",
    "\n",
    "\n\n",
    "\r",
    " ",
    "word",
    "_____",
    "\ufeff",
]

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_total(kind: str, text: str) -> None:
    """parse_blocks either returns valid questions or raises ContentError, nothing else."""
    try:
        questions = parse_blocks([(kind, text, 1)])
    except ContentError as error:
        assert error.problems
        assert all(isinstance(line, int) and line >= 1 for line, _ in error.problems)
        assert all(isinstance(message, str) and message for _, message in error.problems)
        return
    ids = [q.id for q in questions]
    assert len(ids) == len(set(ids))
    for q in questions:
        assert q.id and q.line >= 1
        assert q.type is not QuestionType.ESSAY
        if q.text_parts:
            assert BLANK.join(q.text_parts) == q.text
        for option in q.options:
            assert -1 <= option.fraction <= 1


@FUZZ
@given(st.text())
def test_fuzz_quiz_arbitrary_text(text: str) -> None:
    assert_total("quiz", text)


@FUZZ
@given(st.lists(st.sampled_from(QUIZ_TOKENS), max_size=40).map("".join))
def test_fuzz_quiz_token_soup(text: str) -> None:
    assert_total("quiz", text)


@FUZZ
@given(st.text())
def test_fuzz_gift_arbitrary_text(text: str) -> None:
    assert_total("gift", text)


@FUZZ
@given(st.lists(st.sampled_from(GIFT_TOKENS), max_size=40).map("".join))
def test_fuzz_gift_token_soup(text: str) -> None:
    assert_total("gift", text)


@pytest.mark.parametrize(
    ("options", "ids", "correct"),
    [
        ("   - (x) Vero\n   - ( ) Falso\n", ("true", "false"), [True, False]),
        ("   - ( ) True\n   - (x) False\n", ("true", "false"), [False, True]),
        ("   - (x) Falso\n   - ( ) Vero\n", ("false", "true"), [True, False]),
    ],
)
def test_true_false_options_make_a_true_false_question(
    options: str, ids: tuple, correct: list
) -> None:
    (question,) = parse_quiz("1. The customer is at the centre.\n" + options, first_line=1)
    assert question.type is QuestionType.TRUE_FALSE
    assert tuple(o.id for o in question.options) == ids
    assert [o.correct for o in question.options] == correct


def test_two_other_options_stay_single_choice() -> None:
    (question,) = parse_quiz("1. Pick one.\n   - (x) Yes\n   - ( ) No\n", first_line=1)
    assert question.type is QuestionType.SINGLE_CHOICE
