"""Build a SCORM 1.2 zip of a module or a course: one SCO per module, all files inside.

Each module becomes a folder with its page (`index.html`: outcomes, sections, the audio with
its read-along, the PDF, the quiz), its answer key (`quiz.js`, read by the page's script that
grades in the browser, as an offline package must), its audio, images and PDF. The shared
script finds the LMS's SCORM 1.2 API and reports lesson status, score, session time, location
and suspend data. Nothing in the package loads from the network.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_babel import force_locale
from markupsafe import Markup

from app.audio.artefacts import module_audio
from app.audio.narration import INTRO_ID
from app.audio.store import Store
from app.content.ids import VALID_ID, slugify
from app.content.model import Course, Module
from app.content.questions import Question, QuestionType
from app.i18n import format_duration
from app.pdf.build import ensure_artefact, find_artefact, module_job
from app.quizzes.render import markup
from app.quizzes.review import right_answers, shown_questions
from app.quizzes.services import choice_id, matching_choices, new_state
from app.scorm.manifest import Sco, build_manifest, check_manifest, xml_id
from app.web import site_base_url

ASSETS = Path(__file__).resolve().parent / "assets"
#: The page's script and style sheet, copied into every module's folder: a SCO then needs
#: nothing outside its folder, and LMSs that unpack SCOs apart still run them.
SCO_FILES = ("sco.css", "sco.js")
_MEDIA_SRC = re.compile(r'(\ssrc=")/media/([^/"]+)/([^/"]+)/([^"]+)(")')
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class PackageError(ValueError):
    """The package cannot be built as asked (nothing to put in it, or a broken manifest)."""


@dataclass
class _Files:
    """What goes into the zip: path inside the package -> bytes."""

    data: dict[str, bytes] = field(default_factory=dict)

    def add(self, name: str, content: bytes | str) -> None:
        self.data[name] = content.encode("utf-8") if isinstance(content, str) else content


def answer_key(question: Question, language: str) -> dict[str, Any]:
    """What the package's script needs to grade one question and explain it, as JSON data.

    The same rules as `app.quizzes.grading`: fractions per option, accepted texts with `*`
    wildcards, numeric intervals, matching rows -> choice ids, accepted texts per gap.
    """
    key: dict[str, Any] = {"id": question.id, "type": str(question.type)}
    if question.general_feedback:
        key["general"] = str(
            markup(question.general_feedback, question.general_feedback_format, language)
        )
    key["right"] = [str(text) for text in right_answers(question, language)]
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE, QuestionType.MULTIPLE_CHOICE):
        key["options"] = {
            o.id: {
                "fraction": o.fraction,
                "feedback": str(markup(o.feedback, o.feedback_format, language))
                if o.feedback
                else "",
            }
            for o in question.options
        }
    elif kind is QuestionType.SHORT_ANSWER:
        key["answers"] = [
            {
                "text": a.text,
                "fraction": a.fraction,
                "feedback": str(markup(a.feedback, a.feedback_format, language))
                if a.feedback
                else "",
            }
            for a in question.answers
        ]
    elif kind is QuestionType.NUMERICAL:
        key["numeric"] = [
            {
                "value": a.value,
                "tolerance": abs(a.tolerance or 0.0),
                "fraction": a.fraction,
                "feedback": str(markup(a.feedback, a.feedback_format, language))
                if a.feedback
                else "",
            }
            for a in question.numeric
        ]
    elif kind is QuestionType.MATCHING:
        key["rows"] = {p.id: choice_id(p.answer) for p in question.pairs if not p.is_distractor}
        key["choices"] = [choice_id(text) for text in matching_choices(question)]
    elif kind is QuestionType.GAP_FILL:
        key["gaps"] = {g.id: list(g.answers) for g in question.gaps}
    return key


def _local_media(html: str, module: Module, files: _Files, folder: str) -> str:
    """Point the module's images at copies inside the package (only files of its media folder)."""

    def swap(match: re.Match[str]) -> str:
        course_id, module_id, name = match.group(2), match.group(3), match.group(4)
        if (course_id, module_id) != (module.course_id, module.id) or module.media_dir is None:
            return match.group(0)
        source = (module.media_dir / name).resolve()
        root = module.media_dir.resolve()
        if not source.is_relative_to(root) or not source.is_file():
            return match.group(0)
        relative = source.relative_to(root).as_posix()
        files.add(f"{folder}/media/{relative}", source.read_bytes())
        return f"{match.group(1)}media/{relative}{match.group(5)}"

    return _MEDIA_SRC.sub(swap, html)


