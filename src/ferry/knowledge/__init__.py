"""Files, vector stores and the search over them (the file_search tool's knowledge)."""
