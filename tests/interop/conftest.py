"""Interop fixtures: the real server as a process on a free port, and real npm clients.

* `server` — one `collab serve` for the whole session (embedded SQLite under a temp data dir);
  tests isolate themselves by creating their own users and notes.
* `server_factory` — servers a test owns (to SIGTERM, SIGKILL or restart them, or to run two
  nodes on one Redis); all of them are stopped at teardown.
* `backend` — users, notes and shares through the server's REST API.
* `yjs` / `raw` — factories of Node client processes, all closed at teardown.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from backends import JWT_SECRET, Note, RestBackend
from nodeclients import RawClient, YjsClient
from serverprocess import ServerFactory, ServerProcess, free_port

from tests.databases import own_database


def _server_env(data_dir: Path, **extra: str | None) -> dict[str, str]:
    env = {
        "COLLAB_ENV": "test",
        "COLLAB_DATA_DIR": str(data_dir),
        "JWT_SECRET": JWT_SECRET,
        "RATE_LIMITS_ENABLED": "false",
        "COOKIE_SECURE": "false",
        "COLLAB_LOG_LEVEL": "INFO",
        # Fast password hashing: the tests register many users.
        "PASSWORD_HASH_TIME_COST": "1",
        "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_PARALLELISM": "1",
    }
    env.update({key: value for key, value in extra.items() if value is not None})
    return env


def _argv(port: int) -> list[str]:
    collab = Path(sys.executable).with_name("collab")  # the console script of this venv
    return [str(collab), "serve", "--host", "127.0.0.1", "--port", str(port)]


def _make_server(
    tmp_path: Path, name: str, *, data_dir: Path | None = None, port: int | None = None,
    **env: str | None,
) -> ServerProcess:
    data_dir = data_dir or tmp_path / f"{name}-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    return ServerProcess(
        _argv(port),
        env=_server_env(data_dir, **env),
        port=port,
        log_path=tmp_path / f"{name}.log",
    )


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("interop-server")
    # Documents unload as soon as their last client leaves, so "everybody left, somebody comes
    # back" really goes through the store and the single-flight load.
    process = _make_server(tmp_path, "shared", COLLAB_UNLOAD_DELAY="0")
    process.start()
    try:
        yield process
    finally:
        process.terminate()


# Small limits, set through the documented environment variables, so the limit close codes are
# cheap to reach: 4429 (connections per user), 4413 (document size), 1013 (message rate).
LIMITS = {
    "COLLAB_MAX_CONNECTIONS_PER_USER": "3",
    "COLLAB_MAX_DOCUMENT_BYTES": str(64 * 1024),
    "COLLAB_MAX_MESSAGES_PER_SECOND": "20",
    "COLLAB_MESSAGE_BURST": "40",
}


@pytest.fixture(scope="session")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp_path = tmp_path_factory.mktemp("interop-limited")
    process = _make_server(tmp_path, "limited", **LIMITS)
    process.start()
    try:
        yield process
    finally:
        process.terminate()


@pytest.fixture
def fresh_pg_url(postgres_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own (the server migrates it), dropped after."""
    with own_database(postgres_url, "interop") as url:
        yield url


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    made: list[ServerProcess] = []

    def make(
        name: str = "server", *, data_dir: Path | None = None, port: int | None = None,
        start: bool = True, **env: str | None,
    ) -> ServerProcess:
        process = _make_server(tmp_path, name, data_dir=data_dir, port=port, **env)
        made.append(process)
        if start:
            process.start()
        return process

    try:
        yield make
    finally:
        for process in made:
            if process.running:
                process.terminate()


@pytest.fixture
async def backend(server: ServerProcess) -> AsyncIterator[RestBackend]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=20) as http:
        yield RestBackend(http)


@pytest.fixture
async def yjs() -> AsyncIterator[Callable[[str], Awaitable[YjsClient]]]:
    clients: list[YjsClient] = []

    async def make(label: str) -> YjsClient:
        client = YjsClient(label=label)
        clients.append(client)
        await client.start()
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
async def raw() -> AsyncIterator[Callable[[str], Awaitable[RawClient]]]:
    clients: list[RawClient] = []

    async def make(label: str) -> RawClient:
        client = RawClient(label=label)
        clients.append(client)
        await client.start()
        return client

    try:
        yield make
    finally:
        for client in clients:
            await client.close()


@pytest.fixture
async def note(backend: RestBackend, request: pytest.FixtureRequest) -> Note:
    owner = await backend.user(f"Owner {request.node.name[:40]}")
    return Note(owner=owner, id=await backend.note(owner))
