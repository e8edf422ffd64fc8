"""Alembic migrations of Ferry's schema (`ferry.store.migrate` runs them)."""
