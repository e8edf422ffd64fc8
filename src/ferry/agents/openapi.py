"""An OpenAPI 3.1 document for the agents API (both generations), built from the request
models, so that the API can be explored and fuzzed (schemathesis) without hand-kept YAML."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from ferry import __version__
from ferry.agents.classic.requests import (
    AssistantCreate,
    AssistantUpdate,
    MessageCreate,
    MessageUpdate,
    RunCreate,
    RunUpdate,
    ThreadAndRunCreate,
    ThreadCreate,
    ThreadUpdate,
    ToolOutputs,
)
from ferry.agents.knowledge import (
    FileBatchCreate,
    VectorStoreCreate,
    VectorStoreFileCreate,
    VectorStoreModify,
)
from ferry.agents.v2.requests import (
    AgentCreate,
    AgentPatch,
    ConversationCreate,
    ConversationUpdate,
    ItemsCreate,
    ResponseCreate,
    VersionCreate,
)
from ferry.types import Json

__all__ = ["document"]

_BASE = "/api/projects/{project}"
_OPERATIONS: list[tuple[str, str, str, type[BaseModel] | None, bool]] = [
    # path, method, operation id, body model, lists
    ("/assistants", "post", "createAgent", AssistantCreate, False),
    ("/assistants", "get", "listAgents", None, True),
    ("/assistants/{assistant_id}", "get", "getAgent", None, False),
    ("/assistants/{assistant_id}", "post", "updateAgent", AssistantUpdate, False),
    ("/assistants/{assistant_id}", "delete", "deleteAgent", None, False),
    ("/threads", "post", "createThread", ThreadCreate, False),
    ("/threads", "get", "listThreads", None, True),
    ("/threads/runs", "post", "createThreadAndRun", ThreadAndRunCreate, False),
    ("/threads/{thread_id}", "get", "getThread", None, False),
    ("/threads/{thread_id}", "post", "updateThread", ThreadUpdate, False),
    ("/threads/{thread_id}", "delete", "deleteThread", None, False),
    ("/threads/{thread_id}/messages", "post", "createMessage", MessageCreate, False),
    ("/threads/{thread_id}/messages", "get", "listMessages", None, True),
    ("/threads/{thread_id}/messages/{message_id}", "get", "getMessage", None, False),
    ("/threads/{thread_id}/messages/{message_id}", "post", "updateMessage", MessageUpdate, False),
    ("/threads/{thread_id}/runs", "post", "createRun", RunCreate, False),
    ("/threads/{thread_id}/runs", "get", "listRuns", None, True),
    ("/threads/{thread_id}/runs/{run_id}", "get", "getRun", None, False),
    ("/threads/{thread_id}/runs/{run_id}", "post", "updateRun", RunUpdate, False),
    ("/threads/{thread_id}/runs/{run_id}/cancel", "post", "cancelRun", None, False),
    (
        "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
        "post",
        "submitToolOutputs",
        ToolOutputs,
        False,
    ),
    ("/threads/{thread_id}/runs/{run_id}/steps", "get", "listRunSteps", None, True),
    ("/threads/{thread_id}/runs/{run_id}/steps/{step_id}", "get", "getRunStep", None, False),
    ("/connections", "get", "listConnections", None, False),
    ("/connections/{connection_name}", "get", "getConnection", None, False),
    # Files and vector stores (both generations; the v2 `openai` bases serve the same).
    ("/files", "post", "uploadFile", None, False),
    ("/files", "get", "listFiles", None, True),
    ("/files/{file_id}", "get", "getFile", None, False),
    ("/files/{file_id}", "delete", "deleteFile", None, False),
    ("/files/{file_id}/content", "get", "getFileContent", None, False),
    (
        "/containers/{container_id}/files/{file_id}/content",
        "get",
        "getContainerFileContent",
        None,
        False,
    ),
    ("/vector_stores", "post", "createVectorStore", VectorStoreCreate, False),
    ("/vector_stores", "get", "listVectorStores", None, True),
    ("/vector_stores/{vector_store_id}", "get", "getVectorStore", None, False),
    ("/vector_stores/{vector_store_id}", "post", "modifyVectorStore", VectorStoreModify, False),
    ("/vector_stores/{vector_store_id}", "delete", "deleteVectorStore", None, False),
    (
        "/vector_stores/{vector_store_id}/files",
        "post",
        "createVectorStoreFile",
        VectorStoreFileCreate,
        False,
    ),
    ("/vector_stores/{vector_store_id}/files", "get", "listVectorStoreFiles", None, True),
    ("/vector_stores/{vector_store_id}/files/{file_id}", "get", "getVectorStoreFile", None, False),
    (
        "/vector_stores/{vector_store_id}/files/{file_id}",
        "delete",
        "deleteVectorStoreFile",
        None,
        False,
    ),
    (
        "/vector_stores/{vector_store_id}/file_batches",
        "post",
        "createVectorStoreFileBatch",
        FileBatchCreate,
        False,
    ),
    (
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}",
        "get",
        "getVectorStoreFileBatch",
        None,
        False,
    ),
    (
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel",
        "post",
        "cancelVectorStoreFileBatch",
        None,
        False,
    ),
    (
        "/vector_stores/{vector_store_id}/file_batches/{batch_id}/files",
        "get",
        "listVectorStoreFileBatchFiles",
        None,
        True,
    ),
    # The v2 API: agents with versions, and the Responses and Conversations APIs.
    ("/agents", "post", "createAgentV2", AgentCreate, False),
    ("/agents", "get", "listAgentsV2", None, True),
    ("/agents/{agent_name}", "get", "getAgentV2", None, False),
    ("/agents/{agent_name}", "post", "updateAgentV2", VersionCreate, False),
    ("/agents/{agent_name}", "patch", "patchAgentV2", AgentPatch, False),
    ("/agents/{agent_name}", "delete", "deleteAgentV2", None, False),
    ("/agents/{agent_name}/versions", "post", "createAgentVersion", VersionCreate, False),
    ("/agents/{agent_name}/versions", "get", "listAgentVersions", None, True),
    ("/agents/{agent_name}/versions/{version}", "get", "getAgentVersion", None, False),
    ("/agents/{agent_name}/versions/{version}", "delete", "deleteAgentVersion", None, False),
    ("/openai/v1/responses", "post", "createResponse", ResponseCreate, False),
    ("/openai/v1/responses/{response_id}", "get", "getResponse", None, False),
    ("/openai/v1/responses/{response_id}", "delete", "deleteResponse", None, False),
    ("/openai/v1/responses/{response_id}/cancel", "post", "cancelResponse", None, False),
    ("/openai/v1/responses/{response_id}/input_items", "get", "listInputItems", None, True),
    ("/openai/v1/conversations", "post", "createConversation", ConversationCreate, False),
    ("/openai/v1/conversations/{conversation_id}", "get", "getConversation", None, False),
    (
        "/openai/v1/conversations/{conversation_id}",
        "post",
        "updateConversation",
        ConversationUpdate,
        False,
    ),
    ("/openai/v1/conversations/{conversation_id}", "delete", "deleteConversation", None, False),
    ("/openai/v1/conversations/{conversation_id}/items", "post", "addItems", ItemsCreate, False),
    ("/openai/v1/conversations/{conversation_id}/items", "get", "listItems", None, True),
    (
        "/openai/v1/conversations/{conversation_id}/items/{item_id}",
        "get",
        "getItem",
        None,
        False,
    ),
    (
        "/openai/v1/conversations/{conversation_id}/items/{item_id}",
        "delete",
        "deleteItem",
        None,
        False,
    ),
]

_ERROR = {
    "description": "error",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {
                    "error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    }
                },
            }
        }
    },
}


def _parameters(path: str, lists: bool) -> list[Json]:
    names = ["project"] + [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    parameters: list[Json] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]
    parameters.append({"name": "api-version", "in": "query", "schema": {"type": "string"}})
    if lists:
        parameters += [
            {"name": "limit", "in": "query", "schema": {"type": "integer"}},
            {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
            {"name": "after", "in": "query", "schema": {"type": "string"}},
            {"name": "before", "in": "query", "schema": {"type": "string"}},
        ]
    return parameters


_REF = "#/components/schemas/{model}"

_UPLOAD: Json = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string"},
                    "filename": {"type": "string"},
                },
            }
        }
    },
}


@cache
def document() -> Json:
    paths: dict[str, Json] = {}
    schemas: dict[str, Json] = {}
    for path, method, operation_id, model, lists in _OPERATIONS:
        operation: Json = {
            "operationId": operation_id,
            "parameters": _parameters(path, lists),
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "the object", "content": {"application/json": {}}},
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
            },
        }
        if model is not None:
            # Nested models go to components, where every body's references can find them.
            schema = model.model_json_schema(ref_template=_REF)
            schemas.update(schema.pop("$defs", {}))
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        if operation_id == "uploadFile":
            operation["requestBody"] = _UPLOAD
        paths.setdefault(_BASE + path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ferry agents API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
