"""The classic agents API (OpenAI Assistants v2 shapes): assistants, threads, messages, runs
and run steps, as views of the run core."""
