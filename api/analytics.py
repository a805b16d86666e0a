"""Admin analytics (`/api/admin/analytics/*`): engagement and completion over a date range.

Each dataset is JSON by default and CSV with `?format=csv` (an attachment; cells that a
spreadsheet would run as a formula are prefixed with `'`). `from` and `to` are UTC calendar days,
both included; without them the last 30 days up to today. Only `admin.access` may read them.
The figures are computed by `storage.analytics` from the stored rows on every request.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import invalid
from api.openapi import Operation
from api.schema import CamelModel, parse_query, respond
from api.security import require
from api.services import services
from storage.analytics import (
    DROP_OFF_BUCKETS,
    AnalyticsRepository,
    DayCount,
    LessonStats,
    ModuleStats,
    Range,
    RecordingDay,
    SessionStats,
)

DEFAULT_DAYS = 30
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _iso_day(value: object) -> object:
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


class AnalyticsQuery(CamelModel):
    from_: Day | None = Field(
        None, alias="from", description="first UTC day (default: 29 days before `to`)"
    )
    to: Day | None = Field(None, description="last UTC day, included (default: today)")
    format: Literal["json", "csv"] = "json"


class AnalyticsRange(CamelModel):
    from_: date = Field(alias="from")
    to: date


class AnalyticsDayCount(CamelModel):
    day: str
    count: int


class AnalyticsOverview(CamelModel):
    range: AnalyticsRange
    total_users: int
    new_users: int
    active_users: int
    lessons_completed: int
    modules_completed: int
    watch_seconds: float
    daily_active: list[AnalyticsDayCount]


class AnalyticsModule(CamelModel):
    module_id: str
    title: str
    learners: int
    completed: int
    average_percent: float
    time_spent_minutes: int


class AnalyticsModules(CamelModel):
    range: AnalyticsRange
    modules: list[AnalyticsModule]


class AnalyticsLesson(CamelModel):
    lesson_id: str
    module_title: str
    title: str
    duration_seconds: int
    viewers: int
    completed: int
    watch_seconds: float
    average_watch_seconds: float
    drop_off: list[int] = Field(
        description=f"viewers who stopped, not completed, in each of {DROP_OFF_BUCKETS} equal "
        "parts of the video (by their stored position)"
    )


class AnalyticsLessons(CamelModel):
    range: AnalyticsRange
    lessons: list[AnalyticsLesson]


class AnalyticsSession(CamelModel):
    session_id: str
    title: str
    status: str
    started_at: datetime
    registered: int
    attended: int
    messages: int
    votes: int
    questions: int
    hands: int
    average_seconds_present: float


class AnalyticsSessions(CamelModel):
    range: AnalyticsRange
    sessions: list[AnalyticsSession]


class AnalyticsRecordingDay(CamelModel):
    day: str
    uploaded: int
    transcribed: int


class AnalyticsRecordings(CamelModel):
    range: AnalyticsRange
    uploaded: int
    by_status: dict[str, int]
    transcriptions: int
    audio_seconds: float
    transcribed_seconds: float
    daily: list[AnalyticsRecordingDay]


def _span(query: AnalyticsQuery) -> tuple[AnalyticsRange, Range]:
    last = query.to or datetime.now(UTC).date()
    back = timedelta(days=DEFAULT_DAYS - 1)
    first = query.from_ or (last - back if last - date.min > back else date.min)
    if first > last:
        raise invalid("from", "must not be after `to`")
    since = datetime.combine(first, time.min, UTC)
    until = (
        datetime.combine(last + timedelta(days=1), time.min, UTC)
        if last < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    return AnalyticsRange(from_=first, to=last), Range(since, until)


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def _csv(
    name: str, span: AnalyticsRange, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Response:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    filename = f"analytics-{name}-{span.from_.isoformat()}-{span.to.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


Handler = Callable[[AnalyticsRepository, Range, AnalyticsRange, bool], Awaitable[Response]]


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        svc = services(request)
        require(request, svc.tokens, "admin.access")
        query = parse_query(request, AnalyticsQuery)
        shown, span = _span(query)
        return await handler(AnalyticsRepository(svc.db), span, shown, query.format == "csv")

    return endpoint


def _days(days: list[DayCount]) -> list[AnalyticsDayCount]:
    return [AnalyticsDayCount(day=d.day, count=d.count) for d in days]


async def _overview(
    repo: AnalyticsRepository, span: Range, shown: AnalyticsRange, csv_: bool
) -> Response:
    o = await repo.overview(span)
    if csv_:
        totals: list[tuple[str, str, Any]] = [
            ("total_users", "", o.total_users),
            ("new_users", "", o.new_users),
            ("active_users", "", o.active_users),
            ("lessons_completed", "", o.lessons_completed),
            ("modules_completed", "", o.modules_completed),
            ("watch_seconds", "", o.watch_seconds),
        ]
        daily = [("daily_active_users", d.day, d.count) for d in o.daily_active]
        return _csv("overview", shown, ("metric", "day", "value"), [*totals, *daily])
    return respond(
        AnalyticsOverview(
            range=shown,
            total_users=o.total_users,
            new_users=o.new_users,
            active_users=o.active_users,
            lessons_completed=o.lessons_completed,
            modules_completed=o.modules_completed,
            watch_seconds=o.watch_seconds,
            daily_active=_days(o.daily_active),
        )
    )


def _module(m: ModuleStats) -> AnalyticsModule:
    return AnalyticsModule(
        module_id=str(m.module_id),
        title=m.title,
        learners=m.learners,
        completed=m.completed,
        average_percent=m.average_percent,
        time_spent_minutes=m.time_spent_minutes,
    )


async def _modules(
    repo: AnalyticsRepository, span: Range, shown: AnalyticsRange, csv_: bool
) -> Response:
    found = [_module(m) for m in await repo.modules(span)]
    if csv_:
        header = (
            "module_id",
            "title",
            "learners",
            "completed",
            "average_percent",
            "time_spent_minutes",
        )
        rows = [
            (m.module_id, m.title, m.learners, m.completed, m.average_percent, m.time_spent_minutes)
            for m in found
        ]
        return _csv("modules", shown, header, rows)
    return respond(AnalyticsModules(range=shown, modules=found))


def _lesson(s: LessonStats) -> AnalyticsLesson:
    return AnalyticsLesson(
        lesson_id=str(s.lesson_id),
        module_title=s.module_title,
        title=s.title,
        duration_seconds=s.duration_seconds,
        viewers=s.viewers,
        completed=s.completed,
        watch_seconds=s.watch_seconds,
        average_watch_seconds=s.average_watch_seconds,
        drop_off=s.drop_off,
    )


async def _lessons(
    repo: AnalyticsRepository, span: Range, shown: AnalyticsRange, csv_: bool
) -> Response:
    found = [_lesson(s) for s in await repo.lessons(span)]
    if csv_:
        step = 100 // DROP_OFF_BUCKETS
        drops = [f"stopped_{i * step}_{(i + 1) * step}_percent" for i in range(DROP_OFF_BUCKETS)]
        header = (
            "lesson_id",
            "module",
            "title",
            "duration_seconds",
            "viewers",
            "completed",
            "watch_seconds",
            "average_watch_seconds",
            *drops,
        )
        rows = [
            (
                s.lesson_id,
                s.module_title,
                s.title,
                s.duration_seconds,
                s.viewers,
                s.completed,
                s.watch_seconds,
                s.average_watch_seconds,
                *s.drop_off,
            )
            for s in found
        ]
        return _csv("lessons", shown, header, rows)
    return respond(AnalyticsLessons(range=shown, lessons=found))


def _session(s: SessionStats) -> AnalyticsSession:
    return AnalyticsSession(
        session_id=str(s.session_id),
        title=s.title,
        status=s.status,
        started_at=s.started_at,
        registered=s.registered,
        attended=s.attended,
        messages=s.messages,
        votes=s.votes,
        questions=s.questions,
        hands=s.hands,
        average_seconds_present=s.average_seconds_present,
    )


async def _sessions(
    repo: AnalyticsRepository, span: Range, shown: AnalyticsRange, csv_: bool
) -> Response:
    found = [_session(s) for s in await repo.sessions(span)]
    if csv_:
        header = (
            "session_id",
            "title",
            "status",
            "started_at",
            "registered",
            "attended",
            "messages",
            "votes",
            "questions",
            "hands",
            "average_seconds_present",
        )
        rows = [
            (
                s.session_id,
                s.title,
                s.status,
                s.started_at.isoformat(),
                s.registered,
                s.attended,
                s.messages,
                s.votes,
                s.questions,
                s.hands,
                s.average_seconds_present,
            )
            for s in found
        ]
        return _csv("sessions", shown, header, rows)
    return respond(AnalyticsSessions(range=shown, sessions=found))


def _recording_days(days: list[RecordingDay]) -> list[AnalyticsRecordingDay]:
    return [
        AnalyticsRecordingDay(day=d.day, uploaded=d.uploaded, transcribed=d.transcribed)
        for d in days
    ]


async def _recordings(
    repo: AnalyticsRepository, span: Range, shown: AnalyticsRange, csv_: bool
) -> Response:
    r = await repo.recordings(span)
    if csv_:
        rows: list[tuple[str, str, Any]] = [
            ("uploaded", "", r.uploaded),
            *((f"status_{name}", "", n) for name, n in sorted(r.by_status.items())),
            ("transcriptions", "", r.transcriptions),
            ("audio_seconds", "", r.audio_seconds),
            ("transcribed_seconds", "", r.transcribed_seconds),
        ]
        for d in r.daily:
            rows += [("uploaded", d.day, d.uploaded), ("transcribed", d.day, d.transcribed)]
        return _csv("recordings", shown, ("metric", "day", "value"), rows)
    return respond(
        AnalyticsRecordings(
            range=shown,
            uploaded=r.uploaded,
            by_status=r.by_status,
            transcriptions=r.transcriptions,
            audio_seconds=r.audio_seconds,
            transcribed_seconds=r.transcribed_seconds,
            daily=_recording_days(r.daily),
        )
    )


_P = "/api/admin/analytics"
_MEDIA = ("application/json", "text/csv")
operations = [
    Operation(
        "GET",
        f"{_P}/{name}",
        _endpoint(handler),
        summary,
        "analytics",
        query=AnalyticsQuery,
        response=model,
        permission="admin.access",
        media_type=_MEDIA,
    )
    for name, handler, model, summary in (
        ("overview", _overview, AnalyticsOverview, "Active users, completions, watch time by day"),
        ("modules", _modules, AnalyticsModules, "Module learners, completion and time spent"),
        ("lessons", _lessons, AnalyticsLessons, "Lesson watch time and drop-off points"),
        ("sessions", _sessions, AnalyticsSessions, "Live session attendance and engagement"),
        ("recordings", _recordings, AnalyticsRecordings, "Recordings uploaded and transcribed"),
    )
]
