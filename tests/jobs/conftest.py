"""Jobs fixtures: one migrated PostgreSQL database for the jobs tests (documents named uniquely)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from storage.db import Database, connect, migrate
from storage.documents import DocumentLog


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def jobs_pg_url(postgres_url: str) -> Iterator[str]:
    """A database of our own next to the session's, migrated once, dropped at the end."""
    name = f"jobs_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    url = f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def pg_database(jobs_pg_url: str) -> AsyncIterator[Database]:
    async with connect(jobs_pg_url) as database:
        yield database


@pytest.fixture
def pg_log(pg_database: Database) -> DocumentLog:
    return DocumentLog(pg_database)
