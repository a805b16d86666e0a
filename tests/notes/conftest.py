"""Notes fixtures: one migrated PostgreSQL database for the notes tests (notes named uniquely)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from storage.db import migrate


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def notes_pg_url(postgres_url: str) -> Iterator[str]:
    """A database of our own next to the session's, migrated once, dropped at the end."""
    name = f"notes_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
    url = f"{postgres_url.rsplit('/', 1)[0]}/{name}"
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
