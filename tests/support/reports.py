"""Lines a test wants in the run's summary (the fault suite's reconciliation, say), printed by
`pytest_terminal_summary` in tests/conftest.py whether or not output is captured."""

from __future__ import annotations

REPORTS: dict[str, list[str]] = {}


def report(section: str, line: str) -> None:
    REPORTS.setdefault(section, []).append(line)
    print(line)  # also in the test's own captured output (shown with -s or on failure)
