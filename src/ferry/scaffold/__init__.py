"""Templates `ferry init` copies: the app the seed describes, written for Ferry, one folder
per agents API generation (`classic/`: azure-ai-projects 1.x; `v2/`: 2.x)."""
