"""Over a real socket: uvicorn on port 0 and the ``websockets`` client, once with our direct
transport (what ``collab serve`` runs) and once with stock uvicorn (frames through ASGI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry
from pycrdt import Doc, Text
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from collab import CollabServer, MemoryStore, Persistence
from collab.errors import CloseCode
from collab.protocol import SyncStep1, SyncStep2, Update, decode_message, encode_update
from tests.collab._kit import FAST, SyncedClient, TokenAuth, doc_name, uvicorn_app, wait_for


async def _closed_code(url: str, send: bytes | str | None = None) -> int | None:
    async with connect(url) as ws:
        if send is not None:
            await ws.send(send)
        with pytest.raises(ConnectionClosed) as info:
            with anyio.fail_after(5):
                while True:
                    await ws.recv()
        return info.value.rcvd.code if info.value.rcvd else None


async def test_sync_over_a_real_socket_and_close_codes(ws_impl: str) -> None:
    server = CollabServer(FAST, [TokenAuth()], metrics_registry=CollectorRegistry())
    async with server, uvicorn_app(server, ws_impl) as base:
        name = doc_name()
        async with connect(f"{base}/collab/{name}?token=user-a") as a_ws, \
                connect(f"{base}/collab/{name}?token=user-b") as b_ws:
            a = SyncedClient(a_ws.send)
            b = SyncedClient(b_ws.send)

            async def pump(ws: object, client: SyncedClient) -> None:
                async for frame in ws:  # type: ignore[attr-defined]
                    await client.handle(frame)

            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, a_ws, a)
                tg.start_soon(pump, b_ws, b)
                await a.start()
                await b.start()
                a.text += "ünïcödé 😀"
                await a.push()
                await wait_for(lambda: str(b.text) == "ünïcödé 😀")
                tg.cancel_scope.cancel()
        # every refusal happens after the handshake was accepted, with a 44xx code
        assert await _closed_code(f"{base}/collab/bogus/{doc_name().split('/')[1]}?token=user-a"
                                  ) == CloseCode.NOT_FOUND
        assert await _closed_code(f"{base}/collab/{doc_name()}") == CloseCode.UNAUTHORIZED
        assert await _closed_code(f"{base}/collab/{doc_name()}?token=user-a",
                                  "text") == CloseCode.UNSUPPORTED_DATA
        assert await _closed_code(f"{base}/collab/{doc_name()}?token=user-a",
                                  b"\x00\x09") == CloseCode.PROTOCOL_ERROR


async def test_step2_is_answered_over_socket(ws_impl: str) -> None:
    server = CollabServer(FAST, [TokenAuth()], metrics_registry=CollectorRegistry())
    async with (
        server,
        uvicorn_app(server, ws_impl) as base,
        connect(f"{base}/collab/{doc_name()}?token=user-a") as ws,
    ):
        assert isinstance(decode_message(await ws.recv()), SyncStep1)  # type: ignore[arg-type]
        await ws.send(bytes([0, 0, 1, 0]))
        assert isinstance(decode_message(await ws.recv()), SyncStep2)  # type: ignore[arg-type]
        await ws.send(encode_update(b"\x00\x00"))  # an empty update is fine, and not echoed
        await ws.send(bytes([0, 0, 1, 0]))
        assert not isinstance(decode_message(await ws.recv()), Update)  # type: ignore[arg-type]


async def test_shutdown_closes_real_sockets_with_1001_and_the_room_state_is_stored(
    ws_impl: str,
) -> None:
    store = MemoryStore()
    server = CollabServer(FAST, [TokenAuth(), Persistence(store)],
                          metrics_registry=CollectorRegistry())
    name = doc_name()
    doc: Doc = Doc()
    doc["t"] = Text("kept")
    async with (
        server,
        uvicorn_app(server, ws_impl) as base,
        connect(f"{base}/collab/{name}?token=user-a") as ws,
    ):
        await ws.recv()
        await ws.send(encode_update(doc.get_update()))
        await ws.send(bytes([0, 0, 1, 0]))
        await ws.recv()  # the step 2 answer: the update was applied
        await server.close()
        with pytest.raises(ConnectionClosed) as info, anyio.fail_after(5):
            await ws.recv()
        assert info.value.rcvd is not None and info.value.rcvd.code == CloseCode.GOING_AWAY
    assert len(store.entries[name]) == 1


def test_the_fallback_needs_no_uvicorn_internals() -> None:
    """The web app and its collab endpoint import without uvicorn's private protocol module:
    only ``collab serve`` (``collab.transport``) depends on the uvicorn pin."""
    script = (
        "import sys\n"
        "sys.modules['uvicorn.protocols.websockets.websockets_sansio_impl'] = None\n"
        "import api.app, collab.asgi\n"
        "assert 'collab.transport' not in sys.modules, 'collab.transport was imported'\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    result = subprocess.run([sys.executable, "-c", script], cwd=root, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
