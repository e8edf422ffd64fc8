"""The run core's states: of a run (a classic run or a v2 response), of a step, of a tool call.

Every module that reads or writes a state names it from here, so a state is spelled once.
Both APIs show these states: the classic API as they are, the v2 API mapped (a run waiting
for the client's function outputs is a completed response; see `ferry.agents.v2.views`).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ACTIVE", "LIVE", "TERMINAL", "CallState", "RunStatus", "StepStatus"]


class RunStatus(StrEnum):
    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    """Waiting for the client's outputs of `function` calls (classic runs only)."""
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    EXPIRED = "expired"
    INCOMPLETE = "incomplete"


ACTIVE = frozenset(
    {RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION, RunStatus.CANCELLING}
)
"""Run states during which its conversation is busy (no second run, no new messages)."""
LIVE = frozenset({RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION})
"""States a client's cancel turns into `cancelling`, and an answer wakes."""
TERMINAL = frozenset(
    {
        RunStatus.COMPLETED,
        RunStatus.FAILED,
        RunStatus.CANCELLED,
        RunStatus.EXPIRED,
        RunStatus.INCOMPLETE,
    }
)


class StepStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CallState(StrEnum):
    """A tool call's fate. Only `pending` calls change; every other state is final."""

    PENDING = "pending"
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"
