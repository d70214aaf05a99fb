"""Fixtures for the Discord adapter tests: the fake Discord server and a controllable time source."""

from __future__ import annotations

import pytest

from tests.support.fake_discord import fake_discord  # noqa: F401  (the shared fixture)
from tests.support.fake_time import FakeTime


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()
