"""`GET /api/health`: each dependency probed with a deadline; 503 when any is down.

The database probe also reads the schema revision: a database behind this build (someone
downgraded it, or restored an old backup after start-up) is reported as unhealthy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.openapi import Operation
from api.schema import CamelModel
from api.services import services
from storage.db import HEAD_REVISION, schema_state, stored_revision

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


class Check(CamelModel):
    status: Literal["ok", "error", "disabled"]
    latency_ms: float | None = None
    message: str | None = None


class SchemaRevision(CamelModel):
    revision: str | None = Field(description="the migration the database is at (null: none)")
    expected: str = Field(description="the migration this build needs (`collab db upgrade`)")


class Health(CamelModel):
    status: Literal["healthy", "unhealthy"]
    timestamp: float
    checks: dict[str, Check]
    schema_: SchemaRevision | None = Field(
        None, alias="schema", description="absent when the database did not answer"
    )


async def _probe(name: str, probe: Callable[[], Awaitable[object]] | None) -> Check:
    if probe is None:
        return Check(status="disabled", message="not configured (embedded default in use)")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await probe()
    except TimeoutError:
        return Check(status="error", message=f"no answer within {CHECK_TIMEOUT_SECONDS:g} s")
    except Exception as exc:  # noqa: BLE001 - a failed probe is a reported result
        log.warning("health check %s failed: %s", name, type(exc).__name__)
        return Check(status="error", message=type(exc).__name__)
    return Check(status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))


_SCHEMA_MESSAGES = {
    "behind": "the database is behind this build: run `collab db upgrade`",
    "newer": "the database was migrated by a newer build",
}


def _schema_check(revision: str | None) -> Check:
    state = schema_state(revision)
    if state == "current":
        return Check(status="ok")
    # Behind: requests would fail on missing tables. Newer: a later build migrated it during a
    # rolling deploy; this node keeps serving and says so.
    return Check(status="error" if state == "behind" else "ok", message=_SCHEMA_MESSAGES[state])


async def health(request: Request) -> Response:
    svc = services(request)
    redis = svc.redis
    objects = svc.objects
    revisions: list[str | None] = []

    async def database() -> None:
        async with svc.db.engine.connect() as conn:
            revisions.append(await stored_revision(conn))

    checks = dict(
        zip(
            ("database", "redis", "objectStorage"),
            await asyncio.gather(
                _probe("database", database),
                _probe("redis", redis.ping if redis is not None else None),
                _probe("objectStorage", objects.check if objects is not None else None),
            ),
            strict=True,
        )
    )
    schema = None
    if revisions:
        checks["schema"] = _schema_check(revisions[0])
        schema = SchemaRevision(revision=revisions[0], expected=HEAD_REVISION)
    healthy = all(check.status != "error" for check in checks.values())
    body = Health(
        status="healthy" if healthy else "unhealthy",
        timestamp=time.time(),
        checks=checks,
        schema=schema,
    )
    payload = body.model_dump(mode="json", by_alias=True, exclude_none=True)
    if schema is not None:
        payload["schema"] = schema.model_dump(mode="json", by_alias=True)  # revision may be null
    return JSONResponse(payload, 200 if healthy else 503)


operations = [
    Operation(
        "GET",
        "/api/health",
        health,
        "Dependency health (database, Redis, object storage) and the schema revision",
        "health",
        response=Health,
        auth="none",
        responses=((503, Health),),
    )
]
