"""The composition root: the one place that builds Ferry's parts from the settings and
serves them (`ferry start`, `ferry functions`, `ferry serve …`, `ferry worker`).

The parts (queues, identity, agents, runs, functions, …) know nothing of each other's
construction; this package wires them: one queue locator for the functions host and the run
engine, the engine's `wake` handed to the agents API, the identity's issuer to the services
that take its tokens. See docs/architecture.md for the import rule it sits in.
"""
