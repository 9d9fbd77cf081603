"""SCORM 1.2 packages: the manifest's structure, the files, the downloads, and a real run.

The run: the package unzipped and served on loopback, loaded in Debian's Chromium inside a host
page where scorm-again 3.4.3 (npm, pinned) is the LMS's SCORM 1.2 API. The learner listens,
reads, leaves, comes back where they were, fails the quiz, passes it; the test reads what
scorm-again recorded.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from xml.etree import ElementTree as ET

import pytest
from flask import Flask

from app.accounts import services as accounts
from app.audio.build import build_module_audio
from app.content.catalog import catalogue_of
from app.content.model import Module
from app.content.questions import Question, QuestionType
from app.extensions import db
from app.quizzes.grading import score
from app.quizzes.services import choice_id
from app.scorm.manifest import ADLCP, IMSCP, check_manifest
from app.scorm.package import build_package
from tests.browser import chromium, serve
from tests.conftest import make_app
from tests.helpers import PASSWORD, login, register
from tests.node import require
from tests.sampler import axe_violations
from tests.test_accessibility import AXE_TAGS

CP = {"cp": IMSCP, "adlcp": ADLCP}

COURSE_YML = """\
id: pack
default_language: en
languages: [en]
title: {en: "Packaged course"}
description: {en: "A course written for the SCORM tests."}
eqf: 3-4
pass_mark: 60
lexicon: {en: {}}
"""

MODULE = """\
---
title: Channels in brief
eqf: 3
duration: 10
description: Two short sections and a quiz of every kind.
keywords: [channel]
outcomes:
  - Name a contact channel
---

A short introduction. It has two sentences.

## Channels {#channels}

A channel is a way to talk. A shop is one.

![A shop front](media/shop.svg)

## Touchpoints {#touchpoints}

A touchpoint is one moment of contact. A receipt is one.

## Test yourself {#quiz}

```quiz
1. A receipt is a touchpoint. {#q-tf outcome=o1}
   - (x) True
     > Correct: it is a moment of contact.
   - ( ) False
     > No: the customer holds it after paying.

2. Which are channels? (more than one answer) {#q-multi outcome=o1}
   - [x] A shop
     > Yes.
   - [ ] A receipt
     > No: a receipt is a touchpoint.
   - [x] A website
     > Yes.

3. A shared record sits in a [[CRM|customer relationship management]]. {#q-gap outcome=o1}
```

```gift
::q-short:: [tag:outcome:o1] Name a channel where the customer talks to a person. {
  =*shop*#Right: a shop has people.
  =phone#Right: the phone line.
}

::q-number:: [tag:outcome:o1] How many channels has a shop with a website and a phone? {#3:0.5}

::q-match:: [tag:outcome:o1] Match each item with its kind. {
  =A shop -> channel
  =A receipt -> touchpoint
}

::q-single:: [tag:outcome:o1] What links the channels? {
  ~More channels#No, more channels are more islands.
  =Shared data#Right: the channels share one record.
}
```
"""

SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    '<rect width="40" height="20" fill="#c60"/></svg>'
)


def write_course(root: Path) -> Path:
    """The packaged course: one module, short enough for espeak-ng to speak in seconds."""
    folder = root / "pack" / "01-brief"
    (folder / "media").mkdir(parents=True)
    (root / "pack" / "course.yml").write_text(COURSE_YML, encoding="utf-8")
    (folder / "en.md").write_text(MODULE, encoding="utf-8")
    (folder / "media" / "shop.svg").write_text(SVG, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def pack_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app on the packaged course, with its audio built by espeak-ng."""
    tmp_path = tmp_path_factory.mktemp("scorm")
    content = write_course(tmp_path / "content")
    app = make_app(tmp_path, content, TTS_ENGINES="espeak-ng")
    with app.app_context():
        course = catalogue_of(app).courses["pack"]
        module = course.module("brief", "en")
        assert module is not None and not catalogue_of(app).problems
        build_module_audio(app, course, module[0])
    return app


def module_of(app: Flask) -> Module:
    with app.app_context():
        found = catalogue_of(app).courses["pack"].module("brief", "en")
        assert found is not None
        return found[0]


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


# --- the package ------------------------------------------------------------------------------


