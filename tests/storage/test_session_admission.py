"""Joins racing for the last seats of a session never exceed its `maxParticipants`.

Run on SQLite and PostgreSQL (the `database_url` fixture). Every join goes through
`RoomService.join` (no collab server: the room document is not under test here), all at once
with `asyncio.gather`; on PostgreSQL they are spread over two `Database` objects (two pools,
as two nodes would be), so they really run in parallel transactions.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from rooms.service import RoomService, SessionError
from storage.db import Database, connect
from storage.models import LiveSession, ParticipantRole
from storage.sessions import LiveSessionRepository
from storage.types import utcnow
from storage.users import UserRepository

LIMIT = 7
JOINERS = 40


async def _session(database: Database, limit: int) -> tuple[LiveSession, uuid.UUID]:
    users = UserRepository(database)
    host = await users.create(email="host@example.com", name="Host", password_hash="h")
    start = utcnow() + timedelta(hours=1)
    live = await LiveSessionRepository(database).create(
        host.id,
        title="Last seats",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        settings={"maxParticipants": limit},
    )
    return live, host.id


async def _users(database: Database, count: int) -> list[uuid.UUID]:
    users = UserRepository(database)
    made = [
        await users.create(email=f"u{i}@example.com", name=f"U{i}", password_hash="h")
        for i in range(count)
    ]
    return [u.id for u in made]


async def _race(services: list[RoomService], live: LiveSession, ids: list[uuid.UUID]) -> list[str]:
    async def one(i: int, user_id: uuid.UUID) -> str:
        try:
            await services[i % len(services)].join(live, user_id, f"U{i}")
        except SessionError as exc:
            return exc.kind
        return "joined"

    return list(await asyncio.gather(*(one(i, u) for i, u in enumerate(ids))))


async def test_concurrent_joins_stop_at_the_limit(database: Database, database_url: str) -> None:
    live, host_id = await _session(database, LIMIT)
    ids = await _users(database, JOINERS)
    repo = LiveSessionRepository(database)
    async with connect(database_url) as second:  # a second pool: another "node"
        services = [RoomService(database, None), RoomService(second, None)]
        outcomes = await _race(services, live, ids)
        assert outcomes.count("joined") == LIMIT, outcomes
        assert outcomes.count("full") == JOINERS - LIMIT
        assert await repo.present_count(live.id) == LIMIT

        # Someone already present joins again (another tab): admitted, still LIMIT present.
        first_in = ids[outcomes.index("joined")]
        await services[1].join(live, first_in, "again")
        # The host is never refused, nor counted.
        host = await services[0].join(live, host_id, "Host")
        assert host.role is ParticipantRole.HOST
        assert await repo.present_count(live.id) == LIMIT

        # One leaves: exactly one seat frees up, and a second race fills exactly it.
        await services[0].leave(live, first_in)
        waiting = [u for u, o in zip(ids, outcomes, strict=True) if o == "full"]
        again = await _race(services, live, waiting)
        assert again.count("joined") == 1, again
        assert await repo.present_count(live.id) == LIMIT


async def test_a_full_refusal_writes_nothing(database: Database) -> None:
    live, _host = await _session(database, 2)
    a, b, c = await _users(database, 3)
    service = RoomService(database, None)
    await service.join(live, a, "A")
    await service.join(live, b, "B")
    repo = LiveSessionRepository(database)
    outcome = await repo.admit(live.id, c, default_limit=500)
    assert outcome.refused == "full" and outcome.limit == 2 and outcome.participant is None
    assert await repo.member(live.id, c) is None
    assert (await repo.admit(uuid.uuid4(), c, default_limit=500)).refused == "not_found"
    await service.leave(live, a)
    assert (await repo.admit(live.id, uuid.uuid4(), default_limit=500)).refused == "not_found"
