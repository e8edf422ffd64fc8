"""The `mcp` tool: MCP servers' tools, called with the official SDK's client."""
