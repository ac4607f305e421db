"""Fixtures: a real emulator on a free loopback port per test, and a client helper bound to it.

Tests talk HTTP to the running server exactly as a client would; nothing is patched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sync.emulator import Emulator, EmulatorConfig

from .helpers import Api

EmulatorFactory = Callable[..., Emulator]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """Start emulators with config overrides; qps defaults to unlimited unless a test sets it."""
    started: list[Emulator] = []

    def factory(**overrides: Any) -> Emulator:
        overrides.setdefault("qps", 0)
        emulator = Emulator(EmulatorConfig(**overrides))
        emulator.start()
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        errors = emulator.internal_errors()
        emulator.stop()
        assert not errors, errors[0]


@pytest.fixture
def emulator(make_emulator: EmulatorFactory) -> Emulator:
    return make_emulator()


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)