def _audio(course: Course, module: Module, files: _Files, folder: str) -> dict[str, Any]:
    """Copy each built chapter (MP3, captions) and return what the page shows per chapter."""
    store = Store(current_app.config["MEDIA_DIR"])
    chapters: dict[str, Any] = {}
    for chapter in module_audio(course, module).chapters:
        if not chapter.available or not _SAFE_NAME.match(chapter.id):
            continue
        files.add(
            f"{folder}/audio/{chapter.id}.mp3", store.section_path(chapter.key, ".mp3").read_bytes()
        )
        files.add(
            f"{folder}/audio/{chapter.id}.vtt", store.section_path(chapter.key, ".vtt").read_bytes()
        )
        timings = store.read_timings(chapter.key)
        chapters[chapter.id] = {
            "src": f"audio/{chapter.id}.mp3",
            "captions": f"audio/{chapter.id}.vtt",
            "duration": chapter.duration,
            "sentences": [
                {"start": s["start"], "end": s["end"], "text": s["display"]}
                for s in timings.get("sentences", [])
            ],
        }
    return chapters


def _pdf(
    course: Course, module: Module, lang: str, files: _Files, folder: str, render: bool
) -> str | None:
    """Copy the module's PDF (rendering it once if asked and not built); its name, or None."""
    job = module_job(course, module.id, lang, site_base_url())
    if job is None:
        return None
    artefact = ensure_artefact(job) if render else find_artefact(job)
    if artefact is None:
        return None
    name = f"{slugify(module.title) or module.id}.pdf"
    files.add(f"{folder}/{name}", artefact.path.read_bytes())
    return name


