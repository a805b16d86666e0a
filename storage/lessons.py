"""Video lessons and their sub-lessons (chapters), carrying Mux playback ids."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import Database
from storage.models import Lesson, Module, SubLesson

_LESSON_FIELDS = frozenset(
    {"title", "order", "mux_playback_id", "duration_seconds", "description"}
)
_SUB_FIELDS = frozenset(
    {"title", "order", "mux_playback_id", "duration_seconds", "start_time_seconds"}
)
_Row = TypeVar("_Row", Lesson, SubLesson)
VIDEO_STATUSES = frozenset({"preparing", "ready", "errored"})


class OrderMismatch(ValueError):
    """A reorder did not name exactly the items it reorders."""


@dataclass(frozen=True, slots=True)
class LessonOutline:
    lesson: Lesson
    sub_lessons: list[SubLesson]


class LessonRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def add_lesson(
        self,
        module_id: uuid.UUID,
        *,
        title: str,
        order: int = 0,
        mux_playback_id: str | None = None,
        duration_seconds: int = 0,
        description: str | None = None,
    ) -> Lesson | None:
        """Create a lesson; ``None`` when the module does not exist."""
        async with self._db.write() as session:
            if await session.get(Module, module_id) is None:
                return None
            lesson = Lesson(
                module_id=module_id,
                title=title,
                order=order,
                mux_playback_id=mux_playback_id,
                duration_seconds=duration_seconds,
                description=description,
            )
            session.add(lesson)
        return lesson

    async def add_sub_lesson(
        self,
        lesson_id: uuid.UUID,
        *,
        title: str,
        order: int = 0,
        mux_playback_id: str | None = None,
        duration_seconds: int = 0,
        start_time_seconds: int = 0,
    ) -> SubLesson | None:
        """Create a sub-lesson; ``None`` when the lesson does not exist."""
        async with self._db.write() as session:
            if await session.get(Lesson, lesson_id) is None:
                return None
            sub = SubLesson(
                lesson_id=lesson_id,
                title=title,
                order=order,
                mux_playback_id=mux_playback_id,
                duration_seconds=duration_seconds,
                start_time_seconds=start_time_seconds,
            )
            session.add(sub)
        return sub

    async def get_lesson(self, lesson_id: uuid.UUID) -> Lesson | None:
        async with self._db.read() as session:
            return await session.get(Lesson, lesson_id)

    async def get_sub_lesson(self, sub_lesson_id: uuid.UUID) -> SubLesson | None:
        async with self._db.read() as session:
            return await session.get(SubLesson, sub_lesson_id)

    async def module_of_lesson(self, lesson_id: uuid.UUID) -> Module | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(Module)
                .join(Lesson, col(Lesson.module_id) == col(Module.id))
                .where(col(Lesson.id) == lesson_id)
            )
            return result.first()

    async def module_of_sub_lesson(self, sub_lesson_id: uuid.UUID) -> Module | None:
        async with self._db.read() as session:
            result = await session.scalars(
                select(Module)
                .join(Lesson, col(Lesson.module_id) == col(Module.id))
                .join(SubLesson, col(SubLesson.lesson_id) == col(Lesson.id))
                .where(col(SubLesson.id) == sub_lesson_id)
            )
            return result.first()

    async def modules_for_playback_id(self, playback_id: str) -> list[Module]:
        """Every module whose lessons or sub-lessons play ``playback_id`` (for token checks)."""
        via_lesson = select(Lesson.module_id).where(col(Lesson.mux_playback_id) == playback_id)
        via_sub = (
            select(Lesson.module_id)
            .join(SubLesson, col(SubLesson.lesson_id) == col(Lesson.id))
            .where(col(SubLesson.mux_playback_id) == playback_id)
        )
        async with self._db.read() as session:
            result = await session.scalars(
                select(Module)
                .where(col(Module.id).in_(sa.union(via_lesson, via_sub)))
                .order_by(col(Module.order_index))
            )
            return list(result)

    async def longest_duration(self, playback_id: str) -> int:
        """The longest duration of the lessons and sub-lessons playing ``playback_id``."""
        async with self._db.read() as session:
            durations = [
                await session.scalar(
                    select(sa.func.max(col(model.duration_seconds))).where(
                        col(model.mux_playback_id) == playback_id
                    )
                )
                for model in (Lesson, SubLesson)
            ]
        return max((d or 0 for d in durations), default=0)

    async def outline(self, module_id: uuid.UUID) -> list[LessonOutline]:
        """The module's lessons in order, each with its sub-lessons in order."""
        async with self._db.read() as session:
            lessons = list(
                await session.scalars(
                    select(Lesson)
                    .where(col(Lesson.module_id) == module_id)
                    .order_by(col(Lesson.order), col(Lesson.created_at))
                )
            )
            subs = (
                list(
                    await session.scalars(
                        select(SubLesson)
                        .where(col(SubLesson.lesson_id).in_([lesson.id for lesson in lessons]))
                        .order_by(col(SubLesson.order), col(SubLesson.start_time_seconds))
                    )
                )
                if lessons
                else []
            )
        by_lesson: dict[uuid.UUID, list[SubLesson]] = {lesson.id: [] for lesson in lessons}
        for sub in subs:
            by_lesson[sub.lesson_id].append(sub)
        return [LessonOutline(lesson, by_lesson[lesson.id]) for lesson in lessons]

    async def delete_lesson(self, lesson_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(sa.delete(Lesson).where(col(Lesson.id) == lesson_id))
        return bool(getattr(result, "rowcount", 0))

    async def delete_sub_lesson(self, sub_lesson_id: uuid.UUID) -> bool:
        async with self._db.write() as session:
            result = await session.execute(
                sa.delete(SubLesson).where(col(SubLesson.id) == sub_lesson_id)
            )
        return bool(getattr(result, "rowcount", 0))

    async def update_lesson(
        self, lesson_id: uuid.UUID, changes: Mapping[str, object]
    ) -> Lesson | None:
        """Apply ``changes`` (fields as on :class:`Lesson`); a new playback id forgets the
        video state Mux reported for the old one."""
        return await self._update(Lesson, lesson_id, changes, _LESSON_FIELDS)

    async def update_sub_lesson(
        self, sub_lesson_id: uuid.UUID, changes: Mapping[str, object]
    ) -> SubLesson | None:
        return await self._update(SubLesson, sub_lesson_id, changes, _SUB_FIELDS)

    async def _update(
        self,
        model: type[_Row],
        key: uuid.UUID,
        changes: Mapping[str, object],
        allowed: frozenset[str],
    ) -> _Row | None:
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
        async with self._db.write() as session:
            row = await session.get(model, key)
            if row is None:
                return None
            if changes.get("mux_playback_id", row.mux_playback_id) != row.mux_playback_id:
                row.video_status = row.video_error = None
            for field, value in changes.items():
                setattr(row, field, value)
        return row

    async def reorder(self, module_id: uuid.UUID, lesson_ids: Sequence[uuid.UUID]) -> bool:
        """Number the module's lessons 0.. in the order given, all in one transaction.

        Returns False when the module does not exist.

        Raises:
            OrderMismatch: ``lesson_ids`` is not exactly the module's lessons (nothing changes).
        """
        async with self._db.write() as session:
            if await session.get(Module, module_id) is None:
                return False
            current = set(
                await session.scalars(select(Lesson.id).where(col(Lesson.module_id) == module_id))
            )
            if len(lesson_ids) != len(current) or set(lesson_ids) != current:
                raise OrderMismatch("lessonIds must name each of the module's lessons once")
            for index, lesson_id in enumerate(lesson_ids):
                await session.execute(
                    sa.update(Lesson).where(col(Lesson.id) == lesson_id).values(order=index)
                )
        return True

    async def set_video_state(
        self,
        playback_ids: Sequence[str],
        status: str,
        *,
        duration_seconds: int | None = None,
        error: str | None = None,
    ) -> int:
        """Record what Mux reported for the asset behind ``playback_ids`` on every lesson and
        sub-lesson playing one of them; returns how many rows changed."""
        if status not in VIDEO_STATUSES:
            raise ValueError(f"unknown video status {status!r}")
        if not playback_ids:
            return 0
        values: dict[str, object] = {"video_status": status, "video_error": error}
        if duration_seconds is not None:
            values["duration_seconds"] = duration_seconds
        changed = 0
        async with self._db.write() as session:
            for model in (Lesson, SubLesson):
                result = await session.execute(
                    sa.update(model)
                    .where(col(model.mux_playback_id).in_(list(playback_ids)))
                    .values(**values)
                )
                changed += int(getattr(result, "rowcount", 0) or 0)
        return changed
