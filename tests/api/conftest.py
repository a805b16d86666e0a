"""API test fixtures: the real app over ASGI, on SQLite and on PostgreSQL.

`database_url` is module-scoped and parametrised, so every test module that uses `client` runs
once per database; the schema is migrated once per module and emptied before each test.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from sqlmodel import SQLModel
from starlette.applications import Starlette

import storage.models  # noqa: F401 - registers the tables on SQLModel.metadata
from api.app import create_app
from api.settings import Settings
from collab.transport import CollabWebSocketProtocol
from storage.db import connect, migrate

JWT_SECRET = "test-secret-0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse battery staple"
BASE_URL = "https://testserver"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "COLLAB_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": None,
        "STORAGE_URL": None,
        "COLLAB_AUTO_MIGRATE": False,
        "JWT_SECRET": JWT_SECRET,
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 64,
        "PASSWORD_HASH_PARALLELISM": 1,
        "RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT": "1000/900",
        "RATE_LIMIT_LOGIN_FAILURES_PER_IP": "1000/900",
        "RATE_LIMIT_REGISTER": "1000/900",
        "RATE_LIMIT_NOTES_READ": "1000/900",
        "RATE_LIMIT_NOTES_WRITE": "1000/900",
        "COLLAB_FRONTEND_DIR": "/nonexistent-frontend-dist",
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("api-db") / "api.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    asyncio.run(migrate(url))
    return url


async def empty_database(url: str) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    async with connect(url) as db, db.engine.begin() as conn:
        if db.dialect == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            await conn.execute(sa.text(f"TRUNCATE {quoted} CASCADE"))
        else:
            for name in tables:
                await conn.execute(sa.text(f'DELETE FROM "{name}"'))


AppFactory = Callable[..., Starlette]


class RunningApp:
    """Runs an app's lifespan in its own task: anyio scopes must exit where they were entered."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with self.app.router.lifespan_context(self.app):
            self._ready.set()
            await self._stop.wait()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())
        ready = asyncio.create_task(self._ready.wait())
        async with asyncio.timeout(60):
            await asyncio.wait({self._task, ready}, return_when=asyncio.FIRST_COMPLETED)
        if not self._ready.is_set():
            ready.cancel()
            await self._task  # raises the startup error

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            async with asyncio.timeout(60):
                await self._task


@pytest.fixture
async def app_factory(database_url: str, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Build and start apps with setting overrides; every started app is stopped afterwards."""
    await empty_database(database_url)
    running: list[tuple[RunningApp, httpx.AsyncClient]] = []

    async def start(**overrides: Any) -> httpx.AsyncClient:
        overrides.setdefault("COLLAB_DATA_DIR", str(tmp_path / "data"))
        app = create_app(make_settings(database_url, **overrides))
        runner = RunningApp(app)
        await runner.start()
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL, follow_redirects=False
        )
        running.append((runner, client))
        client.app = app  # type: ignore[attr-defined]
        return client

    yield start
    for runner, client in reversed(running):
        await client.aclose()
        await runner.stop()


@pytest.fixture
async def client(app_factory: Callable[..., Any]) -> httpx.AsyncClient:
    result = await app_factory()
    assert isinstance(result, httpx.AsyncClient)
    return result


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"


async def register(
    client: httpx.AsyncClient, *, email: str | None = None, name: str = "Test User"
) -> dict[str, Any]:
    response = await client.post(
        "/api/workbook/auth/register",
        json={"email": email or unique_email(), "password": PASSWORD, "name": name},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    client.cookies.clear()  # tests choose bearer or cookie auth explicitly
    return body


async def set_role(database_url: str, user_id: str, role: str) -> None:
    from storage.models import Role, User

    async with connect(database_url) as db, db.engine.begin() as conn:
        await conn.execute(
            sa.update(User).where(User.id == uuid.UUID(user_id)).values(role=Role(role))  # type: ignore[arg-type]
        )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def user_with_role(
    client: httpx.AsyncClient, database_url: str, role: str, *, name: str = "Role User"
) -> tuple[dict[str, str], dict[str, Any]]:
    """Register, change the role in the database, refresh to get a token carrying it."""
    user = await register(client, name=name)
    await set_role(database_url, user["user"]["id"], role)
    refreshed = await client.post(
        "/api/workbook/auth/refresh", json={"refreshToken": user["refreshToken"]}
    )
    assert refreshed.status_code == 200, refreshed.text
    client.cookies.clear()
    return bearer(refreshed.json()["token"]), user


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    """The app on a real uvicorn (port 0): its httpx client and the notes socket base URL."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="on", log_config=None,
        ws=CollabWebSocketProtocol,
    )
    server = uvicorn.Server(config)
    # A socket listening before the server starts: early connections wait in the backlog until
    # uvicorn accepts them after its lifespan startup, so no readiness polling is needed.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            # Healthy once started; on a loaded machine a check may first miss its deadline.
            for _ in range(20):
                health = await client.get("/api/health")
                if health.status_code == 200:
                    break
                await asyncio.sleep(0.5)
            assert health.status_code == 200, health.text
            yield {"client": client, "ws": f"ws://127.0.0.1:{port}/collab/notes"}
    finally:  # also when the test failed: a server left running would hang the session
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()


@pytest.fixture
async def live_app(database_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    """The real app on uvicorn over an emptied database: `serve`'s client and notes socket base
    URL, and the app itself."""
    await empty_database(database_url)
    app = create_app(
        make_settings(database_url, COOKIE_SECURE=False, COLLAB_DATA_DIR=str(tmp_path))
    )
    async with serve(app) as running:
        yield {**running, "app": app}
