"""Catalogue, course and module pages through the test client, in Italian and English."""

from __future__ import annotations

import re
import time
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.content.loader import load_catalogue
from tests.conftest import CONTENT, make_app

COURSE = load_catalogue(CONTENT).courses["trial"]
FIRST = COURSE.visible[0]


def text_of(html: bytes) -> str:
    """Visible text of the page body, tags dropped, entities decoded, white space folded."""
    body = html.decode().split("<body", 1)[-1]
    without_tags = re.sub(r"<[^>]+>", " ", body)
    return re.sub(r"\s+", " ", unescape(without_tags))


def test_catalogue_lists_the_course_with_its_facts(client: FlaskClient) -> None:
    response = client.get("/", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = text_of(response.data)
    assert COURSE.title["en"] in page
    assert COURSE.description["en"].split(".")[0] in page
    assert "EQF 3-5" in page
    assert "Italiano" in page and "English" in page
    assert f"Modules {len(COURSE.visible)}" in page
    assert "Total duration" in page
    assert 'href="/en/trial/"' in response.data.decode()


def test_catalogue_follows_the_browser_language(client: FlaskClient) -> None:
    page = text_of(client.get("/", headers={"Accept-Language": "it-IT,it;q=0.9"}).data)
    assert "Corsi" in page and COURSE.title["it"] in page and "Durata totale" in page


@pytest.mark.parametrize("lang", ["it", "en"])
def test_course_page_lists_modules_in_order(client: FlaskClient, lang: str) -> None:
    response = client.get(f"/{lang}/trial/")
    assert response.status_code == 200
    html = response.data.decode()
    positions = [html.index(f'href="/{lang}/trial/{entry.id}/"') for entry in COURSE.visible]
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    ("lang", "labels"),
    [
        ("it", ["Risultati d'apprendimento", "Clicca per leggere", "Bibliografia"]),
        ("en", ["Learning outcomes", "Click to read", "Bibliography"]),
    ],
)
def test_module_page_shows_everything_in_order(
    client: FlaskClient, lang: str, labels: list[str]
) -> None:
    module = FIRST.versions[lang]
    response = client.get(f"/{lang}/trial/{FIRST.id}/")
    assert response.status_code == 200
    page = text_of(response.data)
    html = response.data.decode()
    outcomes_label, click_label, bibliography_label = labels
    intro_start = text_of(module.intro_html.encode()).strip()[:40]
    needles = [
        module.title,
        f"EQF {module.eqf}",
        f"{module.duration} min",
        module.keywords[0],
        outcomes_label,
        module.outcomes[0],
        intro_start,
        *(section.title for section in module.sections),
        module.description,
        bibliography_label,
        module.bibliography[0][:30],
    ]
    position = page.index(module.title)
    for needle in needles:
        # Each piece must come after the previous one: .index raises if it does not.
        position = page.index(needle, position)
    assert page.count(click_label) == len(module.sections)
    for section in module.sections:
        assert re.search(rf'<details class="section[^"]*" id="{section.id}" data-section', html)
    assert '<details class="eqf-block"' in html or not any(s.eqf_levels for s in module.sections)
    assert '<aside class="callout' in html
    assert "```" not in html and "language-quiz" not in html and "language-gift" not in html


def test_language_switch_keeps_the_module(client: FlaskClient) -> None:
    html = client.get(f"/it/trial/{FIRST.id}/").data.decode()
    assert f'href="/en/trial/{FIRST.id}/" hreflang="en"' in html
    assert "data-keep-hash" in html


def test_previous_and_next_modules(client: FlaskClient) -> None:
    if len(COURSE.visible) < 2:
        pytest.skip("the course has one module")
    second = COURSE.visible[1]
    html = client.get(f"/en/trial/{second.id}/").data.decode()
    assert f'rel="prev" href="/en/trial/{FIRST.id}/"' in html
    first_html = client.get(f"/en/trial/{FIRST.id}/").data.decode()
    assert 'rel="prev"' not in first_html
    assert f'rel="next" href="/en/trial/{second.id}/"' in first_html


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/it/trial/no-such-module/", "Pagina non trovata"),
        ("/en/trial/no-such-module/", "Page not found"),
        ("/en/no-such-course/", "Page not found"),
        ("/fr/trial/", None),
        ("/it/trial/../../etc/passwd", "Pagina non trovata"),
    ],
)
def test_unknown_things_get_a_friendly_404(client: FlaskClient, url: str, expected: str) -> None:
    response = client.get(url, headers={"Accept-Language": "en"})
    assert response.status_code == 404
    page = text_of(response.data)
    assert (expected or "Page not found") in page
    assert "Traceback" not in page


