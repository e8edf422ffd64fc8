"""The agents suite's `ferry start` fixture, for the drop-in tests here."""

from __future__ import annotations

from tests.agents.conftest import start_ferry

__all__ = ["start_ferry"]
