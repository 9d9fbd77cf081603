"""Interface words the content pipeline writes outside any request, from the Babel catalogues.

Markdown labels (callout kinds, the EQF deepening) and narration words are rendered once per
file, in the file's own language, by the loader and the audio build workers, where no request
and no Flask-Babel locale exist. They are looked up in app/translations with Babel itself, so
they live in messages.po like every other interface string and tests/test_translations.py
checks them. A language without a catalogue gets the English words.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from babel.support import NullTranslations, Translations

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


@lru_cache(maxsize=16)
def catalogue(language: str) -> NullTranslations:
    """The compiled messages of `language` (English, the msgids, when there are none)."""
    return Translations.load(str(TRANSLATIONS), [language])


def labels(language: str) -> dict[str, str]:
    """What the Markdown plugins print: callout kinds and the EQF deepening's default title."""
    _ = catalogue(language).gettext
    return {
        "tip": _("Tip"),
        "note": _("Note"),
        "example": _("Example"),
        "warning": _("Warning"),
        "eqf": _("Going deeper"),
    }


def narration_words(language: str) -> dict[str, str]:
    """What the narration says around the trainer's text ({level} and {alt} are filled in)."""
    _ = catalogue(language).gettext
    return {
        "outcomes": _("Learning outcomes."),
        "outcomes_intro": _("By the end of this module you will be able to:"),
        "deepening": _("Going deeper, for EQF level {level}"),
        "table": _("Table."),
        "image": _("Image: {alt}."),
        "code": _("Here the text contains a code example, to read on the page."),
        "link": _("link"),
        "and": _("and"),
        "or": _("or"),
        "end": _("End of the module."),
    }