def test_pages_load_only_from_this_site(client: FlaskClient) -> None:
    response = client.get(f"/en/trial/{FIRST.id}/")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for url in re.findall(r'(?:src|href)="([^"#]+)"', response.data.decode()):
        assert url.startswith("/"), url


def write_demo(root: Path, modules: dict[str, dict[str, str]]) -> None:
    course = root / "demo"
    course.mkdir(parents=True)
    (course / "course.yml").write_text(
        "id: demo\ndefault_language: it\nlanguages: [it, en]\n"
        "title: {it: Demo, en: Demo}\ndescription: {it: Prova, en: Test}\n",
        encoding="utf-8",
    )
    for folder, files in modules.items():
        (course / folder).mkdir()
        for name, text in files.items():
            (course / folder / name).write_text(text, encoding="utf-8")


def module_text(title: str, body: str = "## Uno {#one}\n\nTesto.\n") -> str:
    return (
        f"---\ntitle: {title}\neqf: 3\nduration: 10\ndescription: D.\n"
        f"keywords: [k]\noutcomes: [Spiegare X]\n---\n\n{body}"
    )


@pytest.fixture
def demo(tmp_path: Path) -> tuple[Flask, Path]:
    root = tmp_path / "content"
    write_demo(
        root,
        {
            "01-first": {"it.md": module_text("Primo")},
            "02-second": {"it.md": module_text("Secondo"), "en.md": module_text("Second")},
            "03-broken": {"it.md": "no front matter"},
        },
    )
    return make_app(tmp_path, root), root


def test_missing_translation_shows_the_default_language_and_says_so(demo) -> None:
    app, _ = demo
    response = app.test_client().get("/en/demo/first/")
    assert response.status_code == 200
    page = text_of(response.data)
    assert "Primo" in page
    assert "not available in English yet: you are reading the Italiano version" in page


def test_a_broken_module_is_a_404_and_the_others_still_serve(demo) -> None:
    app, _ = demo
    client = app.test_client()
    assert client.get("/it/demo/broken/").status_code == 404
    assert client.get("/it/demo/second/").status_code == 200
    course_page = client.get("/it/demo/").data.decode()
    assert "/it/demo/broken/" not in course_page


def test_an_edited_module_shows_on_reload_without_restart(demo) -> None:
    app, root = demo
    client = app.test_client()
    assert "Secondo" in text_of(client.get("/it/demo/second/").data)
    path = root / "demo/02-second/it.md"
    path.write_text(module_text("Secondo aggiornato"), encoding="utf-8")
    # Same size could hide an edit on coarse clocks: force a newer mtime.
    later = time.time() + 5
    import os

    os.utime(path, (later, later))
    assert "Secondo aggiornato" in text_of(client.get("/it/demo/second/").data)
    cache = app.extensions["academy.content"]
    loads = cache.loads
    client.get("/it/demo/second/")
    assert cache.loads == loads  # unchanged files are not parsed again


def test_fixing_a_broken_module_makes_it_appear(demo) -> None:
    app, root = demo
    client = app.test_client()
    assert client.get("/it/demo/broken/").status_code == 404
    (root / "demo/03-broken/it.md").write_text(module_text("Riparato"), encoding="utf-8")
    assert client.get("/it/demo/broken/").status_code == 200


def test_media_route_serves_module_images_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "content"
    write_demo(root, {"01-first": {"it.md": module_text("Primo", "![Grafico](media/g.svg)\n")}})
    media = root / "demo/01-first/media"
    media.mkdir()
    (media / "g.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    client = make_app(tmp_path, root).test_client()
    assert 'src="/media/demo/first/g.svg"' in client.get("/it/demo/first/").data.decode()
    with client.get("/media/demo/first/g.svg") as image:  # closes the file it streams
        assert image.status_code == 200
    for bad in (
        "/media/demo/first/../../../../secret.txt",
        "/media/demo/first/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/media/demo/first/..%2f..%2f..%2f..%2fsecret.txt",
        "/media/demo/first/it.md",
        "/media/demo/nope/g.svg",
    ):
        response = client.get(bad)
        assert response.status_code == 404, bad
        assert b"TOP-SECRET-CONTENT" not in response.data
