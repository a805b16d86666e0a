"""Jobs fixtures: one migrated PostgreSQL database for the jobs tests (documents named uniquely)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from storage.db import Database, connect, migrate
from storage.documents import DocumentLog


@pytest.fixture(scope="session")
def jobs_pg_url(pg_database_factory: Callable[..., str]) -> str:
    """A database of our own next to the session's, migrated once, dropped at the end."""
    url = pg_database_factory("jobs")
    asyncio.run(migrate(url))
    return url


@pytest.fixture
async def pg_database(jobs_pg_url: str) -> AsyncIterator[Database]:
    async with connect(jobs_pg_url) as database:
        yield database


@pytest.fixture
def pg_log(pg_database: Database) -> DocumentLog:
    return DocumentLog(pg_database)
