"""Test databases of our own: empty PostgreSQL databases next to the session's, migrated ones,
and the parameters for running a test on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

# Parametrises a fixture over both backends; `-m "not postgres"` leaves out the second.
SQLITE_AND_POSTGRES: list[Any] = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def plain_dsn(url: str) -> str:
    """The SQLAlchemy URL as asyncpg takes it."""
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def admin_sql(url: str, sql: str) -> None:
    """One statement on a connection of its own (CREATE/DROP DATABASE refuse a transaction)."""
    import asyncpg

    conn = await asyncpg.connect(plain_dsn(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextmanager
def own_database(admin_url: str, prefix: str) -> Iterator[str]:
    """An empty database `<prefix>_<random>` next to `admin_url`'s, dropped (forcibly) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_sql(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(admin_sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def migrated(url: str) -> str:
    """`url`, after bringing its database to this build's schema."""
    from storage.db import migrate

    asyncio.run(migrate(url))
    return url
