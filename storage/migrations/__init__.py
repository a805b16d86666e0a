"""Alembic migrations for the storage schema (run through :func:`storage.db.migrate`)."""
