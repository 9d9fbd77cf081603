"""The learner's language: from the URL when it names one, else the browser's preference."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from flask import current_app, request
from flask_babel import get_locale, gettext


def languages() -> tuple[str, ...]:
    """Languages the interface speaks, first one the fallback."""
    return tuple(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """Locale for this request: `/<lang>/...` wins, then `?lang=`, Accept-Language, the default."""
    supported = languages()
    lang = (request.view_args or {}).get("lang") if request else None
    if lang in supported:
        return lang
    first = request.path.strip("/").split("/", 1)[0] if request else ""
    if first in supported:
        return first
    # A page without a language in its address (a certificate check) takes one from the switch.
    chosen = request.args.get("lang") if request else None
    if chosen in supported:
        return chosen
    return request.accept_languages.best_match(supported) or supported[0]


@lru_cache(maxsize=64)
def language_name(code: str) -> str:
    """A language named in itself ("Italiano", "English", "Deutsch"), from Babel's CLDR data.

    Each language is named in itself, so a learner finds their own in any interface language;
    a language Babel does not know is shown by its code.
    """
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except (ValueError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:]


class LanguageNames(Mapping[str, str]):
    """`language_names[code]` in templates: any code, named by `language_name`."""

    def __getitem__(self, code: str) -> str:
        return language_name(code)

    def __iter__(self) -> Iterator[str]:
        return iter(languages())

    def __len__(self) -> int:
        return len(languages())


LANGUAGE_NAMES = LanguageNames()


def format_duration(minutes: int) -> str:
    """Minutes as a learner reads them: '25 min', '2 h 10 min'."""
    hours, rest = divmod(int(minutes), 60)
    if not hours:
        return gettext("%(minutes)d min", minutes=rest)
    if not rest:
        return gettext("%(hours)d h", hours=hours)
    return gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)


def error_title(code: int) -> str:
    """A short title for an HTTP error page."""
    titles = {
        400: gettext("That request could not be understood"),
        403: gettext("You cannot open this page"),
        404: gettext("Page not found"),
        405: gettext("That action is not possible here"),
        429: gettext("Too many attempts"),
        503: gettext("Not available right now"),
    }
    return titles.get(code, gettext("Something went wrong"))


def error_text(code: int) -> str:
    """What happened and what to do next, for an HTTP error page."""
    texts = {
        400: gettext(
            "Something in the request was not valid. Nothing was saved; please try again."
        ),
        403: gettext("This page belongs to someone else or needs another role."),
        404: gettext(
            "We could not find this course, module or page. It may have moved, or the link may "
            "be mistyped."
        ),
        405: gettext("Go back to the previous page and try again."),
        429: gettext("Please wait a minute before trying again."),
        503: gettext(
            "This file could not be prepared just now. Please try again in a few minutes; "
            "nothing you did was lost."
        ),
    }
    return texts.get(
        code, gettext("An unexpected error occurred on our side. Nothing you did was lost.")
    )


def template_globals() -> dict[str, object]:
    """Names every template can use: the page language and the helpers above."""
    return {
        "page_lang": str(get_locale() or languages()[0]),
        "site_languages": languages(),
        "language_names": LANGUAGE_NAMES,
        "duration": format_duration,
        "error_title": error_title,
        "error_text": error_text,
    }
