"""`/api/workbook/sessions`: schedule, run and export live workshop sessions (docs/rooms.md).

Thin: the rules live in `rooms.service`. Any signed-in user lists, reads and joins sessions;
creating one needs `sessions.host`; changing, starting, ending and cancelling one needs to be
its host (or an admin). The live room is the document `sessions/<id>` (WebSocket, read-only,
typed actions), opened after `join`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.errors import ApiError, invalid
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import (
    CamelModel,
    Omittable,
    Success,
    parse_body,
    parse_query,
    path_uuid,
    respond,
)
from api.security import Permission, Principal, require
from api.services import Services, services
from collab import CollabServer
from notes.markdown import to_markdown as notes_markdown
from rooms.document import room_name
from rooms.export import to_markdown
from rooms.media import may_publish
from rooms.rules import HOSTS, SPEAKERS
from rooms.service import RoomService, SessionError
from storage.models import LiveSession, SessionParticipant, SessionStatus

StatusName = Literal["scheduled", "waiting", "live", "ended", "cancelled"]
RoleName = Literal["host", "co-host", "presenter", "participant", "viewer"]
Who = Literal["everyone", "hosts"]


class SessionSettings(CamelModel):
    chat: bool = True
    questions: bool = True
    anonymous_questions: bool = True
    who_may_unmute: Who = "everyone"
    who_may_share: Who = "hosts"
    max_participants: int = Field(500, ge=2, le=1000)


class SessionSettingsPatch(CamelModel):
    chat: Omittable[bool] = None
    questions: Omittable[bool] = None
    anonymous_questions: Omittable[bool] = None
    who_may_unmute: Omittable[Who] = None
    who_may_share: Omittable[Who] = None
    max_participants: Omittable[int] = Field(None, ge=2, le=1000)


class SessionCreate(CamelModel):
    title: str = Field(min_length=1, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    scheduled_start: AwareDatetime
    scheduled_end: AwareDatetime
    settings: SessionSettings = Field(default_factory=SessionSettings)


class SessionUpdate(CamelModel):
    """Only the fields present change; only ``description`` may be null (cleared)."""

    title: Omittable[str] = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    scheduled_start: Omittable[AwareDatetime] = None
    scheduled_end: Omittable[AwareDatetime] = None
    settings: Omittable[SessionSettingsPatch] = None


class SessionQuery(CamelModel):
    filter: Literal["all", "upcoming", "live", "past", "mine"] = "all"
    limit: int = Field(20, ge=1, le=100)
    offset: int = Field(0, ge=0, le=100_000)


class ExportQuery(CamelModel):
    format: Literal["json", "md"] = "json"


class SessionOut(CamelModel):
    id: str
    host_id: str
    title: str
    description: str | None
    status: StatusName
    scheduled_start: datetime
    scheduled_end: datetime
    actual_start: datetime | None
    actual_end: datetime | None
    settings: SessionSettings
    document: str = Field(description="the live room: WebSocket /collab/<document>")
    join_url: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, live: LiveSession) -> SessionOut:
        return cls(
            id=str(live.id), host_id=str(live.host_id), title=live.title,
            description=live.description, status=live.status.value,
            scheduled_start=live.scheduled_start, scheduled_end=live.scheduled_end,
            actual_start=live.actual_start, actual_end=live.actual_end,
            settings=SessionSettings.model_validate(live.settings), document=room_name(live.id),
            join_url=join_url(live.id), created_at=live.created_at, updated_at=live.updated_at,
        )


class ParticipantOut(CamelModel):
    id: str
    session_id: str
    user_id: str
    role: RoleName
    joined_at: datetime | None
    left_at: datetime | None
    engagement: dict[str, float]

    @classmethod
    def of(cls, p: SessionParticipant) -> ParticipantOut:
        return cls(
            id=str(p.id), session_id=str(p.session_id), user_id=str(p.user_id),
            role=p.role.value, joined_at=p.joined_at, left_at=p.left_at,
            engagement=dict(p.engagement_data),
        )


class MediaPermissions(CamelModel):
    can_chat: bool
    can_ask: bool
    can_vote: bool
    can_raise_hand: bool
    can_unmute: bool
    can_share: bool
    can_moderate: bool


class SessionEnvelope(CamelModel):
    success: bool = True
    session: SessionOut


class SessionCreated(SessionEnvelope):
    join_url: str


class JoinResult(SessionEnvelope):
    participant: ParticipantOut
    permissions: MediaPermissions


class SessionList(CamelModel):
    sessions: list[SessionOut]
    total: int
    has_more: bool


def join_url(session_id: uuid.UUID) -> str:
    return f"/sessions/{session_id}"


def permissions_for(role: str, settings: SessionSettings) -> MediaPermissions:
    hosts = role in HOSTS
    speaker = hosts or role in SPEAKERS
    # the relay's own rule (rooms.media), so the page offers exactly what the server accepts
    room_settings = {"whoMayUnmute": settings.who_may_unmute, "whoMayShare": settings.who_may_share}
    return MediaPermissions(
        can_chat=speaker and settings.chat,
        can_ask=speaker and settings.questions,
        can_vote=True,
        can_raise_hand=speaker,
        can_unmute=may_publish(role, room_settings, "audio"),
        can_share=may_publish(role, room_settings, "screen"),
        can_moderate=hosts,
    )


async def _guard(request: Request, permission: Permission) -> tuple[Services, Principal]:
    svc = services(request)
    principal = require(request, svc.tokens, permission)
    await enforce(
        svc.limiter, svc.limits.sessions, str(principal.user_id), enabled=svc.limits.enabled
    )
    return svc, principal


def _rooms(svc: Services) -> RoomService:
    return RoomService(svc.db, svc.collab if isinstance(svc.collab, CollabServer) else None)


def _error(exc: SessionError) -> ApiError:
    if exc.kind == "not_found":
        return ApiError(404, exc.message)
    if exc.kind == "invalid" and exc.field:
        return invalid(exc.field, exc.message)
    if exc.kind == "conflict" and exc.field:
        return ApiError(409, f"{exc.field}: {exc.message}",
                        fields=[{"field": exc.field, "message": exc.message}])
    status = {"forbidden": 403, "removed": 403, "full": 409, "conflict": 409}[exc.kind]
    code = {"removed": "removed", "full": "session_full"}.get(exc.kind)
    return ApiError(status, exc.message, code=code)


_FILTERS: dict[str, tuple[SessionStatus, ...]] = {
    "all": (),
    "upcoming": (SessionStatus.SCHEDULED, SessionStatus.WAITING),
    "live": (SessionStatus.LIVE,),
    "past": (SessionStatus.ENDED, SessionStatus.CANCELLED),
    "mine": (),
}


async def list_sessions(request: Request) -> Response:
    svc, principal = await _guard(request, "workbook.read")
    query = parse_query(request, SessionQuery)
    found, total = await _rooms(svc).sessions.list_sessions(
        statuses=_FILTERS[query.filter],
        member_id=principal.user_id if query.filter == "mine" else None,
        limit=query.limit, offset=query.offset,
    )
    page = [SessionOut.of(live) for live in found]
    more = query.offset + len(page) < total
    return respond(SessionList(sessions=page, total=total, has_more=more))


async def create_session(request: Request) -> Response:
    svc, principal = await _guard(request, "sessions.host")
    body = await parse_body(request, SessionCreate)
    if body.scheduled_end < body.scheduled_start:
        # Schema-valid fields that disagree with each other: 409, like every such conflict
        # (a 422 means the body breaks the published schema).
        message = "must not be before scheduledStart"
        raise ApiError(409, f"scheduledEnd: {message}",
                       fields=[{"field": "scheduledEnd", "message": message}])
    live = await _rooms(svc).create(
        principal.user_id, principal.name, title=body.title, description=body.description,
        scheduled_start=body.scheduled_start, scheduled_end=body.scheduled_end,
        settings=body.settings.model_dump(by_alias=True),
    )
    out = SessionOut.of(live)
    return respond(SessionCreated(session=out, join_url=out.join_url), 201)


async def get_session(request: Request) -> Response:
    svc, _ = await _guard(request, "workbook.read")
    try:
        live = await _rooms(svc).get(path_uuid(request, "sessionId"))
    except SessionError as exc:
        raise _error(exc) from exc
    return respond(SessionEnvelope(session=SessionOut.of(live)))


def _changes(body: SessionUpdate) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in body.model_fields_set:
        changes[name] = getattr(body, name)
    if isinstance(body.settings, SessionSettingsPatch):
        changes["settings"] = body.settings.model_dump(by_alias=True, exclude_unset=True)
    return changes


async def update_session(request: Request) -> Response:
    svc, principal = await _guard(request, "sessions.host")
    session_id = path_uuid(request, "sessionId")
    body = await parse_body(request, SessionUpdate)
    rooms = _rooms(svc)
    try:
        live = await rooms.manage(session_id, principal.user_id, principal.admin)
        updated = await rooms.update(live, _changes(body))
    except SessionError as exc:
        raise _error(exc) from exc
    return respond(SessionEnvelope(session=SessionOut.of(updated)))


def _transition(step: str) -> Any:
    async def handler(request: Request) -> Response:
        svc, principal = await _guard(request, "sessions.host")
        rooms = _rooms(svc)
        try:
            live = await rooms.manage(path_uuid(request, "sessionId"), principal.user_id,
                                      principal.admin)
            moved = await rooms.transition(live, step)
        except SessionError as exc:
            raise _error(exc) from exc
        return respond(SessionEnvelope(session=SessionOut.of(moved)))

    handler.__name__ = f"{step}_session"
    return handler


async def join_session(request: Request) -> Response:
    svc, principal = await _guard(request, "workbook.read")
    rooms = _rooms(svc)
    try:
        live = await rooms.get(path_uuid(request, "sessionId"))
        participant = await rooms.join(live, principal.user_id, principal.name)
    except SessionError as exc:
        raise _error(exc) from exc
    out = SessionOut.of(live)
    return respond(JoinResult(
        session=out, participant=ParticipantOut.of(participant),
        permissions=permissions_for(participant.role.value, out.settings),
    ))


async def leave_session(request: Request) -> Response:
    svc, principal = await _guard(request, "workbook.read")
    rooms = _rooms(svc)
    try:
        await rooms.leave(await rooms.get(path_uuid(request, "sessionId")), principal.user_id)
    except SessionError as exc:
        raise _error(exc) from exc
    return respond(Success())


async def export_session(request: Request) -> Response:
    svc, principal = await _guard(request, "workbook.read")
    query = parse_query(request, ExportQuery)
    rooms = _rooms(svc)
    try:
        live = await rooms.get(path_uuid(request, "sessionId"))
    except SessionError as exc:
        raise _error(exc) from exc
    host_view = live.host_id == principal.user_id or principal.admin
    if not host_view and await rooms.member(live, principal.user_id) is None:
        raise ApiError(403, "only the session's participants may export it")
    export = await rooms.export(live, host_view=host_view, notes=notes_markdown)
    filename = f"session-{live.id}.{query.format}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if query.format == "md":
        return Response(to_markdown(export), media_type="text/markdown; charset=utf-8",
                        headers=headers)
    return JSONResponse(export, headers=headers)


_P = "/api/workbook/sessions"
_ONE = f"{_P}/{{sessionId}}"
_HOST: Permission = "sessions.host"
operations = [
    Operation("GET", _P, list_sessions, "List sessions (upcoming, live, past, mine)", "sessions",
              query=SessionQuery, response=SessionList, permission="workbook.read",
              errors=(429,)),
    Operation("POST", _P, create_session, "Schedule a live session", "sessions",
              body=SessionCreate, response=SessionCreated, status=201, permission=_HOST,
              errors=(409, 429)),
    Operation("GET", _ONE, get_session, "One session", "sessions", response=SessionEnvelope,
              permission="workbook.read", errors=(404, 429)),
    Operation("PATCH", _ONE, update_session, "Change a session (its host)", "sessions",
              body=SessionUpdate, response=SessionEnvelope, permission=_HOST,
              errors=(404, 409, 429)),
    *(
        Operation("POST", f"{_ONE}/{step}", _transition(step), summary, "sessions",
                  response=SessionEnvelope, permission=_HOST, errors=(404, 409, 429))
        for step, summary in (
            ("start", "Start a session: scheduled -> live (its host)"),
            ("end", "End a session: live -> ended (its host)"),
            ("cancel", "Cancel a session that has not started (its host)"),
        )
    ),
    Operation("POST", f"{_ONE}/join", join_session,
              "Join a session (then open the room document)", "sessions", response=JoinResult,
              permission="workbook.read", errors=(403, 404, 409, 429)),
    Operation("POST", f"{_ONE}/leave", leave_session, "Record leaving a session", "sessions",
              response=Success, permission="workbook.read", errors=(404, 429)),
    Operation("GET", f"{_ONE}/export", export_session,
              "Export chat, polls, Q&A and shared notes (attendance, engagement for the host)",
              "sessions",
              query=ExportQuery, permission="workbook.read", errors=(403, 404, 429),
              media_type="application/octet-stream"),
]
