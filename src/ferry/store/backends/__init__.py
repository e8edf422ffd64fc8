"""Database backends: one module per engine, imported only when used."""
