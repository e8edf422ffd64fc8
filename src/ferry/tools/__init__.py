"""The tool runtime's tools that act: code_interpreter, MCP servers, OpenAPI operations and
connected agents. Each is carried out by the run engine after the call is recorded."""
