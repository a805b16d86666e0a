"""Jobs fixtures: the jobs tests' own migrated PostgreSQL database (documents named uniquely)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from storage.db import Database, connect
from storage.documents import DocumentLog
from tests.databases import migrated


@pytest.fixture(scope="session")
def migrated_pg_url(pg_database_factory: Callable[..., str]) -> str:
    """The jobs tests' own database next to the session's, migrated once."""
    return migrated(pg_database_factory("jobs"))


@pytest.fixture
async def pg_database(migrated_pg_url: str) -> AsyncIterator[Database]:
    async with connect(migrated_pg_url) as database:
        yield database


@pytest.fixture
def pg_log(pg_database: Database) -> DocumentLog:
    return DocumentLog(pg_database)
