from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from storage.db import Database
from storage.models import ParticipantRole, SessionStatus
from storage.sessions import LiveSessionRepository
from storage.types import utcnow
from storage.users import UserRepository


async def test_session_lifecycle_and_roles(database: Database) -> None:
    users = UserRepository(database)
    host = await users.create(email="host@example.com", name="Host", password_hash="h")
    guest = await users.create(email="guest@example.com", name="Guest", password_hash="h")
    repo = LiveSessionRepository(database)
    start = utcnow() + timedelta(hours=1)
    with pytest.raises(ValueError, match="before"):
        await repo.create(
            host.id, title="x", scheduled_start=start, scheduled_end=start - timedelta(1)
        )
    live = await repo.create(
        host.id,
        title="Fades live",
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        settings={"maxParticipants": 50},
    )
    assert await repo.role_of(live.id, host.id) is ParticipantRole.HOST
    assert await repo.role_of(live.id, guest.id) is None

    joined = await repo.join(live.id, guest.id)
    assert joined is not None and joined.role is ParticipantRole.PARTICIPANT
    assert await repo.set_role(live.id, guest.id, ParticipantRole.PRESENTER) is True
    rejoined = await repo.join(live.id, guest.id)
    assert rejoined is not None and rejoined.role is ParticipantRole.PRESENTER
    assert await repo.join(live.id, uuid.uuid4()) is None
    assert await repo.leave(live.id, guest.id) is True
    assert await repo.record_engagement(live.id, guest.id, {"questions": 2}) is True
    people = {p.user_id: p for p in await repo.participants(live.id)}
    assert set(people) == {host.id, guest.id}
    assert people[guest.id].left_at is not None
    assert people[guest.id].engagement_data == {"questions": 2}

    started = await repo.set_status(live.id, SessionStatus.LIVE)
    assert started is not None and started.actual_start is not None
    ended = await repo.set_status(live.id, SessionStatus.ENDED)
    assert ended is not None and ended.actual_end is not None
    assert ended.actual_start == started.actual_start
    found, total = await repo.list_sessions(statuses=(SessionStatus.ENDED,), host_id=host.id)
    assert (total, [s.id for s in found]) == (1, [live.id])
    assert await repo.list_sessions(statuses=(SessionStatus.LIVE,)) == ([], 0)
    updated = await repo.update(live.id, {"title": "Renamed"})
    assert updated is not None and updated.title == "Renamed"
    assert await repo.delete(live.id) is True
    assert await repo.participants(live.id) == []


async def test_admission_membership_removal_and_engagement(database: Database) -> None:
    users = UserRepository(database)
    host = await users.create(email="h2@example.com", name="Host", password_hash="h")
    ann = await users.create(email="ann@example.com", name="Ann", password_hash="h")
    bob = await users.create(email="bob@example.com", name="Bob", password_hash="h")
    repo = LiveSessionRepository(database)
    start = utcnow() + timedelta(hours=1)
    live = await repo.create(host.id, title="Room", scheduled_start=start,
                             scheduled_end=start + timedelta(hours=1))
    assert await repo.admission(uuid.uuid4(), ann.id) == (None, None)
    status, member = await repo.admission(live.id, ann.id)
    assert status is SessionStatus.SCHEDULED and member is None
    await repo.join(live.id, ann.id, ParticipantRole.VIEWER)
    await repo.join(live.id, bob.id)
    await repo.join(live.id, host.id)
    status, member = await repo.admission(live.id, ann.id)
    assert member is not None and member.role is ParticipantRole.VIEWER
    assert await repo.present_count(live.id) == 2  # the host does not take a seat
    assert await repo.set_role(live.id, bob.id, ParticipantRole.CO_HOST) is True
    assert await repo.present_count(live.id) == 1
    assert await repo.remove(live.id, ann.id) is True
    removed = await repo.member(live.id, ann.id)
    assert removed is not None and removed.removed_at is not None and removed.left_at is not None
    assert await repo.present_count(live.id) == 0
    assert await repo.add_engagement(live.id, bob.id, {"secondsPresent": 1.5}) is True
    assert await repo.add_engagement(live.id, bob.id, {"secondsPresent": 2.0}) is True
    assert await repo.add_engagement(live.id, uuid.uuid4(), {"x": 1}) is False
    bob_row = await repo.member(live.id, bob.id)
    assert bob_row is not None and bob_row.engagement_data == {"secondsPresent": 3.5}
    other = await repo.create(bob.id, title="Bob's", scheduled_start=start,
                              scheduled_end=start + timedelta(hours=1))
    mine, total = await repo.list_sessions(member_id=ann.id)
    assert (total, [s.id for s in mine]) == (1, [live.id])
    hosted, _ = await repo.list_sessions(member_id=bob.id)
    assert {s.id for s in hosted} == {live.id, other.id}
