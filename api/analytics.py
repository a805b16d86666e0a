"""Admin analytics (`/api/admin/analytics/*`): engagement and completion over a date range.

Each dataset is JSON by default and CSV with `?format=csv` (an attachment; cells that a
spreadsheet would run as a formula are prefixed with `'`). `from` and `to` are UTC calendar days,
both included; without them the last 30 days up to today. Only `admin.access` may read them, at
most `RATE_LIMIT_ANALYTICS` requests per admin (JSON and CSV alike; 429 with Retry-After past
it). The figures are computed by `storage.analytics` from the stored rows on every request; the
response models are in `api.analytics_models`.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from api.analytics_models import (
    AnalyticsLessons,
    AnalyticsModules,
    AnalyticsOverview,
    AnalyticsQuery,
    AnalyticsRange,
    AnalyticsRecordings,
    AnalyticsSessions,
)
from api.errors import invalid
from api.openapi import Operation
from api.ratelimit import enforce
from api.schema import parse_query, respond
from api.security import require
from api.services import services
from storage.analytics import AnalyticsRepository
from storage.analytics_types import (
    DROP_OFF_BUCKETS,
    LessonStats,
    ModuleStats,
    Range,
    SessionStats,
)

DEFAULT_DAYS = 30
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
# CSV column names that differ from the stored field's name
_COLUMN = {"module_title": "module"}


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
    if isinstance(value, datetime):
        return value.isoformat()
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


def _columns(kind: type[Any]) -> list[str]:
    """A column per field of a stored item; the drop-off list is one column per tenth."""
    step = 100 // DROP_OFF_BUCKETS
    out: list[str] = []
    for f in dataclasses.fields(kind):
        if f.name == "drop_off":
            out += [f"stopped_{i * step}_{(i + 1) * step}_percent" for i in range(DROP_OFF_BUCKETS)]
        else:
            out.append(_COLUMN.get(f.name, f.name))
    return out


def _cells(item: Any) -> list[object]:
    out: list[object] = []
    for f in dataclasses.fields(item):
        value = getattr(item, f.name)
        out += value if isinstance(value, list) else [value]
    return out


Metric = tuple[str, str, Any]  # (metric, day or "", value): the CSV of the two summary datasets
Answer = tuple[BaseModel, Callable[[], tuple[Sequence[str], Iterable[Sequence[object]]]]]
Fetch = Callable[[AnalyticsRepository, Range, AnalyticsRange], Awaitable[Answer]]


def _endpoint(name: str, fetch: Fetch) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        svc = services(request)
        principal = require(request, svc.tokens, "admin.access")
        query = parse_query(request, AnalyticsQuery)
        shown, span = _span(query)
        limits = svc.limits
        await enforce(svc.limiter, limits.analytics, str(principal.user_id), enabled=limits.enabled)
        body, table = await fetch(AnalyticsRepository(svc.db), span, shown)
        if query.format == "csv":
            return _csv(name, shown, *table())
        return respond(body)

    return endpoint


def _metrics(rows: Iterable[Metric]) -> Callable[[], tuple[Sequence[str], Iterable[Metric]]]:
    return lambda: (("metric", "day", "value"), list(rows))


async def _overview(repo: AnalyticsRepository, span: Range, shown: AnalyticsRange) -> Answer:
    o = await repo.overview(span)
    body = AnalyticsOverview.model_validate({"range": shown, **dataclasses.asdict(o)})
    totals = [(f.name, "", getattr(o, f.name)) for f in dataclasses.fields(o)]
    daily = [("daily_active_users", d.day, d.count) for d in o.daily_active]
    return body, _metrics([t for t in totals if t[0] != "daily_active"] + daily)


async def _recordings(repo: AnalyticsRepository, span: Range, shown: AnalyticsRange) -> Answer:
    r = await repo.recordings(span)
    body = AnalyticsRecordings.model_validate({"range": shown, **dataclasses.asdict(r)})
    rows: list[Metric] = [
        ("uploaded", "", r.uploaded),
        *((f"status_{name}", "", n) for name, n in sorted(r.by_status.items())),
        ("transcriptions", "", r.transcriptions),
        ("audio_seconds", "", r.audio_seconds),
        ("transcribed_seconds", "", r.transcribed_seconds),
    ]
    for d in r.daily:
        rows += [("uploaded", d.day, d.uploaded), ("transcribed", d.day, d.transcribed)]
    return body, _metrics(rows)


Items = Callable[[AnalyticsRepository, Range], Awaitable[Sequence[Any]]]


def _items(key: str, model: type[BaseModel], kind: type[Any], query: Items) -> Fetch:
    """A dataset that is a list of stored items: JSON `{range, <key>: [...]}`, CSV a row each."""

    async def fetch(repo: AnalyticsRepository, span: Range, shown: AnalyticsRange) -> Answer:
        found = await query(repo, span)
        body = model.model_validate({"range": shown, key: found})
        return body, lambda: (_columns(kind), [_cells(item) for item in found])

    return fetch


def _datasets() -> list[tuple[str, Fetch, type[BaseModel], str]]:
    return [
        ("overview", _overview, AnalyticsOverview, "Active users, completions, watch time by day"),
        (
            "modules",
            _items("modules", AnalyticsModules, ModuleStats, AnalyticsRepository.modules),
            AnalyticsModules,
            "Module learners, completion and time spent",
        ),
        (
            "lessons",
            _items("lessons", AnalyticsLessons, LessonStats, AnalyticsRepository.lessons),
            AnalyticsLessons,
            "Lesson watch time and drop-off points",
        ),
        (
            "sessions",
            _items("sessions", AnalyticsSessions, SessionStats, AnalyticsRepository.sessions),
            AnalyticsSessions,
            "Live session attendance and engagement",
        ),
        ("recordings", _recordings, AnalyticsRecordings, "Recordings uploaded and transcribed"),
    ]


_P = "/api/admin/analytics"
_MEDIA = ("application/json", "text/csv")
operations = [
    Operation(
        "GET",
        f"{_P}/{name}",
        _endpoint(name, fetch),
        summary,
        "analytics",
        query=AnalyticsQuery,
        response=model,
        permission="admin.access",
        errors=(429,),
        media_type=_MEDIA,
    )
    for name, fetch, model, summary in _datasets()
]
