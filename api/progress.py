"""Progress: module progress (`/api/workbook/progress`) and video progress (`/api/progress`).

Every video-progress field is optional (the seed's 400-error lesson) and saves are idempotent
merges done in storage: watch time never goes down, completion is sticky, and the position is
last-write-wins by `clientTimestamp` (ISO 8601, or a number of epoch seconds/milliseconds).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import not_found
from api.modules import load_module, require_unlocked
from api.openapi import Operation
from api.schema import CamelModel, parse_body, path_uuid, respond
from api.security import Principal, require
from api.services import services
from storage.lessons import LessonRepository
from storage.models import LessonProgress, ModuleProgress, ProgressStatus, SubLessonProgress
from storage.progress import ProgressRepository, ProgressSave

StatusName = Literal["not_started", "in_progress", "completed"]
MAX_SECONDS = 10_000_000
EpochNumber = Annotated[float, Field(ge=0, le=1e14, allow_inf_nan=False)]


class ModuleProgressBody(CamelModel):
    progress_percent: int | None = Field(None, ge=0, le=100)
    time_spent_minutes: int | None = Field(None, ge=0, le=10_000_000)
    status: StatusName | None = None


class ModuleProgressOut(CamelModel):
    module_id: str
    status: StatusName
    progress_percent: int
    time_spent_minutes: int
    last_accessed_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, row: ModuleProgress) -> ModuleProgressOut:
        return cls(
            module_id=str(row.module_id),
            status=row.status.value,
            progress_percent=row.progress_percent,
            time_spent_minutes=row.time_spent_minutes,
            last_accessed_at=row.last_accessed_at,
            completed_at=row.completed_at,
        )


class ModuleProgressEnvelope(CamelModel):
    success: bool = True
    progress: ModuleProgressOut


class ModuleProgressList(CamelModel):
    progress: list[ModuleProgressOut]


COMPLETION = 0.95
"""The share of a video's duration watched that completes it."""


class VideoProgressBody(CamelModel):
    position_seconds: float | None = Field(None, ge=0, le=MAX_SECONDS, allow_inf_nan=False)
    watch_time_seconds: float | None = Field(
        None,
        ge=0,
        le=MAX_SECONDS,
        allow_inf_nan=False,
        description="total seconds watched across sessions (start from the stored value); "
        "95 % of the video's duration completes it",
    )
    completed: bool | None = None
    client_timestamp: datetime | EpochNumber | None = Field(
        None, description="ISO 8601, or epoch seconds / milliseconds"
    )


class VideoProgressOut(CamelModel):
    id: str
    position_seconds: float
    watch_time_seconds: float
    completed: bool
    completed_at: datetime | None
    updated_at: datetime | None


class VideoProgressEnvelope(CamelModel):
    success: bool = True
    progress: VideoProgressOut


