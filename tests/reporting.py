"""Text a test wants at the end of the session's output (the soak's totals), even without -s.

The text travels as a user property of the test's report, so it reaches the end of the
session from pytest-xdist's workers too (`make test` runs the suite on two of them)."""

from __future__ import annotations

import pytest

SUMMARY = "tiktok_sync_summary"


def add_summary(item: pytest.Item, text: str) -> None:
    item.user_properties.append((SUMMARY, text))


def summary_of(report: pytest.TestReport) -> list[str]:
    return [str(value) for key, value in report.user_properties if key == SUMMARY]
