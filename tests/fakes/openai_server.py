"""A small OpenAI-compatible chat-completions server for tests, reached over real HTTP.

It runs (Starlette under uvicorn) on its own thread and event loop, so both sync and async
tests can use it. Tests push replies onto a queue; each request takes the next one, and every
request is recorded. Both URL shapes are served: `/v1/chat/completions` (OpenAI) and
`/openai/deployments/{deployment}/chat/completions` (Azure OpenAI)::

    with FakeOpenAIServer() as server:
        server.push_tool_calls(("GetWeather", {"location": "Seattle, WA"}))
        server.push_text("It is sunny.")
        client = AsyncOpenAI(base_url=server.base_url, api_key="k")
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import json
import re
import threading
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.serving import ThreadServer

__all__ = ["FakeOpenAIServer", "RecordedRequest", "Reply"]

Json = dict[str, Any]


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    """The decoded JSON body (or the raw text when it is not JSON)."""
    deployment: str | None = None
    """Azure path only: the `{deployment}` part."""

    @property
    def messages(self) -> list[Json]:
        return list(self.body.get("messages", [])) if isinstance(self.body, dict) else []


@dataclass
class Reply:
    """One scripted answer. `status` ≠ 200 answers an OpenAI-style error body; `raw` (with
    `status` 200) answers those bytes as they are, for malformed-response tests."""

    text: str | None = None
    tool_calls: list[Json] = field(default_factory=list)
    finish_reason: str | None = None
    status: int = 200
    error: Json | None = None
    raw: str | None = None
    delay: float = 0.0
    usage: tuple[int, int] = (5, 7)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class _Delay:
    seconds: float


class FakeOpenAIServer(ThreadServer):
    name = "fake-openai"

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Reply | None = None
        """Answered when the queue is empty; None: a 500 saying no reply was queued."""
        self._queue: collections.deque[Reply | _Delay] = collections.deque()
        self._routes: list[tuple[str, Reply]] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.port = 0
        self.concepts: dict[str, str] = {}
        """Embeddings: word → the concept it counts as (synonyms share one), see `_embed`."""
        self.embedding_requests = 0
        self.embeddings_fail = False

    # -- addresses ---------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The root URL: Azure OpenAI's `azure_endpoint`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What an OpenAI client's `base_url` should be."""
        return f"{self.endpoint}/v1"

    # -- scripting ---------------------------------------------------------------------------

    def push(self, reply: Reply) -> None:
        with self._lock:
            self._queue.append(reply)

    def push_text(
        self,
        text: str,
        *,
        finish_reason: str = "stop",
        usage: tuple[int, int] = (5, 7),
        delay: float = 0.0,
    ) -> None:
        self.push(Reply(text=text, finish_reason=finish_reason, usage=usage, delay=delay))

    def push_tool_calls(
        self, *calls: tuple[str, Any] | Json, text: str | None = None, delay: float = 0.0
    ) -> list[str]:
        """Each call is `(name, arguments)` (a dict is sent as JSON, a str as it is) or a
        complete `{"id", "type", "function"}` object. Returns the call ids."""
        built = [_tool_call(call, next(self._ids)) for call in calls]
        self.push(Reply(text=text, tool_calls=built, finish_reason="tool_calls", delay=delay))
        return [str(call["id"]) for call in built]

    def push_error(
        self,
        status: int,
        message: str = "scripted error",
        *,
        code: str | None = None,
        type: str = "server_error",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        error = {"message": message, "type": type, "param": None, "code": code}
        self.push(Reply(status=status, error=error, headers=dict(headers or {})))

    def push_raw(self, body: str, *, status: int = 200) -> None:
        self.push(Reply(raw=body, status=status))

    def push_delay(self, seconds: float) -> None:
        """Wait this long before answering the next request (with the reply queued after)."""
        with self._lock:
            self._queue.append(_Delay(seconds))

    def push_for(self, key: str, reply: Reply) -> None:
        """Answer the next request whose body holds `key` (an agent's instructions, say)
        with `reply`, ahead of the queue: for runs that ask at once, in no set order."""
        with self._lock:
            self._routes.append((key, reply))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._routes.clear()
            self.requests.clear()
            self.default = None

    @property
    def pending(self) -> int:
        """Replies (and delays) not yet taken."""
        with self._lock:
            return len(self._queue)

    def _routed(self, raw: str) -> Reply | None:
        with self._lock:
            for index, (key, reply) in enumerate(self._routes):
                if key in raw:
                    del self._routes[index]
                    return reply
        return None

    def _next(self) -> Reply:
        delay = 0.0
        with self._lock:
            while self._queue:
                item = self._queue.popleft()
                if isinstance(item, Reply):
                    head: Reply | None = item
                    break
                delay += item.seconds
            else:
                head = self.default
        if head is None:
            head = Reply(
                status=500,
                error={"message": "fake OpenAI server: no reply queued", "type": "server_error"},
            )
        return dataclasses.replace(head, delay=head.delay + delay) if delay else head

    # -- HTTP --------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route(
                    "/openai/deployments/{deployment}/chat/completions",
                    self._chat,
                    methods=["POST"],
                ),
            ]
        )

    async def _chat(self, request: Request) -> Response:
        raw = (await request.body()).decode()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw
        deployment = request.path_params.get("deployment")
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                deployment=deployment,
            )
        )
        reply = self._routed(raw) or self._next()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.raw is not None:
            return Response(reply.raw, status_code=reply.status, media_type="application/json")
        if reply.status != 200:
            return JSONResponse(
                {"error": reply.error or {"message": "error"}},
                status_code=reply.status,
                headers=reply.headers,
            )
        model = deployment or (body.get("model") if isinstance(body, dict) else None) or "fake"
        completion_id = f"chatcmpl-fake{next(self._ids)}"
        if isinstance(body, dict) and body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _sse(_chunks(reply, completion_id, model, usage)),
                media_type="text/event-stream",
            )
        return JSONResponse(_completion(reply, completion_id, model))

    async def _embeddings(self, request: Request) -> Response:
        """A bag of concepts: each word (lowercased, mapped through `concepts`) adds 1 to
        one of 64 dimensions chosen by a stable hash, so texts sharing concepts are near."""
        self.embedding_requests += 1
        if self.embeddings_fail:
            return JSONResponse({"error": {"message": "embeddings are down"}}, status_code=500)
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": n, "embedding": self._embed(text)}
            for n, text in enumerate(texts)
        ]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "fake-embeddings"),
                "usage": {"prompt_tokens": 1, "total_tokens": 1},
            }
        )

    def _embed(self, text: str) -> list[float]:
        vector = [0.0] * 64
        for word in re.findall(r"\w+", text.lower()):
            concept = self.concepts.get(word, word)
            vector[zlib.crc32(concept.encode()) % 64] += 1.0
        return vector


