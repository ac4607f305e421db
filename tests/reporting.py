"""Text a test wants at the end of the session's output (the soak's totals), even without -s."""

from __future__ import annotations

import pytest

_SUMMARIES = pytest.StashKey[list[str]]()


def add_summary(config: pytest.Config, text: str) -> None:
    config.stash.setdefault(_SUMMARIES, []).append(text)


def summaries(config: pytest.Config) -> list[str]:
    return config.stash.get(_SUMMARIES, [])
