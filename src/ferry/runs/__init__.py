"""The run engine: drives queued runs through model turns and tool calls, durably."""
