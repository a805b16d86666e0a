"""Video lessons and their sub-lessons (chapters), carrying Mux playback ids."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from storage.db import Database
from storage.models import Lesson, Module, SubLesson


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
