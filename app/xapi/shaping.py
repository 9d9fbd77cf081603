"""Stored progress statements as conformant xAPI 1.0.3 statements (pure: no Flask, no database).

Activity ids are IRIs under the site's base URL, one per content id:
`<base>xapi/activities/<course>[/<module>[/<section>]]`; the learner is an account on the site
(homePage = base URL, name = the learner's opaque xAPI key), or an mbox_sha1sum when the admin
chose to identify learners by e-mail. Definitions (names, descriptions) come from the content
as it is now, in every language the course has.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from app.content.model import Course, Module
from app.progress.rules import VERBS

VERSION = "1.0.3"
PLATFORM = "Omnichannel Academy"

VERB_NAMES = {iri: name for name, iri in VERBS.items()}

# ADL activity types: a course holds modules, a module holds sections (lessons).
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"
SECTION_TYPE = "http://adlnet.gov/expapi/activities/lesson"
ASSESSMENT_TYPE = "http://adlnet.gov/expapi/activities/assessment"
EQF_TYPE = "http://adlnet.gov/expapi/activities/objective"
EQF_NAMES = {"en": "EQF level {level}", "it": "Livello EQF {level}"}


@dataclass(frozen=True)
class StoredStatement:
    """What the statements table holds about one statement."""

    uuid: str
    learner: str
    verb: str
    course_id: str
    module_id: str | None
    section_id: str | None
    result: dict[str, Any] | None
    context: dict[str, Any]
    timestamp: datetime


def activity_base(base_url: str) -> str:
    """The prefix of every activity id of this site."""
    return base_url.rstrip("/") + "/xapi/activities/"


def activity_iri(
    base_url: str, course_id: str, module_id: str | None = None, section_id: str | None = None
) -> str:
    """The activity id of a course, a module or a section."""
    parts = [quote(p, safe="") for p in (course_id, module_id, section_id) if p]
    return activity_base(base_url) + "/".join(parts)


def parse_activity_iri(base_url: str, iri: str) -> tuple[str, ...] | None:
    """(course[, module[, section]]) from one of our activity ids, or None for any other IRI."""
    prefix = activity_base(base_url)
    if not iri.startswith(prefix):
        return None
    parts = tuple(unquote(p) for p in iri[len(prefix) :].split("/"))
    return parts if 1 <= len(parts) <= 3 and all(parts) else None


def eqf_iri(base_url: str, level: int) -> str:
    """The category activity of an EQF level."""
    return base_url.rstrip("/") + f"/xapi/eqf/{level}"


def extension_iri(base_url: str, name: str) -> str:
    """The IRI of one of our extensions (channel, audio position, ...)."""
    return base_url.rstrip("/") + f"/xapi/extensions/{name}"


def agent(base_url: str, opaque_key: str, email: str | None = None) -> dict[str, Any]:
    """The learner as an xAPI Agent: an account on this site, or an mbox_sha1sum if chosen."""
    if email:
        digest = hashlib.sha1(f"mailto:{email.strip().lower()}".encode()).hexdigest()  # noqa: S324
        return {"objectType": "Agent", "mbox_sha1sum": digest}
    return {
        "objectType": "Agent",
        "account": {"homePage": base_url.rstrip("/") + "/", "name": opaque_key},
    }


def iso_duration(seconds: float) -> str:
    """Seconds as an ISO 8601 duration (PT1H2M3.5S), as xAPI's result.duration wants."""
    centis = round(max(0.0, seconds) * 100)
    hours, rest = divmod(centis, 360000)
    minutes, rest = divmod(rest, 6000)
    out = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if rest or out == "PT":
        out += (f"{rest / 100:.2f}".rstrip("0").rstrip(".")) + "S"
    return out


def iso_timestamp(moment: datetime) -> str:
    """An aware datetime as an ISO 8601 UTC timestamp with milliseconds and a Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z"
    )


def iso_timestamp_us(moment: datetime) -> str:
    """An aware datetime as ISO 8601 UTC to the microsecond (for cursors that must be exact)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lang_map(texts: dict[str, str]) -> dict[str, str]:
    return {lang: text for lang, text in texts.items() if text}


def _module_versions(course: Course, module_id: str) -> dict[str, Module]:
    for entry in course.entries:
        if entry.id == module_id:
            return dict(entry.versions)
    return {}


def course_activity(base_url: str, course: Course) -> dict[str, Any]:
    """The course as an Activity with its definition."""
    return {
        "objectType": "Activity",
        "id": activity_iri(base_url, course.id),
        "definition": {
            "type": COURSE_TYPE,
            "name": _lang_map(course.title),
            "description": _lang_map(course.description),
        },
    }


def module_activity(base_url: str, course: Course, module_id: str) -> dict[str, Any]:
    """A module as an Activity, named in each language it is written in."""
    versions = _module_versions(course, module_id)
    definition: dict[str, Any] = {"type": MODULE_TYPE}
    if versions:
        definition["name"] = _lang_map({lang: m.title for lang, m in versions.items()})
        definition["description"] = _lang_map({lang: m.description for lang, m in versions.items()})
    return {
        "objectType": "Activity",
        "id": activity_iri(base_url, course.id, module_id),
        "definition": definition,
    }


