"""Embeddings for hybrid retrieval, from an OpenAI-compatible `/embeddings` endpoint.

Set like the chat model: a `[embeddings]` table in ferry.toml (`model`, and `base_url` and
`api_key` unless `OPENAI_BASE_URL` / `OPENAI_API_KEY` give them), or `FERRY_EMBEDDINGS_MODEL`
with those variables. Without one, retrieval is full-text only. Vectors are stored as float32
bytes beside their chunks, normalised to unit length, so a dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import openai
from pydantic import BaseModel, ConfigDict, Field

from ferry.knowledge.errors import KnowledgeError

__all__ = ["EMBEDDINGS_FAILED", "Embedder", "EmbeddingsConfig", "from_vector", "to_vector"]

EMBEDDINGS_FAILED = "embeddings_failed"
_BATCH = 64


class EmbeddingsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key: str | None = None
    timeout: float = Field(default=60.0, gt=0)


def to_vector(values: Sequence[float]) -> bytes:
    """Unit-length float32 bytes (a zero vector stays zero)."""
    array = np.asarray(values, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return (array / norm if norm else array).tobytes()


def from_vector(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32)


class Embedder:
    def __init__(self, config: EmbeddingsConfig, environ: Mapping[str, str]) -> None:
        self.model = config.model
        self.client = openai.AsyncOpenAI(
            base_url=config.base_url or environ.get("OPENAI_BASE_URL"),
            api_key=config.api_key or environ.get("OPENAI_API_KEY") or "none",
            timeout=config.timeout,
        )

    @classmethod
    def from_settings(
        cls, config: EmbeddingsConfig | None, environ: Mapping[str, str]
    ) -> Embedder | None:
        model = environ.get("FERRY_EMBEDDINGS_MODEL")
        if config is None and model:
            config = EmbeddingsConfig(model=model)
        return None if config is None else cls(config, environ)

    def describe(self) -> str:
        return f"{self.model} at {self.client.base_url}"

    async def embed(self, texts: Sequence[str]) -> list[bytes]:
        """One vector per text, in order; `KnowledgeError` when the server fails."""
        vectors: list[bytes] = []
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            try:
                answer = await self.client.embeddings.create(model=self.model, input=batch)
            except openai.OpenAIError as exc:
                raise KnowledgeError(
                    EMBEDDINGS_FAILED,
                    f"the embeddings model '{self.model}' at {self.client.base_url} failed: {exc}",
                ) from None
            ordered = sorted(answer.data, key=lambda item: item.index)
            if len(ordered) != len(batch):
                raise KnowledgeError(
                    EMBEDDINGS_FAILED,
                    f"the embeddings model '{self.model}' returned {len(ordered)} vectors "
                    f"for {len(batch)} texts",
                )
            vectors += [to_vector(item.embedding) for item in ordered]
        return vectors

    async def close(self) -> None:
        await self.client.close()
