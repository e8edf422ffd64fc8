"""One module per model backend."""
