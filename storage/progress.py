"""Module progress and video-lesson progress.

Lesson and sub-lesson saves are idempotent merges done by ONE ``INSERT ... ON CONFLICT DO
UPDATE`` whose SET clause computes the merge from the stored row, so concurrent, retried,
duplicated or reordered saves never lose data on either database:

- ``watch_time_seconds`` only grows: ``GREATEST(old, new)`` (``max()`` on SQLite);
- ``completed`` is sticky: a save with ``completed=True`` sets it, nothing clears it;
  ``completed_at`` is the first completion time;
- ``position_seconds`` is last-write-wins by the client's timestamp: a save whose
  ``client_timestamp`` is older than the stored one does not move the position (ties: the
  later arrival wins, which keeps exact duplicates idempotent);
- every field is optional: an absent field leaves the stored value alone.

A save without ``client_timestamp`` is stamped with the server's receive time; one without a
time zone is taken as UTC. A client
timestamp more than :data:`MAX_CLOCK_SKEW` in the future is clamped to now + that skew, so one
client with a wrong clock cannot pin the position forever.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from storage.db import Database
from storage.models import (
    Lesson,
    LessonProgress,
    Module,
    ModuleProgress,
    ProgressStatus,
    SubLessonProgress,
)
from storage.types import utcnow

MAX_CLOCK_SKEW = timedelta(minutes=5)

_T = TypeVar("_T", bound=SQLModel)


@dataclass(frozen=True, slots=True)
class Watching:
    """A lesson the user started and has not finished (for "continue watching")."""

    progress: LessonProgress
    lesson: Lesson
    module: Module


@dataclass(frozen=True, slots=True)
class ProgressSave:
    """One client save; ``None`` means "not sent"."""

    position_seconds: float | None = None
    watch_time_seconds: float | None = None
    completed: bool | None = None
    client_timestamp: datetime | None = None


def _table(model: type[SQLModel]) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


class ProgressRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _insert(self, table: sa.Table) -> Any:
        if self._db.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def _greatest(self, a: sa.ColumnElement[Any], b: sa.ColumnElement[Any]) -> Any:
        if self._db.dialect == "postgresql":
            return sa.func.greatest(a, b)
        return sa.func.max(a, b)

    async def _upsert(
        self,
        model: type[_T],
        target: str,
        values: dict[str, Any],
        updates: dict[str, Any],
    ) -> _T | None:
        table = _table(model)
        stmt = self._insert(table).values(id=uuid.uuid4(), **values)
        excluded = stmt.excluded
        set_ = {
            name: value(table, excluded) if callable(value) else value
            for name, value in updates.items()
        }
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.user_id, table.c[target]], set_=set_
        ).returning(*table.c)
        try:
            async with self._db.write() as session:
                row = (await session.execute(stmt)).one()
        except IntegrityError:
            return None  # unknown user or lesson (foreign key)
        return model(**row._mapping)

    async def _save_video(
        self,
        model: type[_T],
        target: str,
        user_id: uuid.UUID,
        target_id: uuid.UUID,
        save: ProgressSave,
    ) -> _T | None:
        now = utcnow()
        sent = save.client_timestamp
        if sent is not None and sent.tzinfo is None:
            sent = sent.replace(tzinfo=UTC)  # a timestamp without a zone is taken as UTC
        stamp = min(sent or now, now + MAX_CLOCK_SKEW)
        values: dict[str, Any] = {
            "user_id": user_id,
            target: target_id,
            "position_seconds": save.position_seconds or 0.0,
            "position_client_ts": stamp if save.position_seconds is not None else None,
            "watch_time_seconds": save.watch_time_seconds or 0.0,
            "completed": bool(save.completed),
            "completed_at": now if save.completed else None,
            "updated_at": now,
        }
        updates: dict[str, Any] = {"updated_at": now}
        if save.watch_time_seconds is not None:
            updates["watch_time_seconds"] = lambda t, ex: self._greatest(
                t.c.watch_time_seconds, ex.watch_time_seconds
            )
        if save.completed:
            updates["completed"] = sa.true()
            updates["completed_at"] = lambda t, ex: sa.func.coalesce(
                t.c.completed_at, ex.completed_at
            )
        if save.position_seconds is not None:

            def newer(t: sa.Table, ex: Any) -> sa.ColumnElement[bool]:
                return sa.or_(
                    t.c.position_client_ts.is_(None),
                    ex.position_client_ts >= t.c.position_client_ts,
                )

            updates["position_seconds"] = lambda t, ex: sa.case(
                (newer(t, ex), ex.position_seconds), else_=t.c.position_seconds
            )
            updates["position_client_ts"] = lambda t, ex: sa.case(
                (newer(t, ex), ex.position_client_ts), else_=t.c.position_client_ts
            )
        return await self._upsert(model, target, values, updates)

    async def save_lesson(
        self, user_id: uuid.UUID, lesson_id: uuid.UUID, save: ProgressSave
    ) -> LessonProgress | None:
        """Merge ``save`` into the user's lesson progress; ``None`` if the lesson is unknown."""
        return await self._save_video(LessonProgress, "lesson_id", user_id, lesson_id, save)

    async def save_sub_lesson(
        self, user_id: uuid.UUID, sub_lesson_id: uuid.UUID, save: ProgressSave
    ) -> SubLessonProgress | None:
        """Merge ``save`` into the user's sub-lesson progress; ``None`` if it is unknown."""
        return await self._save_video(
            SubLessonProgress, "sub_lesson_id", user_id, sub_lesson_id, save
        )

    async def get_lesson(self, user_id: uuid.UUID, lesson_id: uuid.UUID) -> LessonProgress | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(LessonProgress).where(
                    col(LessonProgress.user_id) == user_id,
                    col(LessonProgress.lesson_id) == lesson_id,
                )
            )
            return result.first()

    async def get_sub_lesson(
        self, user_id: uuid.UUID, sub_lesson_id: uuid.UUID
    ) -> SubLessonProgress | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(SubLessonProgress).where(
                    col(SubLessonProgress.user_id) == user_id,
                    col(SubLessonProgress.sub_lesson_id) == sub_lesson_id,
                )
            )
            return result.first()

    async def save_module(
        self,
        user_id: uuid.UUID,
        module_id: uuid.UUID,
        *,
        status: ProgressStatus | None = None,
        progress_percent: int | None = None,
        time_spent_minutes: int | None = None,
    ) -> ModuleProgress | None:
        """Upsert module progress: given fields overwrite; ``None`` if the module is unknown.

        ``completed_at`` is set the first time the status becomes ``completed`` and cleared
        if it moves back; ``last_accessed_at`` is now.
        """
        now = utcnow()
        values: dict[str, Any] = {
            "user_id": user_id,
            "module_id": module_id,
            "status": status or ProgressStatus.NOT_STARTED,
            "progress_percent": progress_percent or 0,
            "time_spent_minutes": time_spent_minutes or 0,
            "last_accessed_at": now,
            "completed_at": now if status is ProgressStatus.COMPLETED else None,
            "updated_at": now,
        }
        updates: dict[str, Any] = {"last_accessed_at": now, "updated_at": now}
        if progress_percent is not None:
            updates["progress_percent"] = progress_percent
        if time_spent_minutes is not None:
            updates["time_spent_minutes"] = time_spent_minutes
        if status is not None:
            updates["status"] = status
            updates["completed_at"] = (
                (lambda t, ex: sa.func.coalesce(t.c.completed_at, ex.completed_at))
                if status is ProgressStatus.COMPLETED
                else None
            )
        return await self._upsert(ModuleProgress, "module_id", values, updates)

    async def get_module(self, user_id: uuid.UUID, module_id: uuid.UUID) -> ModuleProgress | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(ModuleProgress).where(
                    col(ModuleProgress.user_id) == user_id,
                    col(ModuleProgress.module_id) == module_id,
                )
            )
            return result.first()

    async def list_modules(self, user_id: uuid.UUID) -> list[ModuleProgress]:
        async with self._db.read() as session:
            result = await session.scalars(
                select(ModuleProgress)
                .where(col(ModuleProgress.user_id) == user_id)
                .order_by(col(ModuleProgress.last_accessed_at).desc())
            )
            return list(result)

    async def lessons_in_module(
        self, user_id: uuid.UUID, module_id: uuid.UUID
    ) -> list[LessonProgress]:
        """The user's progress rows for the module's lessons (lessons never opened have none)."""
        async with self._db.read() as session:
            result = await session.scalars(
                select(LessonProgress)
                .join(Lesson, col(Lesson.id) == col(LessonProgress.lesson_id))
                .where(col(LessonProgress.user_id) == user_id, col(Lesson.module_id) == module_id)
            )
            return list(result)

    async def unfinished(self, user_id: uuid.UUID, limit: int) -> list[Watching]:
        """Lessons started (a position past 0) and not completed, most recently saved first."""
        async with self._db.read() as session:
            rows = await session.execute(
                select(LessonProgress, Lesson, Module)
                .join(Lesson, col(Lesson.id) == col(LessonProgress.lesson_id))
                .join(Module, col(Module.id) == col(Lesson.module_id))
                .where(
                    col(LessonProgress.user_id) == user_id,
                    col(LessonProgress.completed).is_(False),
                    col(LessonProgress.position_seconds) > 0,
                )
                .order_by(col(LessonProgress.updated_at).desc())
                .limit(limit)
            )
            return [Watching(progress, lesson, module) for progress, lesson, module in rows]
