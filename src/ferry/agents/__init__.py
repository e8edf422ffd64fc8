"""The agent service: the agents (assistants) REST API and the objects it keeps."""