def section_activity(
    base_url: str, course: Course, module_id: str, section_id: str
) -> dict[str, Any]:
    """A section as an Activity (a lesson; the quiz's section an assessment)."""
    versions = _module_versions(course, module_id)
    names, kind = {}, SECTION_TYPE
    for lang, module in versions.items():
        section = module.section(section_id)
        if section is not None:
            names[lang] = section.title
            if section.has_quiz and module.questions:
                kind = ASSESSMENT_TYPE
    definition: dict[str, Any] = {"type": kind}
    if names:
        definition["name"] = _lang_map(names)
    return {
        "objectType": "Activity",
        "id": activity_iri(base_url, course.id, module_id, section_id),
        "definition": definition,
    }


def _eqf_levels(course: Course | None, module_id: str | None) -> list[int]:
    if course is None:
        return []
    versions = _module_versions(course, module_id) if module_id else {}
    module = versions.get(course.default_language) or next(iter(versions.values()), None)
    eqf = module.eqf if module else course.eqf
    return list(range(eqf.low, eqf.high + 1))


def _bare(base_url: str, stored: StoredStatement) -> dict[str, Any]:
    """An activity whose course is no longer in the catalogue: its id and type only."""
    if stored.section_id:
        kind = SECTION_TYPE
    elif stored.module_id:
        kind = MODULE_TYPE
    else:
        kind = COURSE_TYPE
    iri = activity_iri(base_url, stored.course_id, stored.module_id, stored.section_id)
    return {"objectType": "Activity", "id": iri, "definition": {"type": kind}}


def _result(base_url: str, stored: StoredStatement) -> dict[str, Any]:
    result = dict(stored.result or {})
    out: dict[str, Any] = {}
    if "score" in result:
        scaled = float(result["score"])
        score: dict[str, Any] = {"scaled": round(scaled, 6)}
        if "max" in result and "raw" in result:
            score.update(raw=float(result["raw"]), min=0.0, max=float(result["max"]))
        out["score"] = score
    if stored.verb in ("passed", "failed"):
        out["success"] = stored.verb == "passed"
        out["completion"] = True
    if stored.verb == "completed":
        out["completion"] = True
    if "duration" in result and stored.verb in ("passed", "failed", "experienced"):
        out["duration"] = iso_duration(float(result["duration"]))
    if stored.verb == "progressed" and "listened" in result:
        # What this beacon adds: seconds listened since the last one, and where the player is.
        out["duration"] = iso_duration(float(result["listened"]))
        out["extensions"] = {
            extension_iri(base_url, "audio-position"): float(result.get("position", 0.0)),
            extension_iri(base_url, "audio-length"): float(result.get("duration", 0.0)),
        }
    return out


def conformant(
    stored: StoredStatement,
    *,
    base_url: str,
    actor: dict[str, Any],
    course: Course | None,
) -> dict[str, Any]:
    """One stored statement as a complete xAPI 1.0.3 statement.

    :param actor: the learner's Agent, from `agent`.
    :param course: the course as the catalogue has it now (None when it was removed).
    """
    if course is None:
        target = _bare(base_url, stored)
    elif stored.section_id and stored.module_id:
        target = section_activity(base_url, course, stored.module_id, stored.section_id)
    elif stored.module_id:
        target = module_activity(base_url, course, stored.module_id)
    else:
        target = course_activity(base_url, course)

    activities: dict[str, list[dict[str, Any]]] = {}
    course_ref = {"objectType": "Activity", "id": activity_iri(base_url, stored.course_id)}
    if stored.section_id and stored.module_id:
        parent = {
            "objectType": "Activity",
            "id": activity_iri(base_url, stored.course_id, stored.module_id),
        }
        activities["parent"] = [parent]
        activities["grouping"] = [course_ref]
    elif stored.module_id:
        activities["parent"] = [course_ref]
        activities["grouping"] = [course_ref]
    levels = _eqf_levels(course, stored.module_id)
    if levels:
        activities["category"] = [
            {
                "objectType": "Activity",
                "id": eqf_iri(base_url, level),
                "definition": {
                    "type": EQF_TYPE,
                    "name": {k: v.format(level=level) for k, v in EQF_NAMES.items()},
                },
            }
            for level in levels
        ]
    context: dict[str, Any] = {"platform": PLATFORM}
    if activities:
        context["contextActivities"] = activities
    language = (stored.context or {}).get("language")
    if language:
        context["language"] = language
    context["extensions"] = {
        extension_iri(base_url, "channel"): (stored.context or {}).get("channel", "web")
    }
    stamp = iso_timestamp(stored.timestamp)
    out: dict[str, Any] = {
        "id": stored.uuid,
        "actor": actor,
        "verb": {"id": VERBS[stored.verb], "display": {"en-US": stored.verb}},
        "object": target,
        "context": context,
        "timestamp": stamp,
        "stored": stamp,
        "authority": {
            "objectType": "Agent",
            "name": PLATFORM,
            "account": {"homePage": base_url.rstrip("/") + "/", "name": "platform"},
        },
        "version": VERSION,
    }
    result = _result(base_url, stored)
    if result:
        out["result"] = result
    return out
