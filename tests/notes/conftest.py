"""Notes fixtures: a migrated database per test, a fresh SQLite file or one PostgreSQL database
shared by the notes tests (notes named uniquely)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.db import Database, connect, migrate
from tests.databases import SQLITE_AND_POSTGRES, migrated_url


@pytest.fixture(scope="session")
def notes_pg_url(pg_database_factory: Callable[..., str]) -> str:
    """A database of our own next to the session's, migrated once, dropped at the end."""
    url = pg_database_factory("notes")
    asyncio.run(migrate(url))
    return url


@pytest.fixture(params=SQLITE_AND_POSTGRES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return migrated_url(request, tmp_path, "notes_pg_url")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with connect(database_url) as db:
        yield db
