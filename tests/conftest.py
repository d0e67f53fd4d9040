"""Fixtures shared by the whole suite: a manual clock and an application over a store."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

import warmcase
from tests.clocks import ManualClock
from warmcase.app import Warmcase

pytest_plugins = ["tests.pg_server"]

# Stores are real and property tests touch them, so examples are slower than pure code.
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def clock() -> ManualClock:
    """The application's "now" and the store's recorded time, moved by hand."""
    return ManualClock()


@pytest.fixture
def app(clock: ManualClock) -> Iterator[Warmcase]:
    """An application over a fresh in-memory store."""
    application = warmcase.open("memory:", clock=clock)
    yield application
    application.close()
