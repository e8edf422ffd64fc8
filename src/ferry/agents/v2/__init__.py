"""The v2 agents API of azure-ai-projects 2.x: agents with versions, and the OpenAI Responses
and Conversations APIs, as views of the run core."""
