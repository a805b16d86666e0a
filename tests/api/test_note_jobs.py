"""Note jobs on the arq worker: exports through the queue, and edits through the worker's own
collab server, which carries them to the node whose client holds the note and into search.

PostgreSQL + Redis (a deployment with a worker); the worker is a real arq `Worker` in burst mode.
The in-process queue of the embedded default is covered in test_note_content.py.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pypdf import PdfReader

from api.app import create_app
from jobs.catalog import append_note_text_job
from jobs.enqueue import ArqQueue
from storage.db import migrate
from tests.api.conftest import bearer, empty_database, make_settings, register, serve
from tests.api.test_note_content import SEED_TEXT, NoteEditor, _note, finished_export
from tests.jobs.burst import run_worker

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    # arq 0.28's Worker.close() still calls redis-py 5's deprecated close()
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: the web process and the worker share it (SQLite is one process's)."""
    asyncio.run(migrate(postgres_url))
    return postgres_url


@pytest.fixture
def overrides(redis_url: str, redis_prefix: str, tmp_path: Path) -> dict[str, Any]:
    """The environment the web process and the worker share."""
    return {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": redis_prefix,
        "STORAGE_URL": (tmp_path / "objects").as_uri(),
        "COLLAB_DATA_DIR": str(tmp_path / "data"),
        "COOKIE_SECURE": False,
    }


async def search(client: httpx.AsyncClient, headers: dict[str, str], word: str) -> list[str]:
    found = await client.get("/api/workbook/notes", params={"search": word}, headers=headers)
    assert found.status_code == 200, found.text
    return [note["id"] for note in found.json()["notes"]]


async def test_export_runs_on_the_arq_worker_and_is_polled(
    app_factory: Callable[..., Any], database_url: str, overrides: dict[str, Any]
) -> None:
    client: httpx.AsyncClient = await app_factory(**overrides)
    assert isinstance(client.app.state.services.jobs, ArqQueue)  # type: ignore[attr-defined]
    owner = bearer((await register(client, name="Owner"))["token"])
    note_id = await _note(client, owner)

    started = await client.get(
        f"/api/workbook/notes/{note_id}/export",
        params={"format": "pdf", "async": "true"},
        headers=owner,
    )
    assert started.status_code == 202, started.text
    pending = (await client.get(started.json()["statusUrl"], headers=owner)).json()
    assert pending["status"] == "pending"  # nothing runs it in the web process

    assert await run_worker(make_settings(database_url, **overrides)) == (1, 0)

    status = await finished_export(client, started.json()["statusUrl"], owner)
    assert status["status"] == "done", status
    download = await client.get(status["downloadUrl"], headers=owner)
    assert download.headers["content-type"] == "application/pdf"
    assert "café" in PdfReader(io.BytesIO(download.content)).pages[0].extract_text()


async def test_worker_edit_of_a_note_nobody_holds_is_stored_and_searchable(
    app_factory: Callable[..., Any], database_url: str, overrides: dict[str, Any]
) -> None:
    client: httpx.AsyncClient = await app_factory(**overrides)
    owner = bearer((await register(client, name="Owner"))["token"])
    note_id = await _note(client, owner)
    word = f"quokka{uuid.uuid4().hex[:6]}"
    async with ArqQueue(overrides["REDIS_URL"],
                        queue_name=f"{overrides['REDIS_PREFIX']}jobs") as queue:
        assert await queue.enqueue(append_note_text_job, note_id, f"{word} 🦘 transcribed", "test")

    assert await run_worker(make_settings(database_url, **overrides)) == (1, 0)

    # The worker's own server indexed the note when it unloaded it (at the latest on shutdown).
    assert await search(client, owner, word) == [note_id]
    content = (await client.get(f"/api/workbook/notes/{note_id}/content", headers=owner)).json()
    assert content["content"]["text"] == f"{SEED_TEXT}\n{word} 🦘 transcribed"


@pytest.mark.interop
async def test_worker_edit_reaches_the_client_of_another_node_over_redis_and_search(
    database_url: str, overrides: dict[str, Any]
) -> None:
    await empty_database(database_url)
    app = create_app(make_settings(database_url, **overrides))
    async with serve(app) as running:
        client: httpx.AsyncClient = running["client"]
        body = await register(client, name="Owner")
        owner = bearer(body["token"])
        note_id = await _note(client, owner)
        word = f"wombat{uuid.uuid4().hex[:6]}"
        editor = await NoteEditor.open(running["ws"].removesuffix("/notes"), note_id,
                                       body["token"])
        try:
            await editor.wait_text(SEED_TEXT)  # the web node holds the note now
            jobs = app.state.services.jobs
            assert isinstance(jobs, ArqQueue)
            assert await jobs.enqueue(append_note_text_job, note_id, f"{word} über", "test")

            assert await run_worker(make_settings(database_url, **overrides)) == (1, 0)

            # The edit crossed Redis from the worker to the web node, which synced its client.
            await editor.wait_text(f"{SEED_TEXT}\n{word} über")
        finally:
            await editor.close()
        assert await search(client, owner, word) == [note_id]
