"""Storage fixtures: a migrated database per test, on SQLite and on PostgreSQL.

SQLite: one migrated template file per session, copied for each test. PostgreSQL: one database
of our own (from the session's ``pg_database_factory``), migrated once, truncated before
each test.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.db import Database, connect, migrate
from tests.databases import admin_sql, migrated

# Every other table hangs off these by ON DELETE CASCADE / SET NULL; for a handful of rows
# DELETE is much faster than TRUNCATE.
_EMPTY = "DELETE FROM users; DELETE FROM modules; DELETE FROM document_updates"


@pytest.fixture(scope="session")
def storage_pg_url(pg_database_factory: Callable[..., str]) -> str:
    return migrated(pg_database_factory("storage"))


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
    asyncio.run(admin_sql(url, _EMPTY))
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    async with connect(database_url) as db:
        yield db
