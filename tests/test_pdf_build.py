"""`flask pdf build`, the worksheet layout of every question type, and the certificate."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader

from app.content.questions import QuestionType
from app.content.quiz_syntax import parse_blocks
from app.pdf import build as pdf_build
from app.pdf.build import build_pdfs, print_html
from app.pdf.certificate import render_certificate
from app.pdf.worksheet import worksheet
from tests.conftest import CONTENT, make_app
from tests.pdf_tools import flat, pdf_pages_text, pdfinfo, qr_on_page

pytestmark = pytest.mark.pdf


@pytest.fixture
def one_module_app(tmp_path: Path) -> Flask:
    """The fixture course cut to its first module, in Italian only: two PDFs to build."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    for folder in (content / "trial").iterdir():
        if folder.is_dir() and not folder.name.startswith("01-"):
            shutil.rmtree(folder)
    return make_app(tmp_path, content, LANGUAGES="it", BASE_URL="https://academy.example.org")


def test_flask_pdf_build_builds_once_then_reuses(one_module_app: Flask, monkeypatch) -> None:
    runner = one_module_app.test_cli_runner()
    first = runner.invoke(args=["pdf", "build"])
    assert first.exit_code == 0, first.output
    assert "[1/2] PDF it trial/first-steps: built" in first.output
    assert "[2/2] PDF it trial (course): built" in first.output
    assert "2 built, 0 up to date, 0 failed" in first.output
    media = Path(one_module_app.config["MEDIA_DIR"]) / "pdf" / "trial"
    assert len(list(media.glob("*.pdf"))) == 2

    second = runner.invoke(args=["pdf", "build"])
    assert "0 built, 2 up to date" in second.output, second.output

    # The quiz URL and QR code use ACADEMY_BASE_URL, and downloads find the built artefact.
    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered on demand although it was built")

    monkeypatch.setattr(pdf_build, "render_pdf_bounded", no_render)
    client = one_module_app.test_client()
    response = client.get("/it/trial/first-steps.pdf", base_url="https://academy.example.org")
    assert response.status_code == 200
    [module_file] = media.glob("first-steps.it.*.pdf")
    text = flat(" ".join(pdf_pages_text(module_file)))
    assert "https://academy.example.org/it/trial/first-steps/quiz" in text


def test_an_edited_module_is_rebuilt_and_the_old_artefact_dropped(one_module_app: Flask) -> None:
    report = build_pdfs(one_module_app, echo=lambda _: None)
    assert report.ok and len(report.built) == 2
    media = Path(one_module_app.config["MEDIA_DIR"]) / "pdf" / "trial"
    [before] = media.glob("first-steps.it.*.pdf")
    source = Path(one_module_app.config["CONTENT_DIR"]) / "trial" / "01-first-steps"
    text = (source / "it.md").read_text()
    (source / "it.md").write_text(
        text.replace("Chi compra una bicicletta", "Chi ordina una bicicletta")
    )
    lines: list[str] = []
    report = build_pdfs(one_module_app, echo=lines.append)
    assert len(report.built) == 2, lines  # the module and the course that holds it
    [after] = media.glob("first-steps.it.*.pdf")
    assert after != before and not before.exists()
    assert "Chi ordina una bicicletta" in flat(" ".join(pdf_pages_text(after)))


# -- print HTML and worksheet layout -----------------------------------------------------------


def test_print_html_opens_details_and_prefixes_ids() -> None:
    html = (
        '<p id="x"><a href="#x">x</a><a href="https://e.org/#y">y</a></p>'
        '<details class="eqf-block" data-eqf="5"><summary><span class="eqf-badge">EQF 5</span>'
        ' Deeper</summary><div class="eqf-body">\n<p>Body</p>\n</div></details>'
    )
    printed = str(print_html(html, "m-one"))
    assert "<details" not in printed and "<summary" not in printed
    assert '<div class="eqf-block" data-eqf="5">' in printed
    assert '<p class="summary"><span class="eqf-badge">EQF 5</span> Deeper</p>' in printed
    assert 'id="m-one--x"' in printed and 'href="#m-one--x"' in printed
    assert 'href="https://e.org/#y"' in printed


