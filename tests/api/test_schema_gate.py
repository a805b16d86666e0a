"""The schema gate: no process serves (or works on) a database behind this build.

Each test gets an empty database of its own, on SQLite and on PostgreSQL. A server told not to
migrate refuses to start on it with a message naming `collab db upgrade`, starts once that ran
(or when COLLAB_AUTO_MIGRATE says to migrate), and `/api/health` reports the revision.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from api.app import create_app
from api.cli import EXIT_NOT_READY, main
from api.worker import open_worker_context
from storage.db import HEAD_REVISION, SchemaBehind, connect, downgrade, migrate
from tests.api.conftest import BASE_URL, PASSWORD, RunningApp, make_settings, unique_email
from tests.databases import SQLITE_AND_POSTGRES, own_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=SQLITE_AND_POSTGRES)
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: no tables, no `alembic_version`."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    with own_database(str(request.getfixturevalue("postgres_url")), "gate") as url:
        yield url


class Started:
    def __init__(self) -> None:
        self.running: list[tuple[RunningApp, httpx.AsyncClient]] = []

    async def app(self, url: str, tmp_path: Path, **overrides: Any) -> httpx.AsyncClient:
        overrides.setdefault("COLLAB_DATA_DIR", str(tmp_path / "data"))
        app = create_app(make_settings(url, **overrides))
        runner = RunningApp(app)
        await runner.start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        self.running.append((runner, client))
        return client


@pytest.fixture
async def started() -> AsyncIterator[Started]:
    holder = Started()
    yield holder
    for runner, client in reversed(holder.running):
        await client.aclose()
        await runner.stop()


async def sign_up(client: httpx.AsyncClient) -> int:
    response = await client.post(
        "/api/workbook/auth/register",
        json={"email": unique_email(), "password": PASSWORD, "name": "Gate"},
    )
    return response.status_code


def _env(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path, **extra: str) -> None:
    monkeypatch.setenv("COLLAB_ENV", "test")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("COLLAB_DATA_DIR", str(tmp_path / "data"))
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


async def test_the_app_refuses_an_empty_database_then_starts_after_db_upgrade(
    blank_url: str, tmp_path: Path, started: Started,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SchemaBehind, match=r"`collab db upgrade`") as refused:
        await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=False)
    assert refused.value.revision is None
    assert "empty database" in str(refused.value)

    _env(monkeypatch, blank_url, tmp_path)
    assert await asyncio.to_thread(main, ["db", "upgrade"]) == 0
    assert HEAD_REVISION in capsys.readouterr().out

    client = await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=False)
    health = await client.get("/api/health")
    assert health.status_code == 200, health.text
    assert health.json()["schema"] == {"revision": HEAD_REVISION, "expected": HEAD_REVISION}
    assert health.json()["checks"]["schema"]["status"] == "ok"
    assert await sign_up(client) == 201


async def test_an_older_revision_is_refused_too(
    blank_url: str, tmp_path: Path, started: Started
) -> None:
    await migrate(blank_url, "0002")
    with pytest.raises(SchemaBehind, match=r"revision 0002, but this build needs") as refused:
        await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=False)
    assert refused.value.revision == "0002"


async def test_auto_migrate_brings_an_empty_database_to_the_head(
    blank_url: str, tmp_path: Path, started: Started
) -> None:
    client = await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=True)
    assert (await client.get("/api/health")).json()["schema"]["revision"] == HEAD_REVISION
    assert await sign_up(client) == 201


async def test_health_is_503_when_the_schema_falls_behind_a_running_server(
    blank_url: str, tmp_path: Path, started: Started
) -> None:
    await migrate(blank_url)
    client = await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=False)
    await downgrade(blank_url, "0002")  # an old backup restored under a running node
    health = await client.get("/api/health")
    assert health.status_code == 503
    body = health.json()
    assert body["schema"] == {"revision": "0002", "expected": HEAD_REVISION}
    assert body["checks"]["schema"]["status"] == "error"
    assert "collab db upgrade" in body["checks"]["schema"]["message"]


async def test_a_revision_newer_than_this_build_is_served_and_reported(
    blank_url: str, tmp_path: Path, started: Started
) -> None:
    # A later build migrated the database during a rolling deploy: older nodes keep serving.
    await migrate(blank_url)
    async with connect(blank_url) as db, db.engine.begin() as conn:
        await conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    client = await started.app(blank_url, tmp_path, COLLAB_AUTO_MIGRATE=False)
    health = await client.get("/api/health")
    assert health.status_code == 200
    assert health.json()["schema"]["revision"] == "9999"
    assert "newer build" in health.json()["checks"]["schema"]["message"]


def run_collab(args: list[str], url: str, tmp_path: Path, **extra: str) -> tuple[int, str]:
    """`collab ...` as a process: a gate that lets it start would serve until the timeout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "COLLAB_"))}
    env.update(COLLAB_ENV="test", DATABASE_URL=url, COLLAB_DATA_DIR=str(tmp_path / "data"))
    env.update(extra)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=60,  # (a loaded CI machine)
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"collab {' '.join(args)} did not refuse; it ran for {exc.timeout} s")
    return done.returncode, done.stderr


def test_collab_serve_refuses_with_a_message_naming_db_upgrade(
    blank_url: str, tmp_path: Path
) -> None:
    status, err = run_collab(
        ["serve", "--port", "0"], blank_url, tmp_path, COLLAB_AUTO_MIGRATE="false"
    )
    assert status == EXIT_NOT_READY, err
    assert "`collab db upgrade`" in err
    assert "Traceback" not in err


def test_collab_serve_refuses_an_unreachable_database(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    status, err = run_collab(["serve", "--port", "0"], url, tmp_path)
    assert status == EXIT_NOT_READY, err
    assert "cannot reach the database" in err
    assert "Traceback" not in err


@pytest.mark.redis
def test_collab_worker_refuses_the_same_way(
    blank_url: str, tmp_path: Path, redis_url: str
) -> None:
    status, err = run_collab(
        ["worker"], blank_url, tmp_path, COLLAB_AUTO_MIGRATE="false", REDIS_URL=redis_url
    )
    assert status == EXIT_NOT_READY, err
    assert "`collab db upgrade`" in err


async def test_the_worker_start_up_applies_the_gate(blank_url: str, tmp_path: Path) -> None:
    # `arq api.worker.WorkerSettings` skips the command line: opening its context refuses.
    settings = make_settings(blank_url, COLLAB_DATA_DIR=str(tmp_path / "data"))
    with pytest.raises(SchemaBehind, match="`collab db upgrade`"):
        async with open_worker_context(settings):
            pass
    await migrate(blank_url)
    async with open_worker_context(settings) as context:
        assert context.documents is not None


async def test_the_worker_migrates_when_told(blank_url: str, tmp_path: Path) -> None:
    settings = make_settings(
        blank_url, COLLAB_DATA_DIR=str(tmp_path / "data"), COLLAB_AUTO_MIGRATE=True
    )
    async with open_worker_context(settings):
        pass
    async with connect(blank_url) as db, db.engine.connect() as conn:
        revision = (await conn.execute(sa.text("SELECT version_num FROM alembic_version")))
        assert revision.scalar() == HEAD_REVISION


def test_user_create_refuses_too(
    blank_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    _env(monkeypatch, blank_url, tmp_path, COLLAB_AUTO_MIGRATE="false")
    args = ["user", "create", "--email", "a@example.com", "--password", "long-enough-pw",
            "--name", "Ada"]
    assert main(args) == EXIT_NOT_READY
    assert "`collab db upgrade`" in capsys.readouterr().err
