"""The `file_search` tool: full-text search over the run's vector stores, with citations.

The model calls it with a `query`; the results are shown to it as passages, each under a
marker `【k:i†filename】` (k counts the run's searches, i the results of one), and it is asked
to copy the marker of what it uses. When the run's message is written, every marker of a real
result found in its text becomes a `file_citation` annotation naming the file, as the hosted
service's answers carry them.

Which stores are searched: the tool's own `vector_store_ids` (v2), else the run's
`tool_resources.file_search.vector_store_ids` (classic: the assistant's and the thread's,
merged when the run is created). With an embeddings model the search is hybrid
(`ferry.knowledge.search`); if the model fails, the words alone are searched.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time

from ferry.knowledge.embeddings import Embedder, from_vector
from ferry.knowledge.errors import KnowledgeError
from ferry.knowledge.search import VectorIndex, search_chunks
from ferry.knowledge.vectorstores import VectorStores
from ferry.runs.builtin import BuiltinTool, ToolResult
from ferry.runs.ledger import RunState
from ferry.store import Database
from ferry.types import Json

__all__ = ["FileSearch", "file_citations"]

log = logging.getLogger(__name__)

DEFAULT_RESULTS = 20
READY_WAIT = 60.0
_MARKER = re.compile(r"【(\d+):(\d+)†([^】\n]{0,256})】")


def _store_ids(state: RunState, tool: Json) -> list[str]:
    ids = tool.get("vector_store_ids") or []
    if not ids:
        resources = state.run.get("tool_resources") or {}
        ids = (resources.get("file_search") or {}).get("vector_store_ids") or []
    return list(dict.fromkeys(ids))


def _searches(items: list[Json]) -> list[Json]:
    return [i for i in items if i["type"] == "function_call" and i.get("tool") == "file_search"]


class FileSearch(BuiltinTool):
    kind = "file_search"

    def __init__(
        self, database: Database, stores: VectorStores, embedder: Embedder | None = None
    ) -> None:
        self.database = database
        self.stores = stores
        self.embedder = embedder
        self.index = VectorIndex()

    async def run(self, state: RunState, tool: Json, arguments: Json) -> ToolResult:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            return ToolResult("file_search needs a non-empty 'query' string.", {"results": []})
        ranking = tool.get("ranking_options") or {"ranker": "auto", "score_threshold": 0.0}
        limit = int(tool.get("max_num_results") or DEFAULT_RESULTS)
        details: Json = {"queries": [query], "ranking_options": ranking, "results": []}
        wanted = _store_ids(state, tool)
        usable = await self.stores.usable(state.project, wanted) if wanted else []
        if not usable:
            return ToolResult("No vector store is available to search.", details)
        await self._ready(usable)
        vector = None
        if self.embedder is not None:
            try:
                vector = from_vector((await self.embedder.embed([query]))[0])
                details["mode"] = "hybrid"
            except KnowledgeError as exc:  # the words still find what they can
                log.warning("file_search falls back to full-text: %s", exc.message)
                details["mode"] = "full_text"
        hits = await search_chunks(
            self.database,
            state.project,
            usable,
            query,
            limit=limit,
            score_threshold=float(ranking.get("score_threshold") or 0.0),
            query_vector=vector,
            index=self.index,
        )
        await self.stores.touch(state.project, usable)
        search = len(_searches(state.own))
        names: dict[str, str] = {}
        results = []
        passages = []
        for index, hit in enumerate(hits):
            if hit.file_id not in names:
                names[hit.file_id] = await self.stores.filename(hit.file_id) or hit.file_id
            marker = f"【{search}:{index}†{names[hit.file_id]}】"
            results.append(
                {
                    "file_id": hit.file_id,
                    "file_name": names[hit.file_id],
                    "score": round(hit.score, 6),
                    "content": hit.text,
                    "marker": marker,
                }
            )
            passages.append(f"{marker}\n{hit.text}")
        details["results"] = results
        if not passages:
            return ToolResult(f"No passage of the files matches '{query}'.", details)
        output = (
            f"{len(passages)} passages found for '{query}'. Cite a passage by copying its "
            "marker.\n\n" + "\n\n".join(passages)
        )
        return ToolResult(output, details)

    async def _ready(self, store_ids: list[str]) -> None:
        """Files still being ingested (attached a moment ago, say) are waited for, up to
        `READY_WAIT` seconds, as the hosted service waits for a thread's store; past that,
        the search uses what is indexed."""
        deadline = time.monotonic() + READY_WAIT
        delay = 0.05
        while await self.stores.ingesting(store_ids) and time.monotonic() < deadline:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)

    def annotate(self, text: str, items: list[Json]) -> list[Json]:
        return file_citations(text, items)


def file_citations(text: str, items: list[Json]) -> list[Json]:
    """Annotations (in the core's shape) for the markers of real results in `text`."""
    results: dict[str, Json] = {}
    for item in _searches(items):
        for result in item.get("results") or []:
            results[result["marker"]] = result
    annotations = []
    for match in _MARKER.finditer(text):
        result = results.get(match.group(0))
        if result is None:
            continue
        annotations.append(
            {
                "type": "file_citation",
                "text": match.group(0),
                "start_index": match.start(),
                "end_index": match.end(),
                "file_id": result["file_id"],
                "filename": result["file_name"],
            }
        )
    return annotations
