"""What a user is watching: their progress on a module's lessons in one call (the module page)
and the lessons they started and did not finish ("continue watching" on the home page).

Lessons of modules locked for the caller are left out of "continue watching" (a downgraded
account keeps its rows, but the page must not offer what it cannot play).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.modules import is_locked_for, load_module, require_unlocked
from api.openapi import Operation
from api.schema import CamelModel, parse_query, path_uuid, respond
from api.security import require
from api.services import services
from storage.progress import ProgressRepository


class LessonProgressOut(CamelModel):
    lesson_id: str
    position_seconds: float
    watch_time_seconds: float
    completed: bool
    updated_at: datetime


class ModuleLessonsProgress(CamelModel):
    progress: list[LessonProgressOut]


class ContinueQuery(CamelModel):
    limit: int = Field(5, ge=1, le=20)


class ContinueItem(CamelModel):
    lesson_id: str
    lesson_title: str
    module_id: str
    module_title: str
    position_seconds: float
    duration_seconds: int
    updated_at: datetime


class ContinueList(CamelModel):
    items: list[ContinueItem]


async def module_lessons_progress(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    module = await load_module(request, path_uuid(request, "moduleId"))
    require_unlocked(principal, module)
    rows = await ProgressRepository(svc.db).lessons_in_module(principal.user_id, module.id)
    return respond(
        ModuleLessonsProgress(
            progress=[
                LessonProgressOut(
                    lesson_id=str(row.lesson_id),
                    position_seconds=row.position_seconds,
                    watch_time_seconds=row.watch_time_seconds,
                    completed=row.completed,
                    updated_at=row.updated_at,
                )
                for row in rows
            ]
        )
    )


async def continue_watching(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    query = parse_query(request, ContinueQuery)
    found = await ProgressRepository(svc.db).unfinished(principal.user_id, query.limit)
    items = [
        ContinueItem(
            lesson_id=str(w.lesson.id),
            lesson_title=w.lesson.title,
            module_id=str(w.module.id),
            module_title=w.module.title,
            position_seconds=w.progress.position_seconds,
            duration_seconds=w.lesson.duration_seconds,
            updated_at=w.progress.updated_at,
        )
        for w in found
        if not is_locked_for(principal, w.module)
    ]
    return respond(ContinueList(items=items))


operations = [
    Operation(
        "GET",
        "/api/progress/modules/{moduleId}/lessons",
        module_lessons_progress,
        "My progress on each lesson of a module (lessons never opened are absent)",
        "progress",
        response=ModuleLessonsProgress,
        permission="workbook.read",
        errors=(403, 404),
    ),
    Operation(
        "GET",
        "/api/progress/continue",
        continue_watching,
        "Lessons I started and did not finish, most recent first",
        "progress",
        query=ContinueQuery,
        response=ContinueList,
        permission="workbook.read",
    ),
]
