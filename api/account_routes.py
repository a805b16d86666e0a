"""`/api/workbook/me/export*`: download everything the account owns (api/account_export.py).

`GET /api/workbook/me/export` answers the zip at once for an account with at most
``INLINE_MAX_BYTES`` of recordings; a larger one (or ``async=true``) is built by
``export_account_job`` and the answer is ``202 {exportId, status, statusUrl}``: poll the status,
then download. Exports are kept under ``account-exports/<user>/`` (deleted with the account) and
rate limited per user (``RATE_LIMIT_ACCOUNT_EXPORT``).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime
from typing import Any

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.account_export import INLINE_MAX_BYTES, AccountExporter, export_prefix
from api.errors import ApiError, not_found
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import CamelModel, parse_query, respond
from api.security import Principal, require
from api.services import Services, services
from collab import CollabServer
from jobs import JobQueueFull
from jobs.catalog import export_account_job
from storage.objects import ObjectNotFound

__all__ = ["operations"]

_EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")
_BASE = "/api/workbook/me/exports"


class AccountExportQuery(CamelModel):
    async_: bool = Field(False, alias="async")


class AccountExportJob(CamelModel):
    export_id: str
    status: str
    status_url: str
    download_url: str | None = None
    size: int | None = None


def _job(manifest: dict[str, Any]) -> AccountExportJob:
    base = f"{_BASE}/{manifest['exportId']}"
    done = manifest.get("status") == "done"
    return AccountExportJob(
        export_id=manifest["exportId"], status=manifest["status"], status_url=base,
        download_url=f"{base}/download" if done else None, size=manifest.get("size"),
    )


def _zip_response(data: bytes) -> Response:
    name = f"workbook-export-{datetime.now().strftime('%Y-%m-%d')}.zip"
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def _guard(request: Request) -> tuple[Services, Principal]:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    return svc, principal


async def export(request: Request) -> Response:
    svc, principal = await _guard(request)
    query = parse_query(request, AccountExportQuery)
    await enforce(svc.limiter, svc.limits.account_export, str(principal.user_id),
                  enabled=svc.limits.enabled)
    server = svc.collab if isinstance(svc.collab, CollabServer) else None
    exporter = AccountExporter(svc.db, svc.objects, server)
    if not query.async_ and await exporter.recordings_size(principal.user_id) <= INLINE_MAX_BYTES:
        try:
            return _zip_response(await exporter.build(principal.user_id))
        except LookupError as exc:
            raise ApiError(401, "account no longer exists") from exc
    if svc.jobs is None:
        raise ApiError(503, "background exports are unavailable (no job queue); try again later")
    export_id = secrets.token_hex(16)
    manifest = {"exportId": export_id, "status": "pending",
                "createdAt": datetime.now().astimezone().isoformat()}
    prefix = export_prefix(principal.user_id)
    await svc.objects.put(f"{prefix}{export_id}.json", json.dumps(manifest).encode(),
                          "application/json")
    try:
        await svc.jobs.enqueue(export_account_job, str(principal.user_id), export_id,
                               job_id=f"account-export:{export_id}")
    except JobQueueFull as exc:
        raise ApiError(503, "too many background jobs pending; try again later") from exc
    return JSONResponse(_job(manifest).model_dump(mode="json", by_alias=True), status_code=202)


async def _manifest(request: Request) -> tuple[Services, Principal, dict[str, Any]]:
    svc, principal = await _guard(request)
    await enforce(svc.limiter, svc.limits.account_export_poll, str(principal.user_id),
                  enabled=svc.limits.enabled)
    export_id = str(request.path_params.get("exportId", ""))
    if not _EXPORT_ID.match(export_id):
        raise not_found("export")
    try:  # under the caller's own prefix: another user's export id finds nothing
        raw = await svc.objects.get(f"{export_prefix(principal.user_id)}{export_id}.json")
    except ObjectNotFound as exc:
        raise not_found("export") from exc
    manifest: dict[str, Any] = json.loads(raw)
    return svc, principal, manifest


async def export_status(request: Request) -> Response:
    _, _, manifest = await _manifest(request)
    return respond(_job(manifest))


async def export_download(request: Request) -> Response:
    svc, principal, manifest = await _manifest(request)
    if manifest.get("status") != "done":
        raise not_found("finished export")
    prefix = export_prefix(principal.user_id)
    try:
        data = await svc.objects.get(f"{prefix}{manifest['exportId']}.zip")
    except ObjectNotFound as exc:
        raise not_found("finished export") from exc
    return _zip_response(data)


operations = [
    Operation(
        "GET",
        "/api/workbook/me/export",
        export,
        "Download everything my account owns as a zip (large accounts: 202 and a job to poll)",
        "auth",
        query=AccountExportQuery,
        permission="workbook.read",
        errors=(429, 503),
        media_type="application/zip",
        responses=((202, AccountExportJob),),
    ),
    Operation(
        "GET",
        f"{_BASE}/{{exportId}}",
        export_status,
        "Status of a background account export",
        "auth",
        response=AccountExportJob,
        permission="workbook.read",
        errors=(404, 429),
        path_patterns=(("exportId", _EXPORT_ID.pattern),),
    ),
    Operation(
        "GET",
        f"{_BASE}/{{exportId}}/download",
        export_download,
        "Download a finished account export",
        "auth",
        permission="workbook.read",
        errors=(404, 429),
        media_type="application/zip",
        path_patterns=(("exportId", _EXPORT_ID.pattern),),
    ),
]
