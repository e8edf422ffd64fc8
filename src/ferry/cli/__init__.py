"""The `ferry` command: thin Typer commands over library functions."""
