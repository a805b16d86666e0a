"""Notes fixtures: a migrated database per test, a fresh SQLite file or one PostgreSQL database
shared by the notes tests (notes named uniquely)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from storage.db import Database, connect
from tests.databases import migrated


@pytest.fixture(scope="session")
def migrated_pg_url(pg_database_factory: Callable[..., str]) -> str:
    """The notes tests' own database next to the session's, migrated once."""
    return migrated(pg_database_factory("notes"))


@pytest.fixture
async def database(migrated_database_url: str) -> AsyncIterator[Database]:
    async with connect(migrated_database_url) as db:
        yield db
