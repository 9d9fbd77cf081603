"""The request-bound helpers in app/web.py and the language URL converter."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import IntegerConverter

from app.web import course_or_404, current_learner, module_or_404, site_base_url
from tests.conftest import make_app
from tests.helpers import write_mini_course

pytestmark = pytest.mark.db


@pytest.fixture
def app(tmp_path: Path) -> Flask:
    content = tmp_path / "content"
    write_mini_course(content)
    return make_app(tmp_path, content)


def test_every_language_route_refuses_an_unknown_language(app: Flask) -> None:
    client = app.test_client()
    rules = [r for r in app.url_map.iter_rules() if "lang" in r.arguments]
    assert len(rules) > 15  # every blueprint's pages, not one
    for rule in rules:
        # Integer ids (groups, accounts) take a number; every other argument takes a slug.
        numeric = {n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)}
        values = {n: 1 if n in numeric else "mini" for n in rule.arguments} | {"lang": "xx"}
        path = app.url_map.bind("localhost").build(rule.endpoint, values)
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        assert client.open(path, method=method).status_code == 404, rule.rule


def test_course_and_module_lookups_404_for_unknown_ids(app: Flask) -> None:
    from werkzeug.exceptions import NotFound

    with app.test_request_context("/it/mini/"):
        assert course_or_404("it", "mini").id == "mini"
        course, module = module_or_404("it", "mini", "one")
        assert (course.id, module.id) == ("mini", "one")
        with pytest.raises(NotFound):
            course_or_404("it", "nope")
        with pytest.raises(NotFound):
            module_or_404("it", "mini", "nope")


def test_a_guest_gets_a_key_only_when_asked(app: Flask) -> None:
    with app.test_request_context("/it/"):
        assert current_learner() is None
        key = current_learner(create=True)
        assert key is not None and key.startswith("g:")
        assert current_learner() == key


def test_site_base_url_prefers_the_configured_one(tmp_path: Path) -> None:
    content = tmp_path / "content"
    write_mini_course(content)
    app = make_app(tmp_path, content, migrate=False, BASE_URL="https://academy.example/sub")
    with app.test_request_context("/", base_url="http://evil.example/"):
        assert site_base_url() == "https://academy.example/sub/"
    other = make_app(tmp_path / "b", content, migrate=False)
    with other.test_request_context("/", base_url="http://127.0.0.1:8123/"):
        assert site_base_url() == "http://127.0.0.1:8123/"
