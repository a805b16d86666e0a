"""Storage fixtures: a migrated database per test, on SQLite and on PostgreSQL.

SQLite: one migrated template file per session, copied for each test. PostgreSQL: one database
of our own (created next to the session's ``postgres_url``), migrated once, truncated before
each test.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from storage.db import Database, connect, migrate

# Every other table hangs off these by ON DELETE CASCADE / SET NULL; for a handful of rows
# DELETE is much faster than TRUNCATE.
_EMPTY = "DELETE FROM users; DELETE FROM modules; DELETE FROM document_updates"


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(_plain(url))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def pg_database_factory(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Creates fresh, empty PostgreSQL databases on demand; drops them at session end."""
    created: list[str] = []

    def create() -> str:
        name = f"storage_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(postgres_url, f'CREATE DATABASE "{name}"'))
        created.append(name)
        return f"{postgres_url.rsplit('/', 1)[0]}/{name}"

    yield create
    for name in created:
        asyncio.run(_admin(postgres_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def storage_pg_url(pg_database_factory: Callable[[], str]) -> str:
    url = pg_database_factory()
    asyncio.run(migrate(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("storage-template") / "template.db"
    asyncio.run(migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "storage.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("storage_pg_url")
    asyncio.run(_admin(url, _EMPTY))
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with connect(database_url) as db:
        yield db