GIFT = """
::num:: How many channels does the example use? {#5:1}

::short:: Name the software that keeps every customer's history. {
  =CRM
  =customer relationship management
  =%50%database
}

::match:: Match each channel to its kind. {
  =Shop -> physical
  =Newsletter -> digital
  = -> neither
}

::mw:: The customer is at the {=centre ~edge ~side} of an omnichannel strategy.

::desc:: Read the case below before answering.

::tf:: An app alone makes a company omnichannel. {FALSE#Right, it does not.#No.}
"""


def test_every_question_type_has_a_worksheet_layout_and_a_key() -> None:
    questions = parse_blocks([("gift", GIFT, 1)])
    items = {item.id: item for item in worksheet(questions, "en")}
    assert {q.type for q in questions} >= {
        QuestionType.NUMERICAL,
        QuestionType.SHORT_ANSWER,
        QuestionType.MATCHING,
        QuestionType.DESCRIPTION,
        QuestionType.TRUE_FALSE,
    }
    assert items["num"].kind == "numeric" and "5 ± 1" in items["num"].key[0].answer
    assert items["short"].kind == "lines" and items["short"].lines > 0
    assert [line.answer for line in items["short"].key][:2] == [
        "CRM",
        "customer relationship management",
    ]
    assert items["short"].key[-1].label == "50%"
    match = items["match"]
    assert match.kind == "matching" and len(match.prompts) == 2
    assert [text for _, text in match.choices] == ["digital", "neither", "physical"]
    assert [str(line.answer) for line in match.key] == ["C · physical", "A · digital"]
    mw = items["mw"]
    assert mw.kind == "single" and '<span class="blank">' in mw.text and "centre" not in mw.text
    assert [text for _, text in mw.options] == ["centre", "edge", "side"]
    assert items["desc"].kind == "description" and items["desc"].number == 0
    assert items["tf"].kind == "single"
    assert [line.correct for line in items["tf"].key] == [False, True]
    # Descriptions are not numbered: the five graded questions are 1..5.
    assert sorted(i.number for i in items.values() if i.graded) == [1, 2, 3, 4, 5]


def test_worksheet_text_is_sanitised() -> None:
    source = (
        "1. Pick <script>alert(1)</script> **one** <img src=x onerror=alert(1)>\n"
        "   - (x) A\n   - ( ) B\n"
    )
    [item] = worksheet(parse_blocks([("quiz", source, 1)]), "en")
    assert "<script" not in item.text and "onerror" not in item.text
    assert "<strong>one</strong>" in item.text


# -- the certificate ---------------------------------------------------------------------------


def test_certificate_is_a_one_page_verifiable_pdf(app: Flask, tmp_path: Path) -> None:
    verify = "https://academy.example.org/verify/OA-7F3K-92QX"
    with app.app_context():
        data = render_certificate(
            name="Maria Rossi",
            course_title="Strategia omnicanale",
            eqf="3-5",
            minutes=158,
            completed_on=date(2026, 3, 14),
            code="OA-7F3K-92QX",
            verify_url=verify,
            lang="it",
        )
    path = tmp_path / "certificate.pdf"
    path.write_bytes(data)
    info = pdfinfo(path)
    assert info["Pages"] == "1" and info["Tagged"] == "yes"
    assert info["Title"] == "Attestato di completamento · Strategia omnicanale · Maria Rossi"
    assert PdfReader(path).trailer["/Root"]["/Lang"] == "it"
    text = flat(" ".join(pdf_pages_text(path)))
    # The duration reads like every other page ("2 h 38 min"), not "Ore 2,6".
    assert "2 h 38 min" in text and "2,6" not in text, text
    for expected in (
        "Maria Rossi",
        "Strategia omnicanale",
        "EQF 3-5",
        "14 marzo 2026",
        "OA-7F3K-92QX",
        verify,
    ):
        assert expected in text
    assert qr_on_page(path, 1, tmp_path) == [verify]
