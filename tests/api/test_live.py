"""The live notes socket through the real app on uvicorn: who may open `notes/<id>` and how
REST changes (delete, revoke) reach connected editors."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from api.app import create_app
from collab.protocol import SyncStep1, decode_message
from tests.api.conftest import empty_database, make_settings, register, serve


async def _first_frame(ws: ClientConnection) -> object:
    async with asyncio.timeout(10):
        frame = await ws.recv()
    assert isinstance(frame, bytes)
    return decode_message(frame)


async def _close_code(url: str, **kwargs: Any) -> int | None:
    async with websockets.connect(url, **kwargs) as ws:
        async with asyncio.timeout(10):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
    return closed.value.rcvd.code if closed.value.rcvd else None


async def test_note_socket_access(live_app: dict[str, Any]) -> None:
    client: httpx.AsyncClient = live_app["client"]
    owner = await register(client, name="Owner")
    reader = await register(client, name="Reader")
    stranger = await register(client, name="Stranger")
    auth = {"Authorization": f"Bearer {owner['token']}"}
    note = (await client.post("/api/workbook/notes", json={"title": "Live"}, headers=auth)).json()
    note_id = note["note"]["id"]
    await client.post(
        f"/api/workbook/notes/{note_id}/shares",
        json={"email": reader["user"]["email"], "permission": "read"},
        headers=auth,
    )
    url = f"{live_app['ws']}/{note_id}"

    async with websockets.connect(f"{url}?token={owner['token']}") as ws:
        assert isinstance(await _first_frame(ws), SyncStep1)
    async with websockets.connect(f"{url}?token={reader['token']}") as ws:
        assert isinstance(await _first_frame(ws), SyncStep1)
    assert await _close_code(f"{url}?token={stranger['token']}") == 4403
    assert await _close_code(url) == 4401
    assert await _close_code(f"{url}?token=garbage") == 4401
    unknown = f"{live_app['ws']}/00000000-0000-4000-8000-000000000000?token={owner['token']}"
    assert await _close_code(unknown) == 4404

    # Cookie auth works from our own origin and is refused cross-site.
    cookie = {"Cookie": f"collab_access={owner['token']}"}
    host = url.split("/")[2]
    async with websockets.connect(
        url, additional_headers={**cookie, "Origin": f"http://{host}"}
    ) as ws:
        assert isinstance(await _first_frame(ws), SyncStep1)
    evil = {**cookie, "Origin": "https://evil.example"}
    assert await _close_code(url, additional_headers=evil) == 4403


async def test_delete_and_revoke_reach_live_editors(live_app: dict[str, Any]) -> None:
    client: httpx.AsyncClient = live_app["client"]
    owner = await register(client, name="Owner")
    writer = await register(client, name="Writer")
    auth = {"Authorization": f"Bearer {owner['token']}"}
    note_id = (
        await client.post("/api/workbook/notes", json={"title": "Doomed"}, headers=auth)
    ).json()["note"]["id"]
    await client.post(
        f"/api/workbook/notes/{note_id}/shares",
        json={"email": writer["user"]["email"], "permission": "write"},
        headers=auth,
    )
    url = f"{live_app['ws']}/{note_id}"

    async with websockets.connect(f"{url}?token={writer['token']}") as ws:
        await _first_frame(ws)
        revoked = await client.delete(
            f"/api/workbook/notes/{note_id}/shares/{writer['user']['id']}", headers=auth
        )
        assert revoked.status_code == 200
        async with asyncio.timeout(10):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    async with websockets.connect(f"{url}?token={owner['token']}") as ws:
        await _first_frame(ws)
        assert (
            await client.delete(f"/api/workbook/notes/{note_id}", headers=auth)
        ).status_code == 200
        async with asyncio.timeout(10):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4410
    assert await _close_code(f"{url}?token={owner['token']}") == 4410


async def test_collab_limits_come_from_the_environment(database_url: str, tmp_path: Path) -> None:
    """COLLAB_MAX_MESSAGE_BYTES reaches the live server: a bigger frame closes with 1009."""
    await empty_database(database_url)
    settings = make_settings(
        database_url,
        COOKIE_SECURE=False,
        COLLAB_DATA_DIR=str(tmp_path),
        COLLAB_MAX_MESSAGE_BYTES="4096",
    )
    async with serve(create_app(settings)) as running:
        client: httpx.AsyncClient = running["client"]
        owner = await register(client, name="Owner")
        auth = {"Authorization": f"Bearer {owner['token']}"}
        created = await client.post("/api/workbook/notes", json={"title": "Big"}, headers=auth)
        url = f"{running['ws']}/{created.json()['note']['id']}?token={owner['token']}"
        async with websockets.connect(url, max_size=None) as ws:
            assert isinstance(await _first_frame(ws), SyncStep1)
            # A well-formed update message (type 0, sync type 2) whose payload is too big.
            await ws.send(bytes([0, 2]) + b"\x00" * 8192)
            async with asyncio.timeout(10):
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


def test_a_socket_before_the_lifespan_published_its_routes_is_closed_with_4404(
    database_url: str, tmp_path: Path
) -> None:
    # Accepted, then closed with a code: an HTTP 403 during the handshake would make a
    # y-websocket client retry forever.
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    app = create_app(make_settings(database_url, COLLAB_DATA_DIR=str(tmp_path)))
    client = TestClient(app)  # no `with`: the lifespan does not run
    with client.websocket_connect("/collab/notes/abc") as ws, \
            pytest.raises(WebSocketDisconnect) as closed:
        ws.receive_bytes()
    assert closed.value.code == 4404