def _module_sco(
    course: Course, module: Module, lang: str, number: int, files: _Files, render_pdf: bool
) -> Sco:
    """Write one module's folder into the package and describe it as a SCO."""
    if not VALID_ID.match(module.id):
        raise PackageError(f"unsafe module id {module.id!r}")
    folder = module.id
    before = set(files.data)
    audio = _audio(course, module, files, folder)
    pdf_name = _pdf(course, module, lang, files, folder, render_pdf)
    # The attempt order of a fresh state; the script shuffles again per attempt when asked.
    state = new_state(module, seed=number)
    env = current_app.jinja_env
    with force_locale(lang):
        from flask_babel import gettext

        labels = {"answer": gettext("Your answer"), "gap": gettext("Gap")}
        questions = shown_questions(list(module.questions), state.order, module.language, labels)
        sections = [
            (s, Markup(_local_media(s.html, module, files, folder))) for s in module.sections
        ]
        data = {
            "course": course.id,
            "module": module.id,
            "language": module.language,
            "passMark": module.quiz.pass_mark,
            "shuffle": module.quiz.shuffle,
            "readingSections": [s.id for s in module.reading_sections],
            "questions": [answer_key(q, module.language) for q in module.questions],
            "audio": audio,
            "words": {
                "right": gettext("Right"),
                "partly": gettext("Partly right"),
                "wrong": gettext("Wrong"),
                "rightAnswer": gettext("Right answer"),
                "score": gettext("Your score: %(score)s%%", score="{score}"),
                "best": gettext("Best score: %(score)s%%", score="{score}"),
                "passed": gettext("Passed: the pass mark is %(mark)s%%.", mark="{mark}"),
                "failed": gettext(
                    "Not passed yet: the pass mark is %(mark)s%%. Read the feedback and try again.",
                    mark="{mark}",
                ),
                "completed": gettext("Module completed."),
                "read": gettext(
                    "%(read)s of %(total)s sections read", read="{read}", total="{total}"
                ),
                "noLms": gettext(
                    "No learning management system found: your progress is not recorded."
                ),
                "resumed": gettext("Welcome back: you are where you left off."),
                "tryAgain": gettext("Try again"),
            },
        }
        html = env.get_template("scorm/sco.html").render(
            lang=lang,
            course=course,
            module=module,
            number=number,
            intro=Markup(_local_media(module.intro_html, module, files, folder)),
            sections=sections,
            questions=questions,
            graded=sum(1 for q in module.questions if q.is_graded),
            audio=audio,
            intro_id=INTRO_ID,
            pdf_name=pdf_name,
            duration=format_duration,
        )
    files.add(f"{folder}/index.html", html)
    for name in SCO_FILES:
        files.add(f"{folder}/{name}", (ASSETS / name).read_bytes())
    script = "window.ACADEMY_SCO = " + json.dumps(data, ensure_ascii=False, sort_keys=True) + ";\n"
    # `</` cannot close the script element it sits in, whatever a trainer wrote.
    files.add(f"{folder}/quiz.js", script.replace("</", "<\\/"))
    own = tuple(sorted(set(files.data) - before))
    return Sco(
        identifier=xml_id(f"m-{module.id}"),
        title=module.title,
        href=f"{folder}/index.html",
        files=(f"{folder}/index.html", *[n for n in own if n != f"{folder}/index.html"]),
        mastery_score=module.quiz.pass_mark if module.questions else None,
    )


@dataclass(frozen=True)
class Package:
    """A built package: its zip bytes, a file name to offer, and its SCOs."""

    data: bytes
    filename: str
    scos: tuple[Sco, ...]


def build_package(
    app: Flask | None,
    course: Course,
    module_id: str | None,
    lang: str,
    *,
    render_pdf: bool = False,
) -> Package:
    """The SCORM 1.2 zip of one visible module, or of every visible module of the course.

    :param render_pdf: render a module PDF that is not built yet (the CLI does; a request
        only packs the PDFs `flask content build` made).
    :raises PackageError: no such visible module, or the manifest breaks a SCORM 1.2 rule.
    """
    app = app or current_app
    files = _Files()
    entries = [(n, e) for n, e in enumerate(course.visible, 1) if module_id in (None, e.id)]
    if not entries:
        raise PackageError(f"no visible module {module_id!r} in {course.id}")
    scos = []
    with app.app_context():
        for number, entry in entries:
            found = course.module(entry.id, lang)
            if found is None:
                continue
            scos.append(_module_sco(course, found[0], lang, number, files, render_pdf))
    title = course.text(course.title, lang)
    if module_id:
        title = f"{title}: {scos[0].title}"
    identifier = f"academy-{course.id}-{module_id or 'course'}-{lang}"
    manifest = build_manifest(identifier, title, scos)
    problems = check_manifest(manifest, files.data)
    if problems:
        raise PackageError("; ".join(problems))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # The manifest first and at the root, where every LMS looks for it.
        archive.writestr("imsmanifest.xml", manifest)
        for name in sorted(files.data):
            # MP3s and PDFs are compressed already; deflating them again only costs time.
            method = zipfile.ZIP_STORED if name.endswith((".mp3", ".pdf")) else zipfile.ZIP_DEFLATED
            archive.writestr(name, files.data[name], compress_type=method)
    filename = f"{course.id}-{module_id or 'course'}-{lang}.scorm12.zip"
    return Package(data=buffer.getvalue(), filename=filename, scos=tuple(scos))
