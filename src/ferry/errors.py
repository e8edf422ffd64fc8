"""The root of Ferry's exceptions, and the whole tree.

Each part raises one subtree of its own, defined in that part's `errors.py` (a test keeps it
so). A foreign exception (a driver's, an SDK's, a transport's) is mapped into the tree at the
one boundary that meets it, and each protocol maps the tree to its wire errors in one module::

    FerryError
    ├── ConfigError                       a setting (flag, FERRY_*, ferry.toml) cannot be used
    ├── InstanceError                     a Ferry process cannot be served, started or found
    │   ├── InstanceNotRunning            no live instance recorded in the data folder
    │   ├── SpawnError                    a child `ferry` exited or did not listen in time
    │   └── BindError                     a port cannot be listened on
    ├── store.errors.StoreError           the database failed (drivers' errors mapped in
    │   │                                 store.backends)
    │   ├── StoreUnavailable              cannot be reached, busy, full: retry later
    │   └── SchemaError                   the schema cannot be brought to this version
    ├── queues.errors.QueueServiceError   a request the queue protocol refuses: one class per
    │                                     error code, with its status
    ├── queues.errors.QueueEndpointError  a queue service Ferry calls failed (azure-core,
    │   │                                 aiohttp and OSError mapped in
    │   │                                 queues.endpoints.remote; httpx in queues.client)
    │   ├── EndpointUnavailable           no answer, or ServerBusy: retry later
    │   ├── EndpointAuthRefused           401/403, or no token could be had
    │   ├── EndpointNotFound              404
    │   ├── EndpointConflict              409
    │   ├── EndpointRefused               any other refusal
    │   ├── EndpointProtocolError         an answer that cannot be read
    │   └── UnreachableQueueService       no client can be made for the URL
    ├── identity.errors.IdentityError     local identity (signing key, resources)
    │   └── InvalidToken                  a bearer token refused, with the reason
    ├── agents.errors.AgentsError         an agents API refusal: status + JSON code
    │   └── ... BadRequest, NotFound, Conflict, ServerError, ServiceUnavailable, ...
    ├── knowledge.errors.KnowledgeError   files and vector stores: code + message
    ├── runs.errors.RunsError             the run engine stops working on a run
    │   └── LeaseLost, CallNotPending, RunNotFound
    ├── models.errors.ModelError          a model backend failed: the run's last_error
    ├── tools.errors.ToolError            a tool that acts cannot (code, MCP, OpenAPI, ...)
    ├── functions.errors.FunctionsError   the function app or its host
    │   └── AppLoadError, HostConfigError, ConnectionSettingError, RouteError
    ├── deploy.errors.DeployError         `ferry up` / `ferry down`
    ├── dashboard.errors.ActionRefused   a dashboard action the service behind it refused
    └── cli.errors.CliError               a command's own failure
        └── DemoFailed

Who maps what to the client:

- `queues.wire.to_queue_error`: anything → QueueServiceError (StoreUnavailable → 503
  ServerBusy, any other StoreError or unexpected error → 500 InternalError).
- `agents.wire.to_agents_error`: anything → AgentsError with the same rule for the store
  (503 service_unavailable / 500 server_error); KnowledgeNotFound/Refused → 404/400,
  CallNotPending → 400; InvalidToken → 401 in `agents.auth`.
- `queues.auth.tokens`: InvalidToken → 401 InvalidAuthenticationInfo.
- `queues.endpoints.local`: QueueServiceError and StoreError → QueueEndpointError, so that a
  trigger sees the same family from Ferry's own store as from a remote service.
- The run engine turns ModelError and ToolError into the run's or call's error; the CLI
  prints any other FerryError as one line and exits 1 (`cli.main`).
"""

from __future__ import annotations

__all__ = [
    "BindError",
    "ConfigError",
    "FerryError",
    "InstanceError",
    "InstanceNotRunning",
    "SpawnError",
]


class FerryError(Exception):
    """Base class of every error Ferry raises on purpose."""


class ConfigError(FerryError):
    """A setting (flag, environment variable or ferry.toml entry) cannot be used."""


class InstanceError(FerryError):
    """A Ferry process (this one, a child, or one recorded in the data folder) cannot be
    served, started or found. Defined here because instance.py, spawn.py and serving.py
    are top-level modules with no part of their own."""


class InstanceNotRunning(InstanceError):
    """No Ferry instance is recorded as running with this data folder."""


class SpawnError(InstanceError):
    """A child Ferry process exited or did not start listening in time."""


class BindError(InstanceError):
    """A port cannot be listened on (taken, or not allowed)."""
