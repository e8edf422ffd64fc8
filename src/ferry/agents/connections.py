"""The project's connections (`project_client.connections`), as far as Ferry has them: a
connection is a key set in Ferry's environment (`ferry.tools.connections`), so `GET
/connections/{name}` finds one exactly when `FERRY_CONNECTION_<NAME>` is set, and lists them
from the environment. Its id is what tools name it by (`connection_id`,
`project_connection_id`); its key is never shown."""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.routing import Route

from ferry.agents.errors import NotFound
from ferry.agents.http import Call, Endpoints
from ferry.agents.http import json_response as _json
from ferry.tools.connections import PREFIX, connection_variable
from ferry.types import Json

__all__ = ["ConnectionRoutes"]


def _view(project: str, name: str) -> Json:
    return {
        "name": name,
        "id": f"/subscriptions/local/resourceGroups/ferry/providers/Microsoft.CognitiveServices"
        f"/accounts/ferry/projects/{project}/connections/{name}",
        "type": "CustomKeys",
        "target": "",
        "isDefault": False,
        "credentials": {"type": "CustomKeys"},
        "metadata": {},
    }


class ConnectionRoutes:
    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints

    async def get_connection(self, call: Call) -> Response:
        name = call.id("connection_name")
        if not os.environ.get(connection_variable(name)):
            raise NotFound(
                f"Connection '{name[:80]}' not found (Ferry's connections are the "
                f"environment variables {PREFIX}<NAME>: set {connection_variable(name)})."
            )
        return _json(_view(call.project, name))

    async def list_connections(self, call: Call) -> Response:
        names = sorted(
            key.removeprefix(PREFIX).lower().replace("_", "-")
            for key, value in os.environ.items()
            if key.startswith(PREFIX) and value
        )
        return _json({"value": [_view(call.project, name) for name in names]})

    def operations(self) -> list[Route]:
        e = self.endpoints.wrap
        return [
            Route("/connections", e(self.list_connections), methods=["GET"]),
            Route("/connections/{connection_name}", e(self.get_connection), methods=["GET"]),
        ]