def _timestamp(value: datetime | float | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    seconds = value / 1000 if value > 1e11 else value  # Date.now() sends milliseconds
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


async def save_module_progress(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    module = await load_module(request, path_uuid(request, "moduleId"))
    require_unlocked(principal, module)
    body = await parse_body(request, ModuleProgressBody, optional=True)
    row = await ProgressRepository(svc.db).save_module(
        principal.user_id,
        module.id,
        status=ProgressStatus(body.status) if body.status else None,
        progress_percent=body.progress_percent,
        time_spent_minutes=body.time_spent_minutes,
    )
    if row is None:
        raise not_found("module")
    return respond(ModuleProgressEnvelope(progress=ModuleProgressOut.of(row)))


async def list_module_progress(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    rows = await ProgressRepository(svc.db).list_modules(principal.user_id)
    return respond(ModuleProgressList(progress=[ModuleProgressOut.of(r) for r in rows]))


def _video_out(row: LessonProgress | SubLessonProgress | None, item: uuid.UUID) -> VideoProgressOut:
    if row is None:
        return VideoProgressOut(
            id=str(item),
            position_seconds=0,
            watch_time_seconds=0,
            completed=False,
            completed_at=None,
            updated_at=None,
        )
    return VideoProgressOut(
        id=str(item),
        position_seconds=row.position_seconds,
        watch_time_seconds=row.watch_time_seconds,
        completed=row.completed,
        completed_at=row.completed_at,
        updated_at=row.updated_at,
    )


async def _video_target(request: Request, principal: Principal, sub: bool) -> uuid.UUID:
    repo = LessonRepository(services(request).db)
    if sub:
        item = path_uuid(request, "subLessonId")
        module = await repo.module_of_sub_lesson(item)
    else:
        item = path_uuid(request, "lessonId")
        module = await repo.module_of_lesson(item)
    if module is None:
        raise not_found("sub-lesson" if sub else "lesson")
    require_unlocked(principal, module)
    return item


async def _save_video(request: Request, sub: bool) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.write")
    item = await _video_target(request, principal, sub)
    body = await parse_body(request, VideoProgressBody, optional=True)
    lessons = LessonRepository(svc.db)
    video = await (lessons.get_sub_lesson(item) if sub else lessons.get_lesson(item))
    duration = video.duration_seconds if video is not None else 0
    watched = body.watch_time_seconds or 0
    save = ProgressSave(
        position_seconds=body.position_seconds,
        watch_time_seconds=body.watch_time_seconds,
        # Completion: the client says so (the video ended), or 95 % of the video was watched.
        completed=body.completed or (duration > 0 and watched >= COMPLETION * duration) or None,
        client_timestamp=_timestamp(body.client_timestamp),
    )
    repo = ProgressRepository(svc.db)
    row: LessonProgress | SubLessonProgress | None
    if sub:
        row = await repo.save_sub_lesson(principal.user_id, item, save)
    else:
        row = await repo.save_lesson(principal.user_id, item, save)
    if row is None:
        raise not_found("sub-lesson" if sub else "lesson")
    return respond(VideoProgressEnvelope(progress=_video_out(row, item)))


async def _get_video(request: Request, sub: bool) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    item = await _video_target(request, principal, sub)
    repo = ProgressRepository(svc.db)
    row: LessonProgress | SubLessonProgress | None
    if sub:
        row = await repo.get_sub_lesson(principal.user_id, item)
    else:
        row = await repo.get_lesson(principal.user_id, item)
    return respond(VideoProgressEnvelope(progress=_video_out(row, item)))


async def save_lesson_progress(request: Request) -> Response:
    return await _save_video(request, sub=False)


async def get_lesson_progress(request: Request) -> Response:
    return await _get_video(request, sub=False)


async def save_sub_lesson_progress(request: Request) -> Response:
    return await _save_video(request, sub=True)


async def get_sub_lesson_progress(request: Request) -> Response:
    return await _get_video(request, sub=True)


_L = "/api/progress/lessons/{lessonId}"
_S = "/api/progress/sub-lessons/{subLessonId}"
_E = (403, 404)
operations = [
    Operation(
        "GET",
        "/api/workbook/progress",
        list_module_progress,
        "My module progress",
        "progress",
        response=ModuleProgressList,
        permission="workbook.read",
    ),
    Operation(
        "POST",
        "/api/workbook/progress/{moduleId}",
        save_module_progress,
        "Save module progress (given fields overwrite)",
        "progress",
        body=ModuleProgressBody,
        body_optional=True,
        response=ModuleProgressEnvelope,
        permission="workbook.write",
        errors=_E,
    ),
    Operation(
        "POST",
        _L,
        save_lesson_progress,
        "Merge a lesson progress save",
        "progress",
        body=VideoProgressBody,
        body_optional=True,
        response=VideoProgressEnvelope,
        permission="workbook.write",
        errors=_E,
    ),
    Operation(
        "GET",
        _L,
        get_lesson_progress,
        "My lesson progress",
        "progress",
        response=VideoProgressEnvelope,
        permission="workbook.read",
        errors=_E,
    ),
    Operation(
        "POST",
        _S,
        save_sub_lesson_progress,
        "Merge a sub-lesson progress save",
        "progress",
        body=VideoProgressBody,
        body_optional=True,
        response=VideoProgressEnvelope,
        permission="workbook.write",
        errors=_E,
    ),
    Operation(
        "GET",
        _S,
        get_sub_lesson_progress,
        "My sub-lesson progress",
        "progress",
        response=VideoProgressEnvelope,
        permission="workbook.read",
        errors=_E,
    ),
]
