"""Errors a trainer can cause in content files, each tied to a line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake in a content file: where it is and what is wrong."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        """Format as `path:line: message`, the form editors and CI logs link to."""
        return f"{self.path}:{self.line}: {self.message}"


class ContentError(Exception):
    """One or more trainer mistakes found while parsing, as (line, message) pairs.

    Parsers raise it without knowing the file; the loader adds the path. Lines are
    1-based line numbers in the module file (not inside a block).
    """

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        self.problems = sorted(problems)
        super().__init__("; ".join(f"line {line}: {msg}" for line, msg in self.problems))

    @classmethod
    def at(cls, line: int, message: str) -> ContentError:
        """Build an error with a single problem at `line`."""
        return cls([(line, message)])

    def in_file(self, path: str) -> list[Problem]:
        """Attach `path` to every problem."""
        return [Problem(path, line, message) for line, message in self.problems]


class Collector:
    """Problems for one file, with a helper to add them at a line."""

    def __init__(self, path: str) -> None:
        """Collect problems of the file shown as `path` (relative to the content root)."""
        self.path = path
        self.problems: list[Problem] = []

    def add(self, line: int, message: str) -> None:
        """Record a problem at a 1-based line of the file."""
        self.problems.append(Problem(self.path, line, message))
