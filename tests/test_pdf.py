"""Module and course PDFs of the fixture course, checked in the real files with poppler, zbar."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import NamedTuple

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from app.content.loader import load_catalogue
from app.content.model import Module
from app.pdf import build as pdf_build
from tests.conftest import CONTENT, make_app
from tests.pdf_tools import flat, pdf_pages_text, pdffonts, pdfinfo, plain, qr_on_page, run

pytestmark = pytest.mark.pdf

COURSE = load_catalogue(CONTENT).courses["trial"]


def module_version(module_id: str, lang: str) -> Module:
    return next(e for e in COURSE.entries if e.id == module_id).versions[lang]


@dataclass
class Downloaded:
    path: Path
    pages: list[str]
    headers: dict[str, str]
    app: Flask
    client: FlaskClient
    url: str

    @property
    def text(self) -> str:
        return flat(" ".join(self.pages))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, FlaskClient, Path]]:
    tmp = tmp_path_factory.mktemp("pdf-site")
    app = make_app(tmp, CONTENT)
    yield app, app.test_client(), tmp


def download(site: tuple[Flask, FlaskClient, Path], url: str, name: str) -> Downloaded:
    app, client, tmp = site
    response = client.get(url)
    assert response.status_code == 200, response.data[:500]
    path = tmp / name
    path.write_bytes(response.data)
    return Downloaded(path, pdf_pages_text(path), dict(response.headers), app, client, url)


@pytest.fixture(scope="module")
def module_pdf(site) -> Downloaded:
    """The Italian PDF of module 1, rendered once for this file."""
    return download(site, "/it/trial/first-steps.pdf", "module.pdf")


@pytest.fixture(scope="module")
def course_pdf(site) -> Downloaded:
    """The English PDF of the whole course, rendered once for this file."""
    return download(site, "/en/trial.pdf", "course.pdf")


# -- the module PDF ---------------------------------------------------------------------------


def test_module_pdf_is_a_download_with_a_readable_name_and_an_etag(module_pdf) -> None:
    headers = module_pdf.headers
    assert headers["Content-Type"] == "application/pdf"
    assert "attachment" in headers["Content-Disposition"]
    assert "primi-passi-con-i-canali-it.pdf" in headers["Content-Disposition"]
    etag = headers["ETag"].strip('"')
    assert re.fullmatch(r"[0-9a-f]{64}", etag)
    again = module_pdf.client.get(module_pdf.url, headers={"If-None-Match": headers["ETag"]})
    assert again.status_code == 304


def test_module_pdf_is_kept_as_an_artefact_named_by_its_hash(module_pdf, monkeypatch) -> None:
    media = Path(module_pdf.app.config["MEDIA_DIR"])
    etag = module_pdf.headers["ETag"].strip('"')
    [artefact] = (media / "pdf" / "trial").glob("first-steps.it.*.pdf")
    assert etag.startswith(artefact.stem.rsplit(".", 1)[1])
    assert artefact.read_bytes() == module_pdf.path.read_bytes()

    # A second download is served from the artefact: nothing is rendered again.
    def no_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered again")

    monkeypatch.setattr(pdf_build, "render_pdf_bounded", no_render)
    response = module_pdf.client.get(module_pdf.url)
    assert response.status_code == 200
    assert response.data == artefact.read_bytes()


def test_module_pdf_has_title_language_tags_and_the_right_page_count(module_pdf) -> None:
    module = module_version("first-steps", "it")
    info = pdfinfo(module_pdf.path)
    assert info["Title"] == f"{module.title} · Corso di prova"
    assert info["Tagged"] == "yes"
    pages = int(info["Pages"])
    assert pages == len(module_pdf.pages) > 5
    catalog = PdfReader(module_pdf.path).trailer["/Root"]
    assert catalog["/Lang"] == "it"
    # The footer counts the pages: "Pagina x di y" on every page but the cover.
    assert f"Pagina {pages} di {pages}" in flat(module_pdf.pages[-1])
    assert "Pagina" not in module_pdf.pages[0]
    # The running header is the course title.
    assert all("Corso di prova" in page for page in module_pdf.pages[1:])
    media = Path(module_pdf.app.config["MEDIA_DIR"])
    [meta] = (media / "pdf" / "trial").glob("first-steps.it.*.json")
    assert json.loads(meta.read_text())["pages"] == pages


def test_module_pdf_fonts_are_all_embedded(module_pdf) -> None:
    fonts = pdffonts(module_pdf.path)
    assert fonts and all(font["emb"] == "yes" for font in fonts)
    assert any("DejaVu" in font["name"] for font in fonts)


def test_module_pdf_has_the_cover_outcomes_every_section_and_the_back_matter(module_pdf) -> None:
    module = module_version("first-steps", "it")
    cover = flat(module_pdf.pages[0])
    for expected in (
        module.title,
        "Corso di prova",
        f"EQF {module.eqf}",
        "20 min",
        "Italiano",
    ):
        assert expected in cover
    text = module_pdf.text
    assert "Risultati d'apprendimento" in text
    for outcome in module.outcomes:
        assert flat(outcome) in text
    for section in module.sections:
        assert flat(section.title) in text, section.title
    for reference in module.bibliography:
        assert flat(reference)[:60] in text
    assert flat(module.description) in text
    assert ", ".join(module.keywords[:2]).replace(", ", " · ") in text


def test_eqf_blocks_and_callouts_print_open(module_pdf) -> None:
    module = module_version("first-steps", "it")
    text = module_pdf.text
    section = next(s for s in module.sections if "eqf-block" in s.html)
    body = re.search(r'<div class="eqf-body">\s*<p>(.*?)</p>', section.html, re.S)
    assert body is not None
    sentence = flat(re.sub(r"<[^>]+>", "", body.group(1)))[:80]
    assert sentence in text
    assert "EQF 4 Approfondimento" in text
    assert "Nota · Canale o punto di contatto?" in text


def test_worksheet_has_every_question_and_no_answer_before_the_key(module_pdf) -> None:
    module = module_version("first-steps", "it")
    text = module_pdf.text
    start = text.index("Scheda di esercizio")
    key_at = text.index("Appendice: soluzioni")
    assert start < key_at
    worksheet, before_key, key = text[start:key_at], text[:key_at], text[key_at:]
    blocks = re.split(r"Domanda \d+ ", worksheet)[1:]
    assert len(blocks) == len(module.questions)
    for question, block in zip(module.questions, blocks, strict=True):
        assert block.startswith(plain(question.text)[:70]), question.id
        # Feedback explains the answer: it only appears in the key.
        feedbacks = [question.general_feedback] + [o.feedback for o in question.options]
        for feedback in filter(None, feedbacks):
            assert flat(feedback)[:60] not in before_key, feedback
            assert flat(feedback)[:60] in key, feedback
        for gap in question.gaps:
            assert not any(answer in block for answer in gap.answers), question.id
            assert " / ".join(gap.answers) in key
        for pair in question.pairs:
            assert pair.answer in block  # the answers to pick from, in alphabetical order
    # The key marks each option (upper-case in print); the worksheet never does.
    assert "GIUSTA" not in before_key and "SBAGLIATA" not in before_key
    assert "GIUSTA" in key and "SBAGLIATA" in key


def test_worksheet_qr_code_opens_the_online_quiz(module_pdf, tmp_path: Path) -> None:
    url = "http://localhost/it/trial/first-steps/quiz"
    page = next(i for i, t in enumerate(module_pdf.pages, 1) if "Scheda di esercizio" in t)
    assert url in flat(module_pdf.pages[page - 1])
    assert qr_on_page(module_pdf.path, page, tmp_path) == [url]


def test_module_page_panel_links_the_pdfs_with_size_and_pages(module_pdf) -> None:
    html = module_pdf.client.get("/it/trial/first-steps/").data.decode()
    assert 'href="/it/trial/first-steps.pdf"' in html
    assert 'href="/it/trial.pdf"' in html
    pages = len(module_pdf.pages)
    assert f"{pages} pagine" in html
    assert "Scarica e stampa" in html


@pytest.mark.parametrize(
    "url",
    [
        "/it/trial/no-such-module.pdf",
        "/it/no-such-course.pdf",
        "/xx/trial.pdf",
        "/it/trial/..%2f..%2fetc%2fpasswd.pdf",
        "/it/..%2ftrial.pdf",
    ],
)
def test_unknown_pdfs_are_404(site, url: str) -> None:
    _, client, _ = site
    assert client.get(url).status_code == 404


def test_artefact_names_never_come_from_unchecked_ids() -> None:
    job = pdf_build.PdfJob(
        kind="module",
        course_id="trial",
        module_id="../../etc",
        lang="it",
        html="",
        policy=None,  # type: ignore[arg-type]
        key="0" * 64,
        download_name="x.pdf",
        title="x",
    )
    with pytest.raises(ValueError):
        job.path(Path("/tmp"))


# -- the course PDF ---------------------------------------------------------------------------


def test_course_pdf_metadata(course_pdf) -> None:
    info = pdfinfo(course_pdf.path)
    assert info["Title"] == "Trial course"
    assert info["Tagged"] == "yes"
    assert int(info["Pages"]) == len(course_pdf.pages)
    assert PdfReader(course_pdf.path).trailer["/Root"]["/Lang"] == "en"
    assert "trial-course-en.pdf" in course_pdf.headers["Content-Disposition"]
    assert all(font["emb"] == "yes" for font in pdffonts(course_pdf.path))


def test_course_pdf_contents_give_the_right_page_numbers(course_pdf) -> None:
    contents = flat(course_pdf.pages[1])
    assert contents.startswith("Trial course Contents")
    for number, entry in enumerate(COURSE.visible, 1):
        module = entry.versions["en"]
        match = re.search(rf"{number}\. {re.escape(flat(module.title))} \.*\s?(\d+)", contents)
        assert match, module.title
        page = int(match.group(1))
        # The module starts on the page the contents name, under its kicker.
        assert f"MODULE {number} {flat(module.title)}" in flat(course_pdf.pages[page - 1])


def test_course_pdf_has_every_section_and_question_and_the_key_last(course_pdf) -> None:
    text = course_pdf.text
    key_at = text.rindex("Appendix: answer key")
    before_key = text[:key_at]
    for entry in COURSE.visible:
        module = entry.versions["en"]
        for section in module.sections:
            assert flat(section.title) in before_key, section.title
        for question in module.questions:
            assert plain(question.text)[:70] in before_key, question.id
            if question.general_feedback:
                assert flat(question.general_feedback)[:60] not in before_key
                assert flat(question.general_feedback)[:60] in text[key_at:]
    assert "RIGHT" not in before_key and "WRONG" not in before_key
    assert "RIGHT" in text[key_at:]


# -- the answer key's labels stay inside the printable area ------------------------------------

MARGIN_PT = 18 / 25.4 * 72  # print.css: @page { margin: 22mm 18mm 20mm 18mm }


class Word(NamedTuple):
    """One word as poppler places it on a page, in points."""

    text: str
    x_min: float
    x_max: float
    y_min: float
    page: int
    page_width: float


def words_with_boxes(path: Path) -> list[Word]:
    """Every word poppler finds in the PDF, with its box (`pdftotext -bbox`)."""
    html = run("pdftotext", "-bbox", "-enc", "UTF-8", path, "-")
    pages = re.finditer(r'<page width="([\d.]+)"[^>]*>(.*?)</page>', html, re.S)
    word = re.compile(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>'
    )
    return [
        Word(
            unescape(w.group(4)),
            float(w.group(1)),
            float(w.group(3)),
            float(w.group(2)),
            number,
            float(page.group(1)),
        )  # fmt: skip
        for number, page in enumerate(pages)
        for w in word.finditer(page.group(2))
    ]


def outside_margin(word: Word) -> bool:
    """The word crosses the left or right 18 mm margin (half a point of tolerance)."""
    return word.x_min < MARGIN_PT - 0.5 or word.x_max > word.page_width - MARGIN_PT + 0.5


@pytest.mark.parametrize(
    ("fixture", "labels"),
    [("module_pdf", {"GIUSTA", "SBAGLIATA"}), ("course_pdf", {"RIGHT", "WRONG"})],
)
def test_answer_key_labels_print_inside_the_18_mm_margin(
    request: pytest.FixtureRequest, fixture: str, labels: set[str]
) -> None:
    words = words_with_boxes(request.getfixturevalue(fixture).path)
    marks = [w for w in words if w.text in labels]
    assert len(marks) >= 10, f"expected the key's labels {labels} in the PDF"
    outside = [(w.text, round(w.x_min / 72 * 25.4, 1)) for w in marks if outside_margin(w)]
    assert outside == [], f"labels outside the margin (text, mm from the left edge): {outside}"
    # Nothing else crosses the margin either, and no answer is printed over its label.
    assert [w.text for w in words if outside_margin(w)] == []
    for mark in marks:
        line = [
            w for w in words
            if w.page == mark.page and abs(w.y_min - mark.y_min) < 3 and w.x_min > mark.x_min
        ]  # fmt: skip
        assert line and min(w.x_min for w in line) >= mark.x_max, mark
