"""COLLAB_PERSIST_INTERVAL is the group-commit window of the live documents: an edit reaches the
database that long after it was applied (not at once, not only on unload)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import websockets
from pycrdt import Doc, Text

from api.app import create_app
from collab.protocol import SyncStep2, decode_message, encode_sync_step1, encode_update
from storage.db import connect
from storage.documents import DocumentLog
from tests.api.conftest import bearer, empty_database, make_settings, register, serve

WINDOW = 1.0  # the largest the setting allows


async def stored_probe(database_url: str, name: str) -> str:
    doc: Doc[Text] = Doc()
    doc["probe"] = probe = Text()
    async with connect(database_url) as db:
        for update in await DocumentLog(db).load(name):
            doc.apply_update(update)
    return str(probe)


@pytest.mark.parametrize("interval", [WINDOW, 0.01])
async def test_an_edit_is_stored_one_persist_interval_after_it_was_applied(
    database_url: str, tmp_path: Path, interval: float
) -> None:
    await empty_database(database_url)
    app = create_app(
        make_settings(
            database_url,
            COLLAB_DATA_DIR=str(tmp_path),
            COLLAB_PERSIST_INTERVAL=interval,
            COLLAB_UNLOAD_DELAY=600,  # the connection stays: no unload store either way
        )
    )
    async with serve(app) as running:
        client = running["client"]
        owner = await register(client)
        note_id = (
            await client.post(
                "/api/workbook/notes", json={"title": "Window"}, headers=bearer(owner["token"])
            )
        ).json()["note"]["id"]
        name = f"notes/{note_id}"
        async with websockets.connect(f"{running['ws']}/{note_id}?token={owner['token']}") as ws:
            doc: Doc[Text] = Doc()
            doc["probe"] = probe = Text()
            probe += "kept"
            await ws.send(encode_update(doc.get_update()))
            await ws.send(encode_sync_step1(Doc().get_state()))
            async with asyncio.timeout(10):  # the reply follows the update: it was applied
                while True:
                    frame = await ws.recv()
                    if isinstance(frame, bytes) and isinstance(decode_message(frame), SyncStep2):
                        break
            applied = time.monotonic()
            if interval == WINDOW:
                assert await stored_probe(database_url, name) == ""  # still in the window
            async with asyncio.timeout(10):
                while await stored_probe(database_url, name) != "kept":
                    await asyncio.sleep(0.02)
            waited = time.monotonic() - applied
    if interval == WINDOW:
        assert WINDOW / 2 <= waited <= WINDOW + 2, waited
    else:
        assert waited < WINDOW / 2
