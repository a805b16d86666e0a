"""`/api/mux/*`: signed playback tokens for lessons the caller may watch, and Mux webhooks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, forbidden, not_found
from api.lessons import PLAYBACK_ID_PATTERN
from api.localstream import stream_url
from api.modules import is_locked_for
from api.openapi import Header, Operation
from api.playback import WebhookSignatureError, verify_webhook
from api.schema import CamelModel, parse_body, read_body, respond
from api.security import require
from api.services import services
from storage.lessons import LessonRepository

log = logging.getLogger(__name__)


class PlaybackTokenRequest(CamelModel):
    playback_id: str = Field(pattern=PLAYBACK_ID_PATTERN)
    type: Literal["video", "thumbnail", "storyboard", "gif"] = "video"


class PlaybackToken(CamelModel):
    token: str
    expires_at: int
    stream_url: str | None = Field(
        None,
        description="set when this server serves the playback id itself (development: "
        "`collab sample-course`): play this URL instead of Mux's stream host",
    )
    custom_domain: str | None = Field(
        None,
        description="MUX_CUSTOM_DOMAIN: the player fetches https://stream.<customDomain>/"
        "<playbackId>.m3u8?token=... (and images from image.<customDomain>) instead of mux.com",
    )


class MuxEvent(CamelModel):
    """A Mux webhook body, as far as the receiver reads it (Mux sends more fields)."""

    type: str


class WebhookAck(CamelModel):
    received: bool = True
    type: str | None = None


async def playback_token(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    body = await parse_body(request, PlaybackTokenRequest)
    if svc.mux is None:
        raise ApiError(
            503,
            "Mux signing is not configured: set MUX_SIGNING_KEY_ID and MUX_SIGNING_PRIVATE_KEY "
            "(`collab mux dev-key` makes a development key)",
            code="mux_not_configured",
        )
    lessons = LessonRepository(svc.db)
    modules = await lessons.modules_for_playback_id(body.playback_id)
    if not modules:
        raise not_found("playback id")
    if all(is_locked_for(principal, module) for module in modules):
        raise forbidden("this video belongs to a module that is locked for your account")
    duration = await lessons.longest_duration(body.playback_id)
    token, expires_at = svc.mux.sign(body.playback_id, body.type, covers_seconds=duration)
    local: Path | None = getattr(request.app.state, "local_streams", None)
    stream = None
    domain = svc.mux_custom_domain
    # with a custom domain the page plays through it (its DNS may point at this server's
    # stand-in, or a test intercepts it); otherwise a local stream is played by URL
    if (
        domain is None
        and body.type == "video"
        and local
        and (local / body.playback_id / "index.m3u8").is_file()
    ):
        stream = stream_url(body.playback_id, token)
    return respond(
        PlaybackToken(token=token, expires_at=expires_at, stream_url=stream, custom_domain=domain)
    )


async def webhook(request: Request) -> Response:
    svc = services(request)
    body = await read_body(request)
    try:
        verify_webhook(request.headers.get("mux-signature"), body, svc.mux_webhook_secret)
    except WebhookSignatureError as exc:
        status = 400 if exc.malformed else 401
        raise ApiError(
            status,
            str(exc),
            code="invalid_signature",
            fields=[{"field": "mux-signature", "message": str(exc)}],
        ) from exc
    try:
        event = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "webhook body is not JSON", code="bad_request") from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ApiError(
            400,
            "webhook body must be an object with a string type",
            fields=[{"field": "type", "message": "required string"}],
        )
    changed = await _apply_asset_event(LessonRepository(svc.db), event)
    log.info("mux webhook %s received (%d lesson videos updated)", event["type"], changed)
    return respond(WebhookAck(type=event["type"]))


_ASSET_STATUS = {
    "video.asset.created": "preparing",
    "video.asset.ready": "ready",
    "video.asset.errored": "errored",
}


async def _apply_asset_event(repo: LessonRepository, event: dict[str, Any]) -> int:
    """Record an asset's state on the lessons playing its playback ids; other events and
    assets no lesson plays change nothing (Mux sends every event of the environment)."""
    status = _ASSET_STATUS.get(event["type"])
    data = event.get("data")
    if status is None or not isinstance(data, dict):
        return 0
    ids = [
        entry["id"]
        for entry in data.get("playback_ids") or []
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    ]
    duration = data.get("duration")
    seconds = (
        round(duration)
        if isinstance(duration, int | float) and 0 <= duration < 10_000_000
        else None
    )
    error = None
    if status == "errored":
        errors = data.get("errors")
        messages = errors.get("messages") if isinstance(errors, dict) else None
        texts = [m for m in messages or [] if isinstance(m, str)]
        error = ("; ".join(texts) or "Mux could not process this video")[:500]
    return await repo.set_video_state(
        ids, status, duration_seconds=seconds if status == "ready" else None, error=error
    )


operations = [
    Operation(
        "POST",
        "/api/mux/playback-token",
        playback_token,
        "Sign a Mux playback token (RS256; kid header and claim; aud v|t|s|g)",
        "mux",
        body=PlaybackTokenRequest,
        response=PlaybackToken,
        permission="workbook.read",
        errors=(404, 503),
    ),
    Operation(
        "POST",
        "/api/mux/webhooks",
        webhook,
        "Mux webhook receiver (mux-signature HMAC-SHA256, 300 s tolerance)",
        "mux",
        body=MuxEvent,
        body_errors=(400, 413),
        headers=(
            Header(
                "mux-signature",
                "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<body>'>; 400 when missing or "
                "malformed, 401 when stale or not matching",
                pattern=r"^t=[0-9]{1,12},v1=[0-9a-f]{64}$",
            ),
        ),
        response=WebhookAck,
        auth="none",
        errors=(400, 401),
    ),
]
