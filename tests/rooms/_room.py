"""Room test kit: a migrated SQLite database, a collab server with the sessions kind and the
shared notes' kind, users and sessions made through the service, and attendees speaking the
room's actions over a channel."""

from __future__ import annotations

import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from pycrdt import Doc

from collab import CollabConfig, Extension
from collab.extensions.fanout import RedisFanout
from collab.extensions.persistence import Persistence
from collab.protocol import (
    AwarenessUpdate,
    Stateless,
    SyncStep1,
    SyncStep2,
    Update,
    decode_message,
    encode_stateless,
    encode_sync_step1,
    encode_sync_step2,
)
from rooms import document as d
from rooms.live import RoomKind
from rooms.media import RoomMedia
from rooms.service import RoomService
from rooms.shared_notes import SharedNotesAuthorizer
from storage.db import Database, connect
from storage.documents import DocumentLog
from storage.models import LiveSession, Role
from storage.users import UserRepository
from tests.collab._kit import FAST, Harness, MemoryClient, running, wait_for

ROOM_CONFIG = CollabConfig(
    unload_delay=0.05, store_debounce=0.02, store_max_debounce=0.1, shutdown_timeout=2.0,
    awareness_interval=0.01, stateless_per_second=1000.0, stateless_burst=1000,
)


@dataclass
class User:
    id: str
    name: str

    @property
    def token(self) -> str:
        return f"user-{self.id}"


class Attendee:
    """One connection to a room: its synced copy of the room and the action replies."""

    def __init__(self, client: MemoryClient) -> None:
        self.client = client
        self.doc: Doc[Any] = Doc()
        self.replies: dict[str, dict[str, Any]] = {}
        self.pushes: list[dict[str, Any]] = []
        self.awareness: list[bytes] = []
        self.synced = anyio.Event()
        self.updates = 0  # room updates received after the sync
        self._ids = itertools.count(1)
        self._changed = anyio.Event()

    async def pump(self) -> None:
        with contextlib.suppress(anyio.EndOfStream, anyio.ClosedResourceError):
            async for frame in self.client.from_server:
                message = decode_message(frame)
                if isinstance(message, SyncStep1):
                    await self.client.send(
                        encode_sync_step2(self.doc.get_update(message.state_vector)))
                elif isinstance(message, SyncStep2 | Update):
                    self.doc.apply_update(message.update)
                    if isinstance(message, SyncStep2):
                        self.synced.set()
                    else:
                        self.updates += 1
                elif isinstance(message, Stateless):
                    reply = json.loads(message.payload)
                    if "push" in reply:  # addressed to this member (media.p2p.*)
                        self.pushes.append(reply)
                    else:
                        self.replies[str(reply["id"])] = reply
                elif isinstance(message, AwarenessUpdate):
                    self.awareness.append(message.payload)
                self._changed.set()
                self._changed = anyio.Event()

    async def send(self, action: str, **fields: Any) -> str:
        client_id = str(next(self._ids))
        await self.client.send(encode_stateless(json.dumps(
            {"id": client_id, "action": action, **fields})))
        return client_id

    async def reply(self, client_id: str, timeout: float = 10.0) -> dict[str, Any]:
        with anyio.fail_after(timeout):
            while client_id not in self.replies:
                await self._changed.wait()
        return self.replies[client_id]

    async def act(self, action: str, **fields: Any) -> dict[str, Any]:
        return await self.reply(await self.send(action, **fields))

    async def ok(self, action: str, **fields: Any) -> dict[str, Any]:
        reply = await self.act(action, **fields)
        assert reply["ok"] is True, reply
        return reply

    async def refused(self, action: str, **fields: Any) -> str:
        reply = await self.act(action, **fields)
        assert reply["ok"] is False, reply
        return str(reply["reason"])

    def map(self, name: str) -> dict[str, Any]:
        return dict(d.ymap(self.doc, name).to_py() or {})

    def array(self, name: str) -> list[Any]:
        return list(d.yarray(self.doc, name).to_py() or [])

    async def until(self, predicate: Any, timeout: float = 5.0) -> None:
        await wait_for(lambda: predicate(self), timeout)


@dataclass
class RoomEnv:
    h: Harness
    db: Database
    service: RoomService
    kind: RoomKind

    async def user(self, name: str, role: Role = Role.USER) -> User:
        created = await UserRepository(self.db).create(
            email=f"{uuid.uuid4().hex[:10]}@example.com", name=name, password_hash="x",
            role=role)
        return User(str(created.id), name)

    async def session(self, host: User, **settings: Any) -> LiveSession:
        start = datetime.now(UTC) + timedelta(hours=1)
        return await self.service.create(
            uuid.UUID(host.id), host.name, title="Room", description=None,
            scheduled_start=start, scheduled_end=start + timedelta(hours=1), settings=settings)

    async def join(self, live: LiveSession, user: User) -> None:
        await self.service.join(live, uuid.UUID(user.id), user.name)

    async def start(self, live: LiveSession) -> LiveSession:
        return await self.service.transition(await self.service.get(live.id), "start")

    async def connect(self, live: LiveSession | str, user: User) -> Attendee:
        name = live if isinstance(live, str) else d.room_name(live.id)
        client = await self.h.connect(name, user.token, params={"stateless": "1"})
        attendee = Attendee(client)
        self.h.tg.start_soon(attendee.pump)
        await attendee.client.send(encode_sync_step1(attendee.doc.get_state()))
        return attendee

    async def attend(self, live: LiveSession, user: User) -> Attendee:
        attendee = await self.connect(live, user)
        with anyio.fail_after(10):
            await attendee.synced.wait()
        return attendee


@contextlib.asynccontextmanager
async def room_env(
    url: str, config: CollabConfig = ROOM_CONFIG, *, redis_url: str | None = None,
    prefix: str = "", media: RoomMedia | None = None,
) -> AsyncIterator[RoomEnv]:
    """One node; with ``redis_url``, a node of a cluster (its own fan-out node id); with
    ``media``, its rooms answer ``media.*`` actions."""
    async with connect(url) as db:
        kind = RoomKind(db, media)
        log = DocumentLog(db)
        extensions: list[Extension] = [Persistence(log), kind]
        if redis_url is not None:
            extensions.append(RedisFanout(redis_url, f"node-{uuid.uuid4().hex[:6]}",
                                          key_prefix=prefix, store=log, retry_delay=0.05))
        kinds = [kind.kind(), SharedNotesAuthorizer(db).kind()]
        async with running(config, extensions, kinds=kinds) as h:
            yield RoomEnv(h, db, RoomService(db, h.server), kind)


__all__ = ["FAST", "Attendee", "RoomEnv", "User", "room_env"]
