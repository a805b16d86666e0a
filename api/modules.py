"""`/api/workbook/modules`: browse and search the course, admin CRUD, locking by tier.

A module is locked for a caller when an admin locked it or it needs the premium tier the caller
does not have. Locked modules still appear in listings (so the catalogue can upsell them) but
without their content, and their lessons and playback ids stay hidden.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, not_found
from api.openapi import Operation
from api.schema import (
    CamelModel,
    Omittable,
    Success,
    parse_body,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Principal, require
from api.services import services
from storage.models import Difficulty, Module, Tier
from storage.modules import ModuleRepository

DifficultyName = Literal["beginner", "intermediate", "advanced"]
TierName = Literal["free", "premium"]


class ModuleQuery(CamelModel):
    search: str | None = Field(None, max_length=200)
    difficulty: DifficultyName | None = None
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


class ModuleCreate(CamelModel):
    title: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    order: int = Field(0, ge=0, le=1_000_000)
    duration: int = Field(0, ge=0, le=100_000, description="minutes")
    difficulty: DifficultyName = "beginner"
    is_locked: bool = False
    required_tier: TierName = "free"
    content: dict[str, Any] = Field(default_factory=dict)


class ModuleUpdate(CamelModel):
    title: Omittable[str] = Field(None, min_length=1, max_length=255)
    description: Omittable[str] = Field(None, max_length=10_000)
    order: Omittable[int] = Field(None, ge=0, le=1_000_000)
    duration: Omittable[int] = Field(None, ge=0, le=100_000)
    difficulty: Omittable[DifficultyName] = None
    is_locked: Omittable[bool] = None
    required_tier: Omittable[TierName] = None
    content: Omittable[dict[str, Any]] = None


class ModuleOut(CamelModel):
    id: str
    title: str
    description: str
    order: int
    duration: int
    difficulty: DifficultyName
    is_locked: bool
    required_tier: TierName
    content: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class ModuleList(CamelModel):
    modules: list[ModuleOut]
    total: int
    has_more: bool


class ModuleEnvelope(CamelModel):
    success: bool = True
    module: ModuleOut


def is_locked_for(principal: Principal, module: Module) -> bool:
    if principal.admin:
        return False
    return module.is_locked or (module.required_tier == Tier.PREMIUM and not principal.premium)


def module_out(principal: Principal, module: Module) -> ModuleOut:
    locked = is_locked_for(principal, module)
    return ModuleOut(
        id=str(module.id),
        title=module.title,
        description=module.description,
        order=module.order_index,
        duration=module.duration_minutes,
        difficulty=module.difficulty.value,
        is_locked=locked,
        required_tier=module.required_tier.value,
        content=None if locked else module.content,
        created_at=module.created_at,
        updated_at=module.updated_at,
    )


async def load_module(request: Request, module_id: uuid.UUID) -> Module:
    module = await ModuleRepository(services(request).db).get(module_id)
    if module is None:
        raise not_found("module")
    return module


async def list_modules(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    query = parse_query(request, ModuleQuery)
    modules, total = await ModuleRepository(svc.db).search(
        query.search,
        Difficulty(query.difficulty) if query.difficulty else None,
        limit=query.limit,
        offset=query.offset,
    )
    page = [module_out(principal, m) for m in modules]
    return respond(ModuleList(modules=page, total=total, has_more=query.offset + len(page) < total))


async def get_module(request: Request) -> Response:
    principal = require(request, services(request).tokens, "workbook.read")
    module = await load_module(request, path_uuid(request, "moduleId"))
    return respond(ModuleEnvelope(module=module_out(principal, module)))


def _changes(body: ModuleCreate | ModuleUpdate, fields: set[str]) -> dict[str, object]:
    names = {"order": "order_index", "duration": "duration_minutes"}
    changes: dict[str, object] = {}
    for field in fields:
        value = getattr(body, field)  # never None: ModuleUpdate's fields are Omittable
        if field == "difficulty":
            value = Difficulty(value)
        elif field == "required_tier":
            value = Tier(value)
        changes[names.get(field, field)] = value
    return changes


async def create_module(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "admin.access")
    body = await parse_body(request, ModuleCreate)
    values = _changes(body, set(ModuleCreate.model_fields))
    module = await ModuleRepository(svc.db).create(**values)  # type: ignore[arg-type]
    return respond(ModuleEnvelope(module=module_out(principal, module)), 201)


async def update_module(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "admin.access")
    module_id = path_uuid(request, "moduleId")
    body = await parse_body(request, ModuleUpdate)
    module = await ModuleRepository(svc.db).update(module_id, _changes(body, body.model_fields_set))
    if module is None:
        raise not_found("module")
    return respond(ModuleEnvelope(module=module_out(principal, module)))


async def delete_module(request: Request) -> Response:
    svc = services(request)
    require(request, svc.tokens, "admin.access")
    if not await ModuleRepository(svc.db).delete(path_uuid(request, "moduleId")):
        raise not_found("module")
    return respond(Success())


def require_unlocked(principal: Principal, module: Module) -> None:
    if is_locked_for(principal, module):
        raise ApiError(403, "this module is locked for your account", code="module_locked")


_P = "/api/workbook/modules"
_ONE = f"{_P}/{{moduleId}}"
operations = [
    Operation(
        "GET",
        _P,
        list_modules,
        "List or search modules",
        "modules",
        query=ModuleQuery,
        response=ModuleList,
        permission="workbook.read",
    ),
    Operation(
        "POST",
        _P,
        create_module,
        "Create a module",
        "modules",
        body=ModuleCreate,
        response=ModuleEnvelope,
        status=201,
        permission="admin.access",
    ),
    Operation(
        "GET",
        _ONE,
        get_module,
        "One module",
        "modules",
        response=ModuleEnvelope,
        permission="workbook.read",
        errors=(404,),
    ),
    Operation(
        "PATCH",
        _ONE,
        update_module,
        "Update a module",
        "modules",
        body=ModuleUpdate,
        response=ModuleEnvelope,
        permission="admin.access",
        errors=(404,),
    ),
    Operation(
        "DELETE",
        _ONE,
        delete_module,
        "Delete a module",
        "modules",
        response=Success,
        permission="admin.access",
        errors=(404,),
    ),
]
