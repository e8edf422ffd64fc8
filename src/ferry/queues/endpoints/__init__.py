"""Implementations of `ferry.queues.endpoint.QueueEndpoint`."""
