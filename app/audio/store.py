"""Where audio artefacts live under MEDIA_DIR, and the per-module manifests that index them.

Layout (all names made by us, never from a URL):

    audio/sections/<k[:2]>/<k>.mp3 | .json | .vtt   one chapter, k = hash of what made it
    audio/modules/<k[:2]>/<k>.mp3 | .vtt              a whole module with ID3 chapters, captions
    audio/courses/<k[:2]>/<k>.mp3 | .vtt              a whole course, modules in order, captions
    audio/index/<course>/<language>/<module>.json     manifest: chapter id -> artefact key
    audio/index/<course>/_course.<language>.json      the course file's manifest (module keys)

Views look a chapter up by ids in the catalogue, then its key in the manifest, and only then
build a path from that key (checked to be a hex digest).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from app.files import write_atomic

_KEY = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class Store:
    """The audio folder under MEDIA_DIR."""

    def __init__(self, media_dir: Path | str) -> None:
        self.root = Path(media_dir) / "audio"

    def section_path(self, key: str, suffix: str) -> Path:
        """Path of a chapter artefact (`.mp3`, `.json` timings, `.vtt` captions)."""
        if not _KEY.match(key) or suffix not in (".mp3", ".json", ".vtt"):
            raise ValueError(f"not an artefact key: {key!r}{suffix}")
        return self.root / "sections" / key[:2] / f"{key}{suffix}"

    def module_path(self, key: str, suffix: str = ".mp3") -> Path:
        """Path of a whole-module MP3 (or of its `.vtt` captions)."""
        if not _KEY.match(key) or suffix not in (".mp3", ".vtt"):
            raise ValueError(f"not an artefact key: {key!r}{suffix}")
        return self.root / "modules" / key[:2] / f"{key}{suffix}"

    def course_path(self, key: str, suffix: str = ".mp3") -> Path:
        """Path of a whole-course MP3 (or of its `.vtt` captions)."""
        if not _KEY.match(key) or suffix not in (".mp3", ".vtt"):
            raise ValueError(f"not an artefact key: {key!r}{suffix}")
        return self.root / "courses" / key[:2] / f"{key}{suffix}"

    def has_section(self, key: str) -> bool:
        """Whether a chapter's three files are all there (timings are written last)."""
        return all(self.section_path(key, s).is_file() for s in (".mp3", ".vtt", ".json"))

    def manifest_path(self, course_id: str, language: str, module_id: str) -> Path:
        """Path of a module's manifest; ids come from the catalogue and are checked anyway."""
        for part in (course_id, language, module_id):
            if not _ID.match(part):
                raise ValueError(f"not an id: {part!r}")
        return self.root / "index" / course_id / language / f"{module_id}.json"

    def read_manifest(self, course_id: str, language: str, module_id: str) -> dict[str, Any]:
        """A module's manifest, or an empty one when the module has no audio yet."""
        try:
            path = self.manifest_path(course_id, language, module_id)
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def write_manifest(
        self, course_id: str, language: str, module_id: str, data: dict[str, Any]
    ) -> None:
        """Replace a module's manifest atomically."""
        path = self.manifest_path(course_id, language, module_id)
        write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))

    def read_timings(self, key: str) -> dict[str, Any]:
        """A chapter's sentence timings (written by the build)."""
        return json.loads(self.section_path(key, ".json").read_text(encoding="utf-8"))

    def course_manifest_path(self, course_id: str, language: str) -> Path:
        """Path of a course file's manifest (a module id never starts with `_`)."""
        for part in (course_id, language):
            if not _ID.match(part):
                raise ValueError(f"not an id: {part!r}")
        return self.root / "index" / course_id / f"_course.{language}.json"

    def read_course_manifest(self, course_id: str, language: str) -> dict[str, Any]:
        """A course file's manifest, or an empty one before its first build."""
        try:
            path = self.course_manifest_path(course_id, language)
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def write_course_manifest(self, course_id: str, language: str, data: dict[str, Any]) -> None:
        """Replace a course file's manifest atomically."""
        path = self.course_manifest_path(course_id, language)
        write_atomic(path, json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8"))
