"""A client's items, taken in: outputs of pending function calls answer those calls, the
rest are stored as they are, in the order given.

A run that called a client-side `function` ended (that is the v2 way); its calls stay
pending until the client sends their outputs, in the next response (after
`previous_response_id`, or on the conversation) or as conversation items. An output for a
call nobody is waiting for is refused, and so is a response that leaves a call it should
answer unanswered, as the hosted service does: a model is never shown half an exchange.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from ferry.agents.errors import BadRequest
from ferry.agents.store import AgentStore
from ferry.runs.calls import Act, Answer, Call, calls_of
from ferry.runs.ledger import Ledger
from ferry.runs.status import CallState
from ferry.store.schema import runs
from ferry.types import Json

__all__ = ["approval_requests", "client_calls", "take_inputs"]


def _pending(
    conn: Connection, project: str, conversation_id: str | None, chain: Sequence[str]
) -> list[Call]:
    if conversation_id is not None:
        run_ids = list(
            conn.execute(
                select(runs.c.id).where(
                    runs.c.project == project, runs.c.conversation_id == conversation_id
                )
            ).scalars()
        )
    else:
        run_ids = list(chain)
    return [c for c in calls_of(conn, run_ids) if c.state == CallState.PENDING]


def client_calls(
    conn: Connection, project: str, *, conversation_id: str | None, chain: Sequence[str]
) -> dict[str, Call]:
    """The client-side calls still waiting for outputs in a conversation or a chain of
    responses, by call id."""
    return {
        call.call_id: call
        for call in _pending(conn, project, conversation_id, chain)
        if call.kind == "function"
    }


def approval_requests(
    conn: Connection, project: str, *, conversation_id: str | None, chain: Sequence[str]
) -> dict[str, Call]:
    """The calls waiting for the user's approval (`mcp_approval_request` items), by item id."""
    return {
        call.id: call
        for call in _pending(conn, project, conversation_id, chain)
        if call.payload == Act.APPROVAL
    }


def take_inputs(
    conn: Connection,
    ledger: Ledger,
    project: str,
    new: Sequence[Json],
    *,
    conversation_id: str | None,
    run_id: str | None,
    waiting: dict[str, Call],
    now: int,
    complete: bool,
    requests: dict[str, Call] | None = None,
) -> list[Json]:
    """Store `new` (answering `waiting` calls with their outputs), and return what was
    stored. With `complete`, every waiting call must be answered here."""
    given = {i["call_id"] for i in new if i["type"] == "function_call"}
    answered: set[str] = set()
    stored: list[Json] = []
    for index, item in enumerate(new):
        if item["type"] == "mcp_approval_response":
            request = (requests or {}).get(item["approval_request_id"])
            if request is None or run_id is None:
                raise BadRequest(
                    "No MCP approval request waits with id "
                    f"'{item['approval_request_id'][:80]}' (answer one in a response's input).",
                    param=f"input[{index}]",
                )
            ledger.settle_request(conn, request, item["approve"], now)
        if item["type"] == "function_call_output":
            call_id = item["call_id"]
            call = waiting.get(call_id)
            if call is not None and call_id not in answered:
                answer = Answer(call, item["output"], run_id or call.run_id, None, conversation_id)
                if run_id is None:  # a conversation item: it belongs to the call's run
                    answer = Answer(
                        call, item["output"], call.run_id, call.step_id, conversation_id
                    )
                for made in ledger.answer(conn, project, [answer], now, requeue=None):
                    stored.append({**made, "run_id": answer.run_id, "step_id": answer.step_id})
                answered.add(call_id)
                continue
            if call_id not in given:
                raise BadRequest(
                    f"No tool call found for function call output with call_id '{call_id[:80]}'.",
                    param=f"input[{index}]",
                )
        AgentStore.add_items(conn, project, [item], conversation_id=conversation_id, run_id=run_id)
        stored.append({**item, "run_id": run_id, "step_id": None})
    if complete:
        missing = sorted(set(waiting) - answered)
        if missing:
            raise BadRequest(
                f"No tool output found for function call '{missing[0][:80]}'.", param="input"
            )
    return [{**item, "conversation_id": conversation_id} for item in stored]