@pytest.mark.audio
@pytest.mark.pdf
def test_cli_writes_a_scorm_12_package_whose_manifest_lists_every_file(
    pack_app: Flask, tmp_path: Path
) -> None:
    target = tmp_path / "brief.zip"
    result = pack_app.test_cli_runner().invoke(
        args=["content", "export-scorm", "pack", "brief", "-l", "en", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert "1 SCO(s), 4 audio file(s)" in result.output
    files = unzip(target.read_bytes())
    assert next(iter(files)) == "imsmanifest.xml"
    root = ET.fromstring(files["imsmanifest.xml"])
    # The structure SCORM 1.2 requires, read here without our own checker.
    assert root.tag == f"{{{IMSCP}}}manifest" and root.get("identifier")
    assert root.findtext("cp:metadata/cp:schema", namespaces=CP) == "ADL SCORM"
    assert root.findtext("cp:metadata/cp:schemaversion", namespaces=CP) == "1.2"
    organisations = root.find("cp:organizations", CP)
    assert organisations is not None
    organisation = organisations.find(
        f"cp:organization[@identifier='{organisations.get('default')}']", CP
    )
    assert organisation is not None
    (item,) = organisation.findall("cp:item", CP)
    assert item.findtext("cp:title", namespaces=CP) == "Channels in brief"
    assert item.findtext("adlcp:masteryscore", namespaces=CP) == "60"
    resources = {r.get("identifier"): r for r in root.iterfind("cp:resources/cp:resource", CP)}
    sco = resources[item.get("identifierref")]
    assert sco.get(f"{{{ADLCP}}}scormtype") == "sco" and sco.get("type") == "webcontent"
    assert sco.get("href") == "brief/index.html"
    listed = {f.get("href") for r in resources.values() for f in r.iterfind("cp:file", CP)}
    assert listed == set(files) - {"imsmanifest.xml"}
    identifiers = [e.get("identifier") for e in root.iter() if e.get("identifier")]
    assert len(identifiers) == len(set(identifiers))
    assert all(re.fullmatch(r"[A-Za-z_][\w.-]*", i or "") for i in identifiers)
    assert check_manifest(files["imsmanifest.xml"], files) == []
    # Self-contained: the audio (real MP3 frames), its captions, the image, the PDF, the scripts.
    for chapter in ("intro", "channels", "touchpoints"):
        assert files[f"brief/audio/{chapter}.mp3"][:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
        assert files[f"brief/audio/{chapter}.vtt"].startswith(b"WEBVTT")
    assert files["brief/media/shop.svg"].decode() == SVG
    pdf = next(name for name in files if name.endswith(".pdf"))
    assert files[pdf].startswith(b"%PDF-")
    page = files["brief/index.html"].decode()
    assert 'src="media/shop.svg"' in page and f'href="{Path(pdf).name}"' in page
    for name, body in files.items():
        if name.endswith((".html", ".js", ".css")):
            text = body.decode()
            # Nothing loads from a server: no absolute URL in a src/href, no fetch.
            assert not re.search(r'(src|href)="(https?:)?//', text), name
            assert "fetch(" not in text and "XMLHttpRequest" not in text, name


def test_a_broken_manifest_is_named_rule_by_rule() -> None:
    manifest = (
        f'<manifest xmlns="{IMSCP}" xmlns:adlcp="{ADLCP}" identifier="1bad">'
        "<metadata><schema>ADL SCORM</schema><schemaversion>1.3</schemaversion></metadata>"
        '<organizations default="org"><organization identifier="org"><title>T</title>'
        '<item identifier="i" identifierref="r"><title>I</title></item></organization>'
        '</organizations><resources><resource identifier="r" type="webcontent" '
        'adlcp:scormtype="asset" href="a.html"><file href="a.html"/><file href="gone.js"/>'
        "</resource></resources></manifest>"
    ).encode()
    problems = check_manifest(manifest, ["a.html", "extra.css"])
    assert problems == [
        "metadata says schema 'ADL SCORM' version '1.3', not ADL SCORM 1.2",
        "identifier '1bad' is not an XML NCName",
        "item 'i' launches 'r', which is no sco",
        "resource 'r' lists 'gone.js', which is not in the package",
        "'extra.css' is in the package but no resource lists it",
    ]


def test_a_course_package_has_one_sco_per_module(app: Flask) -> None:
    with app.app_context():
        course = catalogue_of(app).courses["trial"]
        package = build_package(app, course, None, "it")
    files = unzip(package.data)
    root = ET.fromstring(files["imsmanifest.xml"])
    items = root.findall("cp:organizations/cp:organization/cp:item", CP)
    assert [i.findtext("cp:title", namespaces=CP) for i in items] == [s.title for s in package.scos]
    assert [s.href for s in package.scos] == [
        "first-steps/index.html",
        "second-look/index.html",
        "deep-dive/index.html",
    ]
    assert check_manifest(files["imsmanifest.xml"], files) == []
    assert 'lang="it"' in files["second-look/index.html"].decode()
    assert "Mettiti alla prova" in files["second-look/index.html"].decode()  # Italian words


def test_only_trainers_download_packages(app: Flask) -> None:
    url = "/en/trainer/scorm/trial/first-steps.zip"
    guest = app.test_client()
    assert guest.get(url).status_code in (302, 401)
    learner = app.test_client()
    register(learner, "lea@example.org")
    assert learner.get(url).status_code == 403
    assert learner.get("/en/trainer/scorm/trial.zip").status_code == 403
    with app.app_context():
        accounts.create_user("tom@example.org", PASSWORD, "Tom", role="trainer")
        db.session.commit()
    trainer = app.test_client()
    login(trainer, "tom@example.org")
    page = trainer.get("/en/trainer/content/").data.decode()
    assert 'href="/en/trainer/scorm/trial/first-steps.zip"' in page
    response = trainer.get(url)
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert 'filename="trial-first-steps-en.scorm12.zip"' in response.headers["Content-Disposition"]
    assert "brief" not in unzip(response.data)  # this course's own module only
    assert "first-steps/index.html" in unzip(response.data)
    assert trainer.get("/en/trainer/scorm/trial/nope.zip").status_code == 404
    assert trainer.get("/en/trainer/scorm/nope.zip").status_code == 404
    whole = trainer.get("/en/trainer/scorm/trial.zip")
    assert whole.status_code == 200 and len(unzip(whole.data)) > len(unzip(response.data))


def test_cli_names_what_does_not_exist(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["content", "export-scorm", "nope"])
    assert result.exit_code == 1 and "no course 'nope'; courses: trial" in result.output
    result = runner.invoke(args=["content", "export-scorm", "trial", "nope"])
    assert result.exit_code == 1
    assert "no visible module 'nope' in trial; modules: first-steps, second-look" in result.output
    result = runner.invoke(args=["content", "export-scorm", "trial", "-l", "fr"])
    assert result.exit_code == 1 and "not written in 'fr'" in result.output


# --- a real run in Chromium, scorm-again as the LMS ----------------------------------------------

HOST = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>LMS</title><link rel="icon" href="data:,">
<script src="scorm12.js"></script>
<script>
  // The LMS side: scorm-again's SCORM 1.2 API, every SetValue logged, then the SCO in a frame.
  window.setLog = [];
  window.launch = function (initial) {
    window.API = new Scorm12API({ autocommit: false, lmsCommitUrl: false, logLevel: 5 });
    if (initial) { window.API.loadFromJSON(initial); }
    window.API.on("LMSSetValue.cmi.*", function (element, value) {
      window.setLog.push([element, value]);
    });
    window.finished = false;
    window.API.on("LMSFinish", function () { window.finished = true; });
    var frame = document.createElement("iframe");
    frame.name = "sco";
    frame.style.width = "1200px";
    frame.style.height = "700px";
    frame.src = "../package/brief/index.html";
    document.body.appendChild(frame);
  };
  window.closeSco = function () { document.querySelector("iframe").remove(); };
  window.recorded = function () {
    // What an LMS receives on the final commit, as scorm-again renders it.
    var cmi = window.API.renderCommitCMI(true).cmi;
    var core = cmi.core;
    return { status: core.lesson_status, raw: core.score.raw, min: core.score.min,
             max: core.score.max, session: core.session_time, total: core.total_time,
             location: core.lesson_location, exit: core.exit, suspend: cmi.suspend_data,
             finished: window.finished };
  };
</script></head><body></body></html>
"""


def seconds(timespan: str) -> float:
    """A CMITimespan (HHHH:MM:SS.SS) in seconds."""
    hours, minutes, rest = timespan.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


def right_answer(question: Question) -> dict[str, Any]:
    """Form values that answer a question fully right: field name -> value(s)."""
    name = f"q.{question.id}"
    kind = question.type
    if kind in (QuestionType.SINGLE_CHOICE, QuestionType.TRUE_FALSE):
        return {name: max(question.options, key=lambda o: o.fraction).id}
    if kind is QuestionType.MULTIPLE_CHOICE:
        return {name: [o.id for o in question.options if o.fraction > 0]}
    if kind is QuestionType.SHORT_ANSWER:
        return {name: "the corner shop"}  # matches *shop*
    if kind is QuestionType.NUMERICAL:
        return {name: "3,4"}  # the Italian decimal comma, inside 3 ± 0.5
    if kind is QuestionType.MATCHING:
        return {f"{name}.{p.id}": choice_id(p.answer) for p in question.pairs}
    return {f"{name}.{g.id}": f"  {g.answers[-1].upper()} " for g in question.gaps}


def sco_frame(page: Any) -> Any:
    """The SCO's frame in the host page, once its document has loaded."""
    handle = page.wait_for_selector("iframe[name=sco]")
    frame = handle.content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    return frame


def fill(frame: Any, values: dict[str, Any]) -> None:
    """Answer in the SCO's form as a learner would: click, tick, choose, type."""
    for name, value in values.items():
        if isinstance(value, list):
            for option in value:
                frame.check(f'input[name="{name}"][value="{option}"]')
        elif frame.locator(f'input[type=radio][name="{name}"]').count():
            frame.check(f'input[name="{name}"][value="{value}"]')
        elif frame.locator(f'select[name="{name}"]').count():
            frame.select_option(f'select[name="{name}"]', value)
        else:
            frame.fill(f'input[name="{name}"]', value)


@pytest.mark.browser
@pytest.mark.audio
@pytest.mark.pdf
def test_the_package_runs_in_scorm_again_reports_and_resumes(
    pack_app: Flask, tmp_path: Path
) -> None:
    dist = require("scorm-again") / "dist" / "scorm12.js"
    with pack_app.app_context():
        course = catalogue_of(pack_app).courses["pack"]
        package = build_package(pack_app, course, "brief", "en", render_pdf=True)
    site = tmp_path / "site"
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        archive.extractall(site / "package")
    (site / "lms").mkdir()
    shutil.copy(dist, site / "lms" / "scorm12.js")
    (site / "lms" / "host.html").write_text(HOST, encoding="utf-8")
    # A plain static server on loopback (with Range support, so the audio can seek).
    static = Flask("scorm-host", static_folder=str(site), static_url_path="")
    module = module_of(pack_app)
    by_id = {q.id: q for q in module.questions}

    with serve(static) as base, chromium("--autoplay-policy=no-user-gesture-required") as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        hosts: list[str] = []
        errors: list[str] = []
        page.on("request", lambda request: hosts.append(urlparse(request.url).hostname or ""))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        # First session: listen to a section, read another, leave halfway.
        page.goto(f"{base}/lms/host.html")
        page.evaluate("launch({core: {student_id: 'learner-7', student_name: 'Rossi, Ada'}})")
        frame = sco_frame(page)
        frame.wait_for_selector("[data-sco-progress]:has-text('0 of 2 sections read')")
        audio = frame.locator("[data-audio=channels] audio")
        frame.click("#channels > summary")
        duration = audio.evaluate(
            "a => a.readyState >= 1 ? a.duration : new Promise(r => a.addEventListener("
            "'loadedmetadata', () => r(a.duration), {once: true}))"
        )
        assert duration > 1  # a real MP3, decoded by Chromium
        # The read-along follows the audio: the second sentence lights up at its time.
        second = frame.locator("[data-audio=channels] .sco-sentence").nth(1)
        audio.evaluate(f"a => {{ a.currentTime = {second.get_attribute('data-start')} + 0.05; }}")
        frame.wait_for_selector("[data-audio=channels] .sco-sentence.sco-speaking")
        assert second.get_attribute("class") == "sco-sentence sco-speaking"
        audio.evaluate("a => { a.muted = true; a.currentTime = a.duration * 0.95; a.play(); }")
        frame.wait_for_selector("[data-sco-progress]:has-text('1 of 2 sections read')")
        frame.click("#touchpoints > summary")
        frame.locator("#touchpoints .sco-section-end").scroll_into_view_if_needed()
        frame.wait_for_selector("[data-sco-progress]:has-text('2 of 2 sections read')")
        page.evaluate("closeSco()")
        page.wait_for_function("window.finished")
        first = page.evaluate("recorded()")
        assert first["status"] == "incomplete"
        assert first["location"] == "touchpoints"
        assert first["exit"] == "suspend"
        assert re.fullmatch(r"\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?", first["session"])
        assert json.loads(first["suspend"]) == {
            "v": 1,
            "read": ["channels", "touchpoints"],
            "best": None,
            "last": None,
        }
        assert ["cmi.core.lesson_status", "incomplete"] in page.evaluate("setLog")

        # Relaunch: the LMS hands back what it stored; the SCO resumes where the learner was.
        page.goto(f"{base}/lms/host.html")
        relaunch = {
            "core": {
                "student_id": "learner-7",
                "student_name": "Rossi, Ada",
                "entry": "resume",
                "lesson_status": first["status"],
                "lesson_location": first["location"],
                "total_time": first["total"],
            },
            "suspend_data": first["suspend"],
        }
        page.evaluate("initial => launch(initial)", relaunch)
        frame = sco_frame(page)
        frame.wait_for_selector("[data-sco-status]:has-text('Welcome back')")
        assert frame.locator("#touchpoints").evaluate("d => d.open")
        assert frame.locator("#channels [data-read-mark]").is_visible()
        frame.wait_for_selector("[data-sco-progress]:has-text('2 of 2 sections read')")

        # A half-right attempt: the package's grade is the platform's own for the same answers.
        half = ["q-tf", "q-multi", "q-short"]
        answers: dict[str, Any] = {}
        for qid in half:
            answers.update(right_answer(by_id[qid]))
        answers["q.q-single"] = next(o.id for o in by_id["q-single"].options if o.fraction < 1)
        fill(frame, answers)
        frame.click("[data-sco-check]")
        shown = int(frame.get_attribute(".quiz-score", "data-score") or "-1")
        expected = score(
            module.questions,
            {
                "q-tf": answers["q.q-tf"],
                "q-multi": answers["q.q-multi"],
                "q-short": answers["q.q-short"],
                "q-single": answers["q.q-single"],
            },
        )
        assert shown == round(expected.total * 100) == 43  # 3 of 7 questions
        assert frame.locator("[data-question=q-single][data-outcome=wrong]").count() == 1
        assert "No, more channels are more islands." in frame.inner_text("[data-question=q-single]")
        assert "Not passed yet" in frame.inner_text("[data-sco-result]")
        status = page.evaluate("API.cmi.core.lesson_status")
        assert (status, page.evaluate("API.cmi.core.score.raw")) == ("failed", "43")

        # Try again, every answer right (typed with odd case and spaces, a decimal comma).
        frame.click("[data-sco-result] button")
        for question in module.questions:
            fill(frame, right_answer(question))
        frame.click("[data-sco-check]")
        assert frame.get_attribute(".quiz-score", "data-score") == "100"
        assert frame.locator("[data-outcome=right]").count() == len(module.questions)
        # The page as the learner leaves it (every section open, feedback shown) passes axe.
        frame.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        assert axe_violations(frame, AXE_TAGS) == []
        page.evaluate("closeSco()")
        page.wait_for_function("window.finished")
        final = page.evaluate("recorded()")
        log = page.evaluate("setLog")

    assert final["status"] == "passed"
    assert (final["raw"], final["min"], final["max"]) == ("100", "0", "100")
    assert re.fullmatch(r"\d{2,4}:\d{2}:\d{2}(\.\d{1,2})?", final["session"])
    assert final["location"] == "quiz" and final["exit"] == "suspend"
    # The LMS adds each session to the total it handed back at relaunch.
    assert seconds(final["total"]) == pytest.approx(
        seconds(first["session"]) + seconds(final["session"]), abs=0.02
    )
    assert json.loads(final["suspend"])["best"] == 100
    assert ["cmi.core.lesson_status", "failed"] in log and [
        "cmi.core.lesson_status",
        "passed",
    ] in log
    assert set(hosts) == {"127.0.0.1"}  # nothing but the loopback server
    assert errors == []
    print(f"SCORM run final CMI: {json.dumps(final, sort_keys=True)}")
