"""The reliability suites run short in CI; `make soak` sets FERRY_SOAK=1 for the long form
(more kills, more load, longer runs)."""

from __future__ import annotations

import os

from tests.agents.conftest import start_ferry, weather_ferry

__all__ = ["SOAK", "start_ferry", "weather_ferry"]

SOAK = os.environ.get("FERRY_SOAK", "") == "1"
