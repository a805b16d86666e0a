"""Video lessons of a module and their sub-lessons (chapters), with Mux playback ids.

Admins create them; anyone who may open the module lists them. A locked module's lessons are a
403 (`module_locked`): their playback ids are what a token request would need.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, invalid, not_found
from api.modules import load_module, require_unlocked
from api.openapi import Operation
from api.schema import (
    CamelModel,
    Omittable,
    Success,
    parse_body,
    path_uuid,
    require_a_field,
    respond,
)
from api.security import require
from api.services import services
from storage.lessons import LessonRepository, OrderMismatch
from storage.models import Lesson, SubLesson

PLAYBACK_ID_PATTERN = r"^[A-Za-z0-9_-]{1,255}$"


class _VideoFields(CamelModel):
    title: str = Field(min_length=1, max_length=255)
    order: int = Field(0, ge=0, le=1_000_000)
    mux_playback_id: str | None = Field(None, pattern=PLAYBACK_ID_PATTERN)
    duration_seconds: int = Field(0, ge=0, le=10_000_000)


class LessonCreate(_VideoFields):
    description: str | None = Field(None, max_length=10_000)


class SubLessonCreate(_VideoFields):
    start_time_seconds: int = Field(0, ge=0, le=10_000_000)


class LessonUpdate(CamelModel):
    """Only the fields present change; ``muxPlaybackId`` and ``description`` may be null."""

    model_config = ConfigDict(json_schema_extra=require_a_field)

    title: Omittable[str] = Field(None, min_length=1, max_length=255)
    order: Omittable[int] = Field(None, ge=0, le=1_000_000)
    mux_playback_id: str | None = Field(None, pattern=PLAYBACK_ID_PATTERN)
    duration_seconds: Omittable[int] = Field(None, ge=0, le=10_000_000)
    description: str | None = Field(None, max_length=10_000)


class SubLessonUpdate(CamelModel):
    """Only the fields present change; ``muxPlaybackId`` may be null."""

    model_config = ConfigDict(json_schema_extra=require_a_field)

    title: Omittable[str] = Field(None, min_length=1, max_length=255)
    order: Omittable[int] = Field(None, ge=0, le=1_000_000)
    mux_playback_id: str | None = Field(None, pattern=PLAYBACK_ID_PATTERN)
    duration_seconds: Omittable[int] = Field(None, ge=0, le=10_000_000)
    start_time_seconds: Omittable[int] = Field(None, ge=0, le=10_000_000)


class LessonOrder(CamelModel):
    lesson_ids: list[uuid.UUID] = Field(max_length=1000)


class SubLessonOut(CamelModel):
    id: str
    lesson_id: str
    title: str
    order: int
    mux_playback_id: str | None
    duration_seconds: int
    start_time_seconds: int
    video_status: str | None
    video_error: str | None
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
            video_status=sub.video_status,
            video_error=sub.video_error,
            created_at=sub.created_at,
        )


class LessonOut(CamelModel):
    id: str
    module_id: str
    title: str
    order: int
    mux_playback_id: str | None
    duration_seconds: int
    description: str | None
    video_status: str | None
    """NULL until Mux reports on the playback id; then preparing, ready or errored."""
    video_error: str | None
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
            description=lesson.description,
            video_status=lesson.video_status,
            video_error=lesson.video_error,
            created_at=lesson.created_at,
            sub_lessons=[SubLessonOut.of(s) for s in subs or []],
        )


class LessonEnvelope(CamelModel):
    success: bool = True
    lesson: LessonOut


class LessonDetail(CamelModel):
    """One lesson for its page: where it sits in its module and what comes before and after."""

    success: bool = True
    lesson: LessonOut
    module_id: str
    module_title: str
    previous_lesson_id: str | None
    next_lesson_id: str | None


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


async def get_lesson(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    lesson_id = path_uuid(request, "lessonId")
    repo = LessonRepository(svc.db)
    module = await repo.module_of_lesson(lesson_id)
    if module is None:
        raise not_found("lesson")
    require_unlocked(principal, module)
    outline = await repo.outline(module.id)
    index = next(i for i, o in enumerate(outline) if o.lesson.id == lesson_id)
    here = outline[index]
    return respond(
        LessonDetail(
            lesson=LessonOut.of(here.lesson, here.sub_lessons),
            module_id=str(module.id),
            module_title=module.title,
            previous_lesson_id=str(outline[index - 1].lesson.id) if index > 0 else None,
            next_lesson_id=str(outline[index + 1].lesson.id) if index + 1 < len(outline) else None,
        )
    )


def _changes(body: LessonUpdate | SubLessonUpdate, nullable: frozenset[str]) -> dict[str, object]:
    changes: dict[str, object] = {}
    for field in body.model_fields_set:
        value = getattr(body, field)
        if value is None and field not in nullable:
            raise invalid(type(body).model_fields[field].alias or field, "may not be null")
        changes[field] = value
    if not changes:
        raise invalid("body", "name at least one field to change")
    return changes


async def update_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    lesson_id = path_uuid(request, "lessonId")
    body = await parse_body(request, LessonUpdate)
    changes = _changes(body, frozenset({"mux_playback_id", "description"}))
    repo = LessonRepository(svc.db)
    lesson = await repo.update_lesson(lesson_id, changes)
    if lesson is None:
        raise not_found("lesson")
    outline = [o for o in await repo.outline(lesson.module_id) if o.lesson.id == lesson_id]
    subs = outline[0].sub_lessons if outline else []
    return respond(LessonEnvelope(lesson=LessonOut.of(lesson, subs)))


async def update_sub_lesson(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    body = await parse_body(request, SubLessonUpdate)
    changes = _changes(body, frozenset({"mux_playback_id"}))
    sub = await LessonRepository(svc.db).update_sub_lesson(
        path_uuid(request, "subLessonId"), changes
    )
    if sub is None:
        raise not_found("sub-lesson")
    return respond(SubLessonEnvelope(sub_lesson=SubLessonOut.of(sub)))


async def reorder_lessons(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    module_id = path_uuid(request, "moduleId")
    body = await parse_body(request, LessonOrder)
    repo = LessonRepository(svc.db)
    try:
        found = await repo.reorder(module_id, body.lesson_ids)
    except OrderMismatch as exc:  # a valid list that is not the module's lessons now: 409
        message = str(exc)
        raise ApiError(
            409, f"lessonIds: {message}", fields=[{"field": "lessonIds", "message": message}]
        ) from exc
    if not found:
        raise not_found("module")
    outline = await repo.outline(module_id)
    return respond(LessonList(lessons=[LessonOut.of(o.lesson, o.sub_lessons) for o in outline]))


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
        "PUT",
        f"{_M}/order",
        reorder_lessons,
        "Put a module's lessons in the given order (all of them, in one transaction)",
        "lessons",
        body=LessonOrder,
        response=LessonList,
        permission="admin.access",
        errors=(404, 409),
    ),
    Operation(
        "GET",
        _L,
        get_lesson,
        "One lesson with its sub-lessons, its module and its neighbours",
        "lessons",
        response=LessonDetail,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "PATCH",
        _L,
        update_lesson,
        "Edit a lesson (title, order, description, Mux playback id, duration)",
        "lessons",
        body=LessonUpdate,
        response=LessonEnvelope,
        permission="admin.access",
        errors=(404,),
    ),
    Operation(
        "PATCH",
        "/api/workbook/sub-lessons/{subLessonId}",
        update_sub_lesson,
        "Edit a sub-lesson",
        "lessons",
        body=SubLessonUpdate,
        response=SubLessonEnvelope,
        permission="admin.access",
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
