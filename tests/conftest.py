"""Session-wide fixtures: the real services on loopback.

PostgreSQL and Redis run on loopback (README.md, "Quick start": the URLs and how to override
them); tests talk to them over real connections. When one is unreachable the test is skipped
with the URL it tried, except under CI (CI=true) where it fails: a CI run never silently skips
a service.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.databases import SQLITE_AND_POSTGRES, migrated, own_database

POSTGRES_ADMIN_URL = os.environ.get(
    "DATABASE_TEST_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        address = (parts.hostname or "127.0.0.1", parts.port or default_port)
        with socket.create_connection(address, 2):
            return True
    except OSError:
        return False


def require_service(name: str, url: str, default_port: int) -> None:
    """Skip (locally) or fail (CI=true) when a service this test needs is unreachable."""
    if _reachable(url, default_port):
        return
    message = f"{name} is not reachable at {url}; start it (README.md, Quick start)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


# The longest tests start first: with `pytest -n` (xdist hands out the first batch round robin)
# they then run side by side instead of one of them closing the run on a single worker.
_FIRST = ("docker", "slow", "browser", "interop")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        for position, marker in enumerate(_FIRST):
            if item.get_closest_marker(marker) is not None:
                return position
        return len(_FIRST)

    items.sort(key=rank)  # stable: the collection order within a rank is kept


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    require_service("PostgreSQL", POSTGRES_ADMIN_URL, 5432)
    with own_database(POSTGRES_ADMIN_URL, "collab_test") as url:
        yield url


@pytest.fixture(scope="session")
def pg_database_factory(postgres_url: str) -> Iterator[Callable[..., str]]:
    """`create(prefix)`: a fresh, empty database next to the session's; all dropped at its end."""
    with ExitStack() as stack:

        def create(prefix: str = "scratch") -> str:
            return stack.enter_context(own_database(postgres_url, prefix))

        yield create


@pytest.fixture(scope="session")
def migrated_pg_url(pg_database_factory: Callable[..., str]) -> str:
    """A database of our own next to the session's, migrated once; a package's conftest may
    override it to keep its tests in a database of their own."""
    return migrated(pg_database_factory("migrated"))


@pytest.fixture(params=SQLITE_AND_POSTGRES)
def migrated_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database per test: a fresh SQLite file, or `migrated_pg_url`."""
    if request.param == "postgres":
        return str(request.getfixturevalue("migrated_pg_url"))
    return migrated(f"sqlite+aiosqlite:///{tmp_path / 'migrated.db'}")


@pytest.fixture(scope="session")
def redis_url() -> str:
    require_service("Redis", REDIS_TEST_URL, 6379)
    return REDIS_TEST_URL


@pytest.fixture
def redis_prefix() -> str:
    """A unique key prefix per test, so tests sharing one Redis never see each other."""
    return f"test:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[object]:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()
