"""Video lessons of a module and their sub-lessons (chapters), with Mux playback ids.

Admins create them; anyone who may open the module lists them. A locked module's lessons are a
403 (`module_locked`): their playback ids are what a token request would need.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import not_found
from api.modules import load_module, require_unlocked
from api.openapi import Operation
from api.schema import CamelModel, Success, parse_body, path_uuid, respond
from api.security import require
from api.services import services
from storage.lessons import LessonRepository
from storage.models import Lesson, SubLesson

PLAYBACK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,255}$"


class LessonCreate(CamelModel):
    title: str = Field(min_length=1, max_length=255)
    order: int = Field(0, ge=0, le=1_000_000)
    mux_playback_id: str | None = Field(None, pattern=PLAYBACK_ID_PATTERN)
    duration_seconds: int = Field(0, ge=0, le=10_000_000)


class SubLessonCreate(LessonCreate):
    start_time_seconds: int = Field(0, ge=0, le=10_000_000)


class SubLessonOut(CamelModel):
    id: str
    lesson_id: str
    title: str
    order: int
    mux_playback_id: str | None
    duration_seconds: int
    start_time_seconds: int
    created_at: datetime

    @classmethod
    def of(cls, sub: SubLesson) -> SubLessonOut:
        return cls(
            id=str(sub.id),
            lesson_id=str(sub.lesson_id),
            title=sub.title,
            order=sub.order,
            mux_playback_id=sub.mux_playback_id,
            duration_seconds=sub.duration_seconds,
            start_time_seconds=sub.start_time_seconds,
            created_at=sub.created_at,
        )


class LessonOut(CamelModel):
    id: str
    module_id: str
    title: str
    order: int
    mux_playback_id: str | None
    duration_seconds: int
    created_at: datetime
    sub_lessons: list[SubLessonOut] = Field(default_factory=list)

    @classmethod
    def of(cls, lesson: Lesson, subs: list[SubLesson] | None = None) -> LessonOut:
        return cls(
            id=str(lesson.id),
            module_id=str(lesson.module_id),
            title=lesson.title,
            order=lesson.order,
            mux_playback_id=lesson.mux_playback_id,
            duration_seconds=lesson.duration_seconds,
            created_at=lesson.created_at,
            sub_lessons=[SubLessonOut.of(s) for s in subs or []],
        )


class LessonEnvelope(CamelModel):
    success: bool = True
    lesson: LessonOut


class LessonList(CamelModel):
    lessons: list[LessonOut]


class SubLessonEnvelope(CamelModel):
    success: bool = True
    sub_lesson: SubLessonOut


class SubLessonList(CamelModel):
    sub_lessons: list[SubLessonOut]


async def create_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    module_id = path_uuid(request, "moduleId")
    body = await parse_body(request, LessonCreate)
    lesson = await LessonRepository(svc.db).add_lesson(module_id, **body.model_dump(by_alias=False))
    if lesson is None:
        raise not_found("module")
    return respond(LessonEnvelope(lesson=LessonOut.of(lesson)), 201)


async def list_lessons(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    module = await load_module(request, path_uuid(request, "moduleId"))
    require_unlocked(principal, module)
    outline = await LessonRepository(svc.db).outline(module.id)
    return respond(LessonList(lessons=[LessonOut.of(o.lesson, o.sub_lessons) for o in outline]))


async def create_sub_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    lesson_id = path_uuid(request, "lessonId")
    body = await parse_body(request, SubLessonCreate)
    sub = await LessonRepository(svc.db).add_sub_lesson(
        lesson_id, **body.model_dump(by_alias=False)
    )
    if sub is None:
        raise not_found("lesson")
    return respond(SubLessonEnvelope(sub_lesson=SubLessonOut.of(sub)), 201)


async def list_sub_lessons(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    lesson_id = path_uuid(request, "lessonId")
    repo = LessonRepository(svc.db)
    module = await repo.module_of_lesson(lesson_id)
    if module is None:
        raise not_found("lesson")
    require_unlocked(principal, module)
    outline = [o for o in await repo.outline(module.id) if o.lesson.id == lesson_id]
    subs = outline[0].sub_lessons if outline else []
    return respond(SubLessonList(sub_lessons=[SubLessonOut.of(s) for s in subs]))


async def delete_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    if not await LessonRepository(svc.db).delete_lesson(path_uuid(request, "lessonId")):
        raise not_found("lesson")
    return respond(Success())


async def delete_sub_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    if not await LessonRepository(svc.db).delete_sub_lesson(path_uuid(request, "subLessonId")):
        raise not_found("sub-lesson")
    return respond(Success())


_M = "/api/workbook/modules/{moduleId}/lessons"
_L = "/api/workbook/lessons/{lessonId}"
operations = [
    Operation(
        "POST",
        _M,
        create_lesson,
        "Add a video lesson to a module",
        "lessons",
        body=LessonCreate,
        response=LessonEnvelope,
        status=201,
        permission="admin.access",
        errors=(404,),
    ),
    Operation(
        "GET",
        _M,
        list_lessons,
        "A module's lessons with their sub-lessons",
        "lessons",
        response=LessonList,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "DELETE",
        _L,
        delete_lesson,
        "Delete a lesson",
        "lessons",
        response=Success,
        permission="admin.access",
        errors=(404,),
    ),
    Operation(
        "POST",
        f"{_L}/sub-lessons",
        create_sub_lesson,
        "Add a sub-lesson (chapter)",
        "lessons",
        body=SubLessonCreate,
        response=SubLessonEnvelope,
        status=201,
        permission="admin.access",
        errors=(404,),
    ),
    Operation(
        "GET",
        f"{_L}/sub-lessons",
        list_sub_lessons,
        "A lesson's sub-lessons",
        "lessons",
        response=SubLessonList,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "DELETE",
        "/api/workbook/sub-lessons/{subLessonId}",
        delete_sub_lesson,
        "Delete a sub-lesson",
        "lessons",
        response=Success,
        permission="admin.access",
        errors=(404,),
    ),
]
