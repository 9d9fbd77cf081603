"""A module as a listener needs it: chapters of sentences, without Markdown symbols or URLs.

The narration is made from the module's rendered, sanitised HTML (the same text the page
shows), so callouts, EQF blocks, lists and tables are already parsed and quiz blocks are
already gone. Each sentence keeps two forms: `display`, the words as the page shows them
(for captions and read-along), and `text`, what the engine speaks (symbols cleaned,
abbreviations spelled through the course lexicon).

Pure functions over the content dataclasses: no Flask, no I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser

from app.content import texts
from app.content.model import Course, Module

# Bump when the way text is prepared changes: every artefact key changes with it.
NARRATION_VERSION = 1

# Silences between sentences (seconds): a listener needs the structure a reader sees.
PAUSE_SENTENCE = 0.35
PAUSE_BLOCK = 0.6
PAUSE_HEADING = 0.8

INTRO_ID = "intro"

_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "dt", "dd", "figcaption", "caption"}
_SKIP = {"script", "style", "template"}
# A URL, without the punctuation that ends the sentence around it.
_URL = re.compile(r"(?:https?://|www\.)\S*[^\s.,;:!?)\]»\"']", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# A sentence ends at . ! ? or … (maybe followed by closing quotes or brackets), then space, then
# something that can open a sentence.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"»”’)\]]*\s+(?=[\"«“‘(\[]?[A-ZÀ-ÖØ-Þ0-9])")
# Words after which a period does not end a sentence.
_ABBREVIATIONS = {
    "es", "ecc", "etc", "eg", "ie", "pes", "dott", "sig", "sigg", "prof", "ing", "avv", "mr",
    "mrs", "ms", "dr", "st", "vs", "cfr", "pag", "pp", "n", "no", "nr", "vol", "ed", "eds",
    "al", "fig", "ca", "approx",
}  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    """One unit of synthesis and of read-along."""

    display: str  # as the page shows it: captions and read-along
    text: str  # as the engine speaks it
    pause: float = PAUSE_SENTENCE  # silence after it, in seconds


@dataclass(frozen=True)
class Chapter:
    """One audio chapter: the module introduction, or one `##` section."""

    id: str
    title: str
    language: str
    sentences: tuple[Sentence, ...]
    lexicon: tuple[tuple[str, str], ...] = ()  # the lexicon entries its text uses

    @property
    def digest(self) -> str:
        """What the chapter says, independent of the engine: changes only when the words do."""
        payload = [
            NARRATION_VERSION,
            self.language,
            [(s.text, s.pause) for s in self.sentences],
            list(self.lexicon),
        ]
        raw = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def words(language: str) -> dict[str, str]:
    """Narration words for a language (English for a language we have no words for)."""
    return texts.narration_words(language)


# --- from HTML to blocks of text -----------------------------------------------------------


@dataclass
class _Block:
    text: str
    prefix: str = ""  # spoken before the text only, e.g. "3." for an ordered list item
    pause: float = PAUSE_BLOCK
    announce: bool = False  # an announcement we made up (callout, table): no display match


class _Narrator(HTMLParser):
    """Walk sanitised HTML and collect the text blocks a listener hears, in order."""

    def __init__(self, language: str) -> None:
        super().__init__(convert_charrefs=True)
        self.words = words(language)
        self.language = language
        self.blocks: list[_Block] = []
        self.buffer: list[str] = []
        self.skip = 0  # depth inside elements whose text is not narrated
        self.lists: list[list[int | None]] = []  # per open list: [next number or None]
        self.prefix = ""
        self.table: list[list[str]] | None = None
        self.header_rows = 0
        self.in_thead = False
        self.cell: list[str] | None = None
        self.callout_title = False
        self.eqf_level: str | None = None
        self.in_summary = False
        self.in_badge = False

    # Collecting text --------------------------------------------------------------------

    def flush(self, pause: float = PAUSE_BLOCK) -> None:
        """Close the text gathered so far as one block."""
        text = _SPACE.sub(" ", "".join(self.buffer)).strip()
        self.buffer = []
        if text:
            self.blocks.append(_Block(text, self.prefix, pause))
            self.prefix = ""

    def announce(self, text: str) -> None:
        """Add a block we compose ourselves (callout kinds, tables, images)."""
        self.flush()
        self.blocks.append(_Block(text, announce=True))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open blocks, lists, tables, callouts and skipped elements."""
        attributes = {name: value or "" for name, value in attrs}
        classes = set(attributes.get("class", "").split())
        if self.skip or tag in _SKIP or "footnotes" in classes or "footnote-ref" in classes:
            self.skip += 1
            return
        if tag == "pre":
            self.announce(self.words["code"])
            self.skip += 1
        elif tag in ("ul", "ol"):
            self.flush()
            start = attributes.get("start", "1")
            self.lists.append([int(start) if tag == "ol" and start.isdigit() else None])
        elif tag == "li":
            self.flush()
            if self.lists and self.lists[-1][0] is not None:
                number = self.lists[-1][0]
                self.prefix = f"{number}."
                self.lists[-1][0] = number + 1
        elif tag in _BLOCKS or tag in ("div", "blockquote", "aside", "section", "figure"):
            self.flush()
        elif tag == "br":
            self.buffer.append(" ")
        elif tag == "img":
            alt = attributes.get("alt", "").strip()
            if alt:
                self.announce(self.words["image"].format(alt=alt.rstrip(".")))
        elif tag == "table":
            self.flush()
            self.table = []
            self.header_rows = 0
        elif tag == "thead":
            self.in_thead = True
        elif tag == "tr" and self.table is not None:
            self.table.append([])
            if self.in_thead:
                self.header_rows += 1
        elif tag in ("td", "th") and self.table is not None:
            self.cell = []
        elif tag == "details" and attributes.get("data-eqf"):
            self.flush()
            self.eqf_level = attributes["data-eqf"]
        elif tag == "summary":
            self.flush()
            self.in_summary = True
        elif tag == "span" and "eqf-badge" in classes and self.in_summary:
            self.in_badge = True
        if tag == "p" and "callout-title" in classes:
            self.callout_title = True

    def handle_endtag(self, tag: str) -> None:
        """Close blocks; read tables row by row; announce callout and EQF titles."""
        if self.skip:
            self.skip -= 1
            return
        if tag == "p" and self.callout_title:
            self.callout_title = False
            # "Nota · Canale o touchpoint?" is read "Nota: Canale o touchpoint?"
            title = _SPACE.sub(" ", "".join(self.buffer)).strip().replace(" · ", ": ")
            self.buffer = []
            if title:
                self.announce(title if title[-1] in ".!?:" else title + ".")
        elif tag == "span" and self.in_badge:
            self.in_badge = False
            self.buffer = []  # the badge ("EQF 5") is said in words by the summary
        elif tag == "summary":
            self.in_summary = False
            title = _SPACE.sub(" ", "".join(self.buffer)).strip()
            self.buffer = []
            heading = self.words["deepening"].format(level=self.eqf_level or "")
            default = texts.labels(self.language)["eqf"]
            titled = title and title != default
            self.announce(f"{heading}: {title.rstrip('.')}." if titled else f"{heading}.")
        elif tag in ("td", "th") and self.table is not None and self.cell is not None:
            self.table[-1].append(_SPACE.sub(" ", "".join(self.cell)).strip())
            self.cell = None
        elif tag == "thead":
            self.in_thead = False
        elif tag == "table" and self.table is not None:
            rows, self.table = self.table, None
            self._read_table(rows)
        elif tag in ("ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
        elif tag == "li":
            self.flush(PAUSE_SENTENCE)
        elif tag in _BLOCKS or tag in ("div", "blockquote", "aside", "section", "figure"):
            self.flush()

    def handle_data(self, data: str) -> None:
        """Gather text into the current cell or block."""
        if self.skip:
            return
        if self.cell is not None:
            self.cell.append(data)
        else:
            self.buffer.append(data)

    def _read_table(self, rows: list[list[str]]) -> None:
        """A table is read row by row: the row's first cell, then each header with its value."""
        self.announce(self.words["table"])
        headers = rows[0] if self.header_rows else []
        for row in rows[self.header_rows :]:
            if not any(row):
                continue
            if headers:
                parts = []
                for header, value in zip(headers[1:], row[1:], strict=False):
                    if value:
                        parts.append(f"{header}: {value}" if header else value)
                lead = row[0]
                if lead and lead[-1] not in ".?!:":
                    lead += ":"
                text = f"{lead} {'; '.join(parts)}".strip()
            else:
                text = ", ".join(cell for cell in row if cell)
            self.blocks.append(_Block(text + ".", pause=PAUSE_SENTENCE, announce=True))

    def close_blocks(self) -> list[_Block]:
        """Finish parsing and return the blocks."""
        self.close()
        self.flush()
        return self.blocks


def html_blocks(html: str, language: str) -> list[_Block]:
    """The narrated blocks of a sanitised HTML fragment."""
    narrator = _Narrator(language)
    narrator.feed(html)
    return narrator.close_blocks()


# --- from text to sentences ----------------------------------------------------------------


def split_sentences(text: str) -> list[str]:
    """Split a block of text into sentences, keeping abbreviations and initials together."""
    text = _SPACE.sub(" ", text).strip()
    if not text:
        return []
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start : match.start()].rstrip('"»”’)]')
        last_word = before.rsplit(" ", 1)[-1]
        core = last_word.rstrip(".").replace(".", "").lower()
        if before.endswith(".") and (core in _ABBREVIATIONS or (len(core) == 1 and core.isalpha())):
            continue  # "ecc. Poi", "P. C. Verhoef": not the end of a sentence
        pieces.append(text[start : match.start()].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [piece for piece in pieces if piece]


def speakable(text: str, language: str) -> str:
    """Text without what should not be read aloud: URLs, Markdown symbols, arrows."""
    w = words(language)
    text = _URL.sub(w["link"], text)
    text = text.replace("&", f" {w['and']} ")
    text = re.sub(r"\s*(?:->|=>|→|⇒|—|–)\s*", ", ", text)
    text = re.sub(r"(?<=[^\W\d])/(?=[^\W\d])", f" {w['or']} ", text)
    text = re.sub(r"[*_#`|~^<>\[\]{}\\«»\"“”]", " ", text)
    text = _SPACE.sub(" ", text).strip()
    text = re.sub(r"\s+([,.;:!?)])", r"\1", text)
    text = re.sub(r"\(\s+", "(", text)
    text = re.sub(r",\s*,", ",", text).strip(" ,")
    return text


def _lexicon_pattern(lexicon: dict[str, str]) -> re.Pattern[str] | None:
    """One regex for every lexicon term, longest first, matched as whole words."""
    terms = sorted((t for t in lexicon if t.strip()), key=len, reverse=True)
    if not terms:
        return None
    return re.compile(r"(?<![\w.])(" + "|".join(re.escape(t) for t in terms) + r")(?![\w])")


def apply_lexicon(text: str, lexicon: dict[str, str], used: set[str] | None = None) -> str:
    """Replace each lexicon term by its pronunciation; record the terms met in `used`."""
    pattern = _lexicon_pattern(lexicon)
    if pattern is None:
        return text

    def spell(match: re.Match[str]) -> str:
        if used is not None:
            used.add(match.group(1))
        return lexicon[match.group(1)]

    return pattern.sub(spell, text)


def _spoken(
    display: str, prefix: str, language: str, lexicon: dict[str, str], used: set[str]
) -> str:
    """The spoken form of one displayed sentence."""
    text = speakable(display, language)
    if text and text[-1] in ",;":
        # A list item ending in ";" still needs a sentence's fall and pause.
        text = text[:-1] + "."
    text = apply_lexicon(text, lexicon, used)
    return f"{prefix} {text}".strip() if prefix else text


def _sentences(
    blocks: list[_Block], language: str, lexicon: dict[str, str], used: set[str]
) -> list[Sentence]:
    """Turn blocks into sentences; the last sentence of a block carries the block's pause."""
    out: list[Sentence] = []
    for block in blocks:
        pieces = [block.text] if block.announce else split_sentences(block.text)
        for i, piece in enumerate(pieces):
            text = _spoken(piece, block.prefix if i == 0 else "", language, lexicon, used)
            if not re.search(r"\w", text):
                continue  # nothing a voice could say (a lone symbol)
            pause = block.pause if i == len(pieces) - 1 else PAUSE_SENTENCE
            out.append(Sentence(display=piece, text=text, pause=pause))
    return out


def _chapter(
    chapter_id: str,
    title: str,
    language: str,
    blocks: list[_Block],
    lexicon: dict[str, str],
) -> Chapter:
    """A chapter: its title, then its blocks as sentences."""
    used: set[str] = set()
    heading = Sentence(
        display=title,
        text=apply_lexicon(speakable(title, language), lexicon, used),
        pause=PAUSE_HEADING,
    )
    body = _sentences(blocks, language, lexicon, used)
    entries = tuple(sorted((term, lexicon[term]) for term in used))
    return Chapter(chapter_id, title, language, (heading, *body), entries)


def intro_chapter_id(module: Module) -> str:
    """The first chapter's id: `intro`, unless a section already uses that id."""
    taken = {section.id for section in module.sections}
    return INTRO_ID if INTRO_ID not in taken else f"module-{INTRO_ID}"


def module_chapters(course: Course, module: Module) -> tuple[Chapter, ...]:
    """Every chapter of a module: introduction with learning outcomes, then each section."""
    language = module.language
    lexicon = dict(course.lexicon.get(language, {}))
    w = words(language)
    intro: list[_Block] = []
    if module.outcomes:
        intro.append(_Block(w["outcomes"], announce=True))
        intro.append(_Block(w["outcomes_intro"], pause=PAUSE_SENTENCE, announce=True))
        for outcome in module.outcomes:
            text = outcome.strip()
            intro.append(_Block(text if text[-1:] in ".!?" else text + ".", pause=PAUSE_SENTENCE))
        intro[-1].pause = PAUSE_BLOCK
    intro.extend(html_blocks(module.intro_html, language))
    chapters = [_chapter(intro_chapter_id(module), module.title, language, intro, lexicon)]
    for section in module.sections:
        blocks = html_blocks(section.html, language)
        chapters.append(_chapter(section.id, section.title, language, blocks, lexicon))
    return tuple(chapters)
