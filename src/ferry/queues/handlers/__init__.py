"""The queue protocol's operations, grouped by the resource they act on."""
