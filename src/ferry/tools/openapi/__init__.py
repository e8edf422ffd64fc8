"""The `openapi` tool: an OpenAPI spec's operations, called over HTTP."""
