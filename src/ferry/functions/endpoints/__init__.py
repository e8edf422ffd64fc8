"""Implementations of `ferry.functions.endpoint.QueueEndpoint`."""
