"""Every interface text a learner can see has its Italian translation."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import ROOT

METHODS = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def extracted() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(ROOT), METHODS, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_interface_text_has_an_italian_translation() -> None:
    with open(ROOT / "app/translations/it/LC_MESSAGES/messages.po", "rb") as handle:
        catalog = read_po(handle, locale="it")
    translated = set()
    for message in catalog:
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.id and all(strings) and "fuzzy" not in message.flags:
            translated.add(message.id[0] if isinstance(message.id, tuple) else message.id)
    messages = extracted()
    assert len(messages) > 100
    assert sorted(messages - translated) == []


def test_content_labels_and_narration_words_come_from_the_catalogue() -> None:
    from app.content import texts

    assert texts.labels("it")["note"] == "Nota" and texts.labels("en")["note"] == "Note"
    assert texts.narration_words("it")["deepening"].format(level=4) == (
        "Approfondimento per il livello EQF 4"
    )
    # A language without a catalogue is spoken in English, never with a missing word.
    assert texts.labels("de") == texts.labels("en")


def test_language_names_come_from_babel_in_their_own_language() -> None:
    from app.i18n import language_name

    assert [language_name(c) for c in ("it", "en", "de", "fr")] == [
        "Italiano",
        "English",
        "Deutsch",
        "Français",
    ]
    assert language_name("zz-not-a-language") == "zz-not-a-language"
