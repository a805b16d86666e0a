"""`GET /api/health`: each dependency probed with a deadline; 503 when any is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.openapi import Operation
from api.schema import CamelModel
from api.services import services

log = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 3.0


class Check(CamelModel):
    status: Literal["ok", "error", "disabled"]
    latency_ms: float | None = None
    message: str | None = None


class Health(CamelModel):
    status: Literal["healthy", "unhealthy"]
    timestamp: float
    checks: dict[str, Check]


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


async def health(request: Request) -> Response:
    svc = services(request)
    redis = svc.redis
    objects = svc.objects
    checks = dict(
        zip(
            ("database", "redis", "objectStorage"),
            await asyncio.gather(
                _probe("database", svc.db.check),
                _probe("redis", redis.ping if redis is not None else None),
                _probe("objectStorage", objects.check if objects is not None else None),
            ),
            strict=True,
        )
    )
    healthy = all(check.status != "error" for check in checks.values())
    body = Health(
        status="healthy" if healthy else "unhealthy", timestamp=time.time(), checks=checks
    )
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), 200 if healthy else 503)


operations = [
    Operation(
        "GET",
        "/api/health",
        health,
        "Dependency health (database, Redis, object storage)",
        "health",
        response=Health,
        auth="none",
        errors=(503,),
    )
]
