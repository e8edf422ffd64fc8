"""Templates `ferry init` copies: the app the seed describes, written for Ferry."""
