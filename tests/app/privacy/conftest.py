"""A simulated Twilio for the privacy tests: callers ring the line as they would in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.telephony.conftest import simulator_for


@pytest.fixture
async def sim(harness: Any) -> AsyncIterator[Any]:
    simulator = simulator_for(harness)
    yield simulator
    await simulator.close()
