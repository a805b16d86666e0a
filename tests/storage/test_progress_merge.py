from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import pytest

from storage.db import Database
from storage.lessons import LessonRepository
from storage.models import ProgressStatus
from storage.modules import ModuleRepository
from storage.progress import ProgressRepository, ProgressSave
from storage.types import utcnow
from storage.users import UserRepository


@pytest.fixture
async def ids(database: Database) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID, uuid.UUID]:
    user = await UserRepository(database).create(email="p@example.com", name="P", password_hash="h")
    module = await ModuleRepository(database).create(title="Video course")
    lessons = LessonRepository(database)
    lesson = await lessons.add_lesson(module.id, title="Intro", mux_playback_id="pb1")
    assert lesson is not None
    sub = await lessons.add_sub_lesson(lesson.id, title="Part 1", start_time_seconds=30)
    assert sub is not None
    return user.id, module.id, lesson.id, sub.id


T0 = datetime(2026, 1, 1, 12, 0, 0).astimezone()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_out_of_order_saves_converge(database: Database, ids: tuple[uuid.UUID, ...]) -> None:
    user_id, _, lesson_id, _ = ids
    repo = ProgressRepository(database)
    await repo.save_lesson(user_id, lesson_id, ProgressSave(120, 100, False, at(20)))
    # An older save arrives late: position stays, watch time does not go down.
    late = await repo.save_lesson(user_id, lesson_id, ProgressSave(60, 50, None, at(10)))
    assert late is not None
    assert (late.position_seconds, late.watch_time_seconds) == (120, 100)
    assert late.position_client_ts == at(20)
    newer = await repo.save_lesson(user_id, lesson_id, ProgressSave(30, None, None, at(30)))
    assert newer is not None and (newer.position_seconds, newer.watch_time_seconds) == (30, 100)


async def test_completion_is_sticky_and_first_time_kept(
    database: Database, ids: tuple[uuid.UUID, ...]
) -> None:
    user_id, _, lesson_id, _ = ids
    repo = ProgressRepository(database)
    done = await repo.save_lesson(user_id, lesson_id, ProgressSave(completed=True))
    assert done is not None and done.completed and done.completed_at is not None
    first = done.completed_at
    undone = await repo.save_lesson(user_id, lesson_id, ProgressSave(completed=False))
    assert undone is not None and undone.completed and undone.completed_at == first
    again = await repo.save_lesson(user_id, lesson_id, ProgressSave(completed=True))
    assert again is not None and again.completed_at == first


async def test_every_field_is_optional_and_duplicates_are_idempotent(
    database: Database, ids: tuple[uuid.UUID, ...]
) -> None:
    user_id, _, lesson_id, sub_id = ids
    repo = ProgressRepository(database)
    empty = await repo.save_sub_lesson(user_id, sub_id, ProgressSave())
    assert empty is not None and (empty.position_seconds, empty.watch_time_seconds) == (0, 0)
    assert not empty.completed and empty.position_client_ts is None
    save = ProgressSave(42.5, 40, None, at(5))
    first = await repo.save_sub_lesson(user_id, sub_id, save)
    second = await repo.save_sub_lesson(user_id, sub_id, save)
    assert first is not None and second is not None
    assert (second.position_seconds, second.watch_time_seconds) == (42.5, 40)
    assert second.id == first.id
    stored = await repo.get_sub_lesson(user_id, sub_id)
    assert stored is not None and stored.position_seconds == 42.5
    assert await repo.get_lesson(user_id, lesson_id) is None


async def test_concurrent_conflicting_saves_lose_nothing(
    database: Database, ids: tuple[uuid.UUID, ...]
) -> None:
    user_id, _, lesson_id, _ = ids
    repo = ProgressRepository(database)
    saves = [ProgressSave(float(i), float(i * 10), i == 7, at(i)) for i in range(12)]
    results = await asyncio.gather(
        *(repo.save_lesson(user_id, lesson_id, s) for s in reversed(saves))
    )
    assert all(r is not None for r in results)
    final = await repo.get_lesson(user_id, lesson_id)
    assert final is not None
    assert final.watch_time_seconds == 110
    assert final.position_seconds == 11 and final.position_client_ts == at(11)
    assert final.completed and final.completed_at is not None


async def test_missing_timestamp_means_now_and_future_is_clamped(
    database: Database, ids: tuple[uuid.UUID, ...]
) -> None:
    user_id, _, lesson_id, _ = ids
    repo = ProgressRepository(database)
    far_future = utcnow() + timedelta(days=365)
    clamped = await repo.save_lesson(user_id, lesson_id, ProgressSave(10, None, None, far_future))
    assert clamped is not None and clamped.position_client_ts is not None
    assert clamped.position_client_ts < utcnow() + timedelta(minutes=6)
    stale = await repo.save_lesson(user_id, lesson_id, ProgressSave(20))
    assert stale is not None and stale.position_seconds == 10  # "now" is older than the clamp
    old = await repo.save_lesson(user_id, lesson_id, ProgressSave(5, None, None, at(0)))
    assert old is not None and old.position_seconds == 10


async def test_unknown_lesson_returns_none(database: Database, ids: tuple[uuid.UUID, ...]) -> None:
    user_id = ids[0]
    repo = ProgressRepository(database)
    assert await repo.save_lesson(user_id, uuid.uuid4(), ProgressSave(1)) is None
    assert await repo.save_module(user_id, uuid.uuid4(), progress_percent=5) is None


async def test_module_progress_upsert(database: Database, ids: tuple[uuid.UUID, ...]) -> None:
    user_id, module_id, _, _ = ids
    repo = ProgressRepository(database)
    started = await repo.save_module(
        user_id, module_id, status=ProgressStatus.IN_PROGRESS, progress_percent=10
    )
    assert started is not None and started.status is ProgressStatus.IN_PROGRESS
    assert started.completed_at is None and started.time_spent_minutes == 0
    done = await repo.save_module(
        user_id,
        module_id,
        status=ProgressStatus.COMPLETED,
        progress_percent=100,
        time_spent_minutes=30,
    )
    assert done is not None and done.completed_at is not None and done.progress_percent == 100
    touched = await repo.save_module(user_id, module_id, time_spent_minutes=35)
    assert touched is not None and touched.status is ProgressStatus.COMPLETED
    assert touched.completed_at == done.completed_at and touched.time_spent_minutes == 35
    listed = await repo.list_modules(user_id)
    assert [p.module_id for p in listed] == [module_id]


async def test_naive_client_timestamp_is_utc(
    database: Database, ids: tuple[uuid.UUID, ...]
) -> None:
    user_id, _, lesson_id, _ = ids
    repo = ProgressRepository(database)
    saved = await repo.save_lesson(
        user_id, lesson_id, ProgressSave(7, None, None, datetime(2026, 1, 1, 12, 0, 0))
    )
    assert saved is not None and saved.position_client_ts is not None
    assert saved.position_client_ts.utcoffset() == timedelta(0)
    assert saved.position_client_ts.hour == 12
