from __future__ import annotations

import uuid

from storage.db import Database
from storage.lessons import LessonRepository
from storage.modules import ModuleRepository


async def test_outline_playback_lookup_and_cascade(database: Database) -> None:
    modules = ModuleRepository(database)
    lessons = LessonRepository(database)
    course = await modules.create(title="Course", order_index=1)
    other = await modules.create(title="Other", order_index=2)
    second = await lessons.add_lesson(course.id, title="Second", order=2, mux_playback_id="pb-2")
    first = await lessons.add_lesson(course.id, title="First", order=1, mux_playback_id="pb-1")
    assert first is not None and second is not None
    late = await lessons.add_sub_lesson(first.id, title="B", order=2, mux_playback_id="pb-s")
    early = await lessons.add_sub_lesson(first.id, title="A", order=1, start_time_seconds=5)
    assert late is not None and early is not None
    assert await lessons.add_lesson(uuid.uuid4(), title="x") is None
    assert await lessons.add_sub_lesson(uuid.uuid4(), title="x") is None

    outline = await lessons.outline(course.id)
    assert [o.lesson.title for o in outline] == ["First", "Second"]
    assert [s.title for s in outline[0].sub_lessons] == ["A", "B"]
    assert outline[1].sub_lessons == []
    assert await lessons.outline(other.id) == []

    assert [m.id for m in await lessons.modules_for_playback_id("pb-1")] == [course.id]
    assert [m.id for m in await lessons.modules_for_playback_id("pb-s")] == [course.id]
    assert await lessons.modules_for_playback_id("unknown") == []
    module = await lessons.module_of_sub_lesson(late.id)
    assert module is not None and module.id == course.id
    module = await lessons.module_of_lesson(second.id)
    assert module is not None and module.id == course.id

    assert await modules.delete(course.id) is True
    assert await lessons.get_lesson(first.id) is None
    assert await lessons.get_sub_lesson(late.id) is None
