"""Figures tests want in every run's output (tests/conftest.py prints them at the end)."""

from __future__ import annotations

# A plain module, imported the same way by conftest and the tests, so both see one list.
TERMINAL_REPORT: list[str] = []
