"""A raw y-websocket peer for tests: syncs a pycrdt Doc, sends edits, collects stateless
messages (the per-user feed) and the close code. Only the wire protocol is used."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import websockets
from pycrdt import Doc, Map
from websockets.asyncio.client import ClientConnection

from collab.protocol import (
    Stateless,
    SyncStep1,
    SyncStep2,
    Update,
    decode_message,
    encode_sync_step1,
    encode_sync_step2,
    encode_update,
)


def socket_url(base: str, name: str, token: str, *, stateless: bool = False) -> str:
    """`base` is the collab endpoint (`ws://host:port/collab`)."""
    query = {"token": token, **({"stateless": "1"} if stateless else {})}
    return f"{base}/{name}?{urlencode(query)}"


class LivePeer:
    def __init__(self, url: str, doc: Doc[Any] | None = None) -> None:
        self.url = url
        self.doc: Doc[Any] = doc if doc is not None else Doc()
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.close_code: int | None = None
        self._ws: ClientConnection | None = None
        self._synced = asyncio.Event()
        self._changed = asyncio.Event()
        self._closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LivePeer:
        self._ws = await websockets.connect(self.url)
        with contextlib.suppress(websockets.ConnectionClosed):  # refused: `closed()` tells
            await self._ws.send(encode_sync_step1(self.doc.get_state()))
        self._task = asyncio.create_task(self._read(self._ws))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for frame in ws:
                assert isinstance(frame, bytes)
                message = decode_message(frame)
                if isinstance(message, SyncStep1):
                    await ws.send(encode_sync_step2(self.doc.get_update(message.state_vector)))
                elif isinstance(message, SyncStep2 | Update):
                    self.doc.apply_update(message.update)
                    if isinstance(message, SyncStep2):
                        self._synced.set()
                    self._changed.set()
                elif isinstance(message, Stateless):
                    await self.messages.put(json.loads(message.payload))
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self._closed.set()
            self._changed.set()

    async def synced(self, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    async def closed(self, timeout: float = 10) -> int | None:
        async with asyncio.timeout(timeout):
            await self._closed.wait()
        return self.close_code

    async def edit(self, change: Callable[[Doc[Any]], None]) -> None:
        """Apply `change` locally in one transaction and send it as one update."""
        assert self._ws is not None
        before = self.doc.get_state()
        with self.doc.transaction():
            change(self.doc)
        await self._ws.send(encode_update(self.doc.get_update(before)))

    async def wait_for(self, check: Callable[[Doc[Any]], bool], timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while not check(self.doc):
                self._changed.clear()
                if self._closed.is_set():
                    raise AssertionError(f"closed with {self.close_code} while waiting")
                await self._changed.wait()

    async def message(self, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            return await self.messages.get()

    def meta(self) -> dict[str, Any]:
        found: dict[str, Any] = self.doc.get("meta", type=Map).to_py() or {}
        return found


def set_meta(**values: Any) -> Callable[[Doc[Any]], None]:
    """An edit setting keys of the note's `meta` map (as the page does)."""

    def change(doc: Doc[Any]) -> None:
        meta = doc.get("meta", type=Map)
        for key, value in values.items():
            meta[key] = value

    return change