def _tool_call(call: tuple[str, Any] | Json, number: int) -> Json:
    if isinstance(call, dict):
        return call
    name, arguments = call
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": f"call_fake{number:020d}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _usage(reply: Reply) -> Json:
    prompt, completion = reply.usage
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(reply: Reply, completion_id: str, model: str) -> Json:
    message: Json = {"role": "assistant", "content": reply.text, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.finish_reason or "stop",
                "logprobs": None,
            }
        ],
        "usage": _usage(reply),
    }


def _chunks(reply: Reply, completion_id: str, model: str, usage: bool) -> Iterable[Json]:
    """Text a word at a time; each tool call as a header piece then its arguments in two
    halves, keyed by index, as OpenAI streams them."""

    def chunk(delta: Json, finish: str | None = None) -> Json:
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    yield chunk({"role": "assistant", "content": ""})
    if reply.text:
        words = reply.text.split(" ")
        for i, word in enumerate(words):
            yield chunk({"content": word if i == len(words) - 1 else word + " "})
    for index, call in enumerate(reply.tool_calls):
        function = call["function"]
        head = {"name": function["name"], "arguments": ""}
        yield chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call["id"], "type": "function", "function": head}
                ]
            }
        )
        arguments = function["arguments"]
        half = len(arguments) // 2
        for part in (arguments[:half], arguments[half:]):
            if part:
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
    yield chunk({}, reply.finish_reason or "stop")
    if usage:
        yield {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "choices": [],
            "usage": _usage(reply),
        }


async def _sse(chunks: Iterable[Json]) -> AsyncIterator[str]:
    for item in chunks:
        yield f"data: {json.dumps(item)}\n\n"
    yield "data: [DONE]\n\n"
