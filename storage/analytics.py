"""Admin analytics: aggregate queries over what is already stored (no tracking store of its own).

Every figure is one SQL aggregate over a half-open time range ``[since, until)`` and gives the
same numbers on SQLite and PostgreSQL: days are bucketed in UTC as ``YYYY-MM-DD`` text, JSON
engagement counts are read by each database's own JSON operator, drop-off buckets are computed
by comparisons (no FLOOR, which SQLite lacks) and averages are rounded here. What "in range"
means per dataset:

- a progress row (lesson, sub-lesson, module) counts when it was last saved in the range
  (``updated_at``); a completion when ``completed_at`` is in the range;
- a live session counts when it started (``actual_start``, else ``scheduled_start``) in it;
- a recording when it was uploaded in it; a transcription when it was made in it.

Active users are the distinct users who saved progress, joined a session or uploaded a
recording in the range. Drop-off is where viewers who have not completed a lesson stopped: the
stored position as a tenth of the lesson's duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from storage.analytics_types import (
    DROP_OFF_BUCKETS,
    DayCount,
    LessonStats,
    ModuleStats,
    Overview,
    Range,
    RecordingDay,
    RecordingStats,
    SessionStats,
)
from storage.db import Database
from storage.models import (
    AudioRecording,
    Lesson,
    LessonProgress,
    LiveSession,
    Module,
    ModuleProgress,
    ProgressStatus,
    SessionParticipant,
    SubLessonProgress,
    Transcription,
    User,
)

ENGAGEMENT_KEYS = ("messages", "votes", "questions", "hands")


def _t(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


_USERS = _t(User)
_MODULES = _t(Module)
_LESSONS = _t(Lesson)
_MP = _t(ModuleProgress)
_LP = _t(LessonProgress)
_SP = _t(SubLessonProgress)
_SESSIONS = _t(LiveSession)
_PART = _t(SessionParticipant)
_REC = _t(AudioRecording)
_TRANS = _t(Transcription)


def _round(value: Any) -> float:
    return round(float(value or 0), 2)


class AnalyticsRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def _day(self, column: Any) -> sa.ColumnElement[Any]:
        """The UTC calendar day of a timestamp; ``str()`` of what comes back is ``YYYY-MM-DD``.

        PostgreSQL groups a ``date`` (a 4-byte value): ``to_char`` text cost 3x in the year's
        daily distinct count (per-row formatting, and a text sort that spilled to disk)."""
        if self._db.dialect == "postgresql":
            return sa.cast(sa.func.timezone("UTC", column), sa.Date)
        return sa.func.substr(column, 1, 10)  # SQLite stores naive UTC as ISO text

    def _count(self, key: str) -> sa.ColumnElement[float]:
        """A number from a participant's ``engagement_data`` (0 when absent)."""
        data = _PART.c.engagement_data
        value: Any
        if self._db.dialect == "postgresql":
            value = sa.cast(data.op("->>")(key), sa.Float)
        else:
            value = sa.cast(sa.func.json_extract(data, f"$.{key}"), sa.Float)
        return sa.func.coalesce(value, 0.0)

    async def _rows(self, statement: Any) -> Sequence[Any]:
        async with self._db.read() as session:
            return (await session.execute(statement)).all()

    async def _scalar(self, statement: Any) -> Any:
        async with self._db.read() as session:
            return (await session.execute(statement)).scalar()

    def _activity(self, span: Range) -> sa.Subquery:
        """(user_id, day) of every stored action in the range."""
        parts = [
            sa.select(t.c.user_id, self._day(t.c.updated_at).label("day")).where(
                span.has(t.c.updated_at)
            )
            for t in (_LP, _SP, _MP)
        ]
        parts.append(
            sa.select(_PART.c.user_id, self._day(_PART.c.joined_at).label("day")).where(
                span.has(_PART.c.joined_at)
            )
        )
        parts.append(
            sa.select(_REC.c.user_id, self._day(_REC.c.created_at).label("day")).where(
                span.has(_REC.c.created_at)
            )
        )
        return sa.union_all(*parts).subquery("activity")

    async def overview(self, span: Range) -> Overview:
        activity = self._activity(span)
        active = await self._scalar(sa.select(sa.func.count(sa.distinct(activity.c.user_id))))
        days = await self._rows(
            sa.select(activity.c.day, sa.func.count(sa.distinct(activity.c.user_id)))
            .group_by(activity.c.day)
            .order_by(activity.c.day)
        )
        users = await self._rows(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(
                    sa.func.sum(sa.case((span.has(_USERS.c.created_at), 1), else_=0)), 0
                ),
            ).select_from(_USERS)
        )
        lessons = await self._rows(
            sa.select(
                sa.func.coalesce(
                    sa.func.sum(sa.case((span.has(_LP.c.completed_at), 1), else_=0)), 0
                ),
                sa.func.coalesce(
                    sa.func.sum(
                        sa.case((span.has(_LP.c.updated_at), _LP.c.watch_time_seconds), else_=0.0)
                    ),
                    0.0,
                ),
            ).where(sa.or_(span.has(_LP.c.updated_at), span.has(_LP.c.completed_at)))
        )
        modules = await self._scalar(
            sa.select(sa.func.count()).select_from(_MP).where(span.has(_MP.c.completed_at))
        )
        total, new = users[0]
        completed, watched = lessons[0]
        return Overview(
            total_users=int(total),
            new_users=int(new),
            active_users=int(active or 0),
            lessons_completed=int(completed),
            modules_completed=int(modules or 0),
            watch_seconds=_round(watched),
            daily_active=[DayCount(day=str(day), count=int(n)) for day, n in days],
        )

    async def modules(self, span: Range) -> list[ModuleStats]:
        active = span.has(_MP.c.updated_at)
        done = sa.and_(span.has(_MP.c.completed_at), _MP.c.status == ProgressStatus.COMPLETED.value)
        per_module = (
            sa.select(
                _MP.c.module_id,
                sa.func.sum(sa.case((active, 1), else_=0)).label("learners"),
                sa.func.sum(sa.case((done, 1), else_=0)).label("completed"),
                sa.func.avg(sa.case((active, _MP.c.progress_percent), else_=None)).label("pct"),
                sa.func.sum(sa.case((active, _MP.c.time_spent_minutes), else_=0)).label("spent"),
            )
            .where(sa.or_(active, done))
            .group_by(_MP.c.module_id)
            .subquery("per_module")
        )
        rows = await self._rows(
            sa.select(
                _MODULES.c.id,
                _MODULES.c.title,
                per_module.c.learners,
                per_module.c.completed,
                per_module.c.pct,
                per_module.c.spent,
            )
            .select_from(_MODULES.outerjoin(per_module, per_module.c.module_id == _MODULES.c.id))
            .order_by(_MODULES.c.order_index, _MODULES.c.title, _MODULES.c.id)
        )
        return [
            ModuleStats(
                module_id=row[0],
                title=row[1],
                learners=int(row[2] or 0),
                completed=int(row[3] or 0),
                average_percent=_round(row[4]),
                time_spent_minutes=int(row[5] or 0),
            )
            for row in rows
        ]

    def _bucket(self) -> sa.ColumnElement[int]:
        """The tenth of the video where a viewer stopped (0..9; the end counts as 9)."""
        position = _LP.c.position_seconds * DROP_OFF_BUCKETS
        duration = _LESSONS.c.duration_seconds
        whens = [(position < duration * (i + 1), i) for i in range(DROP_OFF_BUCKETS - 1)]
        return sa.case(*whens, else_=DROP_OFF_BUCKETS - 1)

    async def lessons(self, span: Range) -> list[LessonStats]:
        active = span.has(_LP.c.updated_at)
        done = span.has(_LP.c.completed_at)
        stopped = sa.and_(active, sa.not_(_LP.c.completed), _LESSONS.c.duration_seconds > 0)
        # One pass over the range's progress rows, each row's tenth (where a viewer who has not
        # completed stopped; NULL otherwise) computed once and grouped on: at most eleven groups
        # a lesson, pivoted here. Ten CASE sums, one per tenth, cost PostgreSQL 10x a plain
        # GROUP BY over the same rows; an OR in an outer join's condition instead would probe
        # the progress rows once per lesson (SQLite).
        flags = (
            sa.select(
                _LP.c.lesson_id,
                sa.case((active, 1), else_=0).label("a"),
                sa.case((done, 1), else_=0).label("d"),
                sa.case((active, _LP.c.watch_time_seconds), else_=0.0).label("w"),
                sa.case((stopped, self._bucket()), else_=None).label("b"),
            )
            .select_from(_LP.join(_LESSONS, _LESSONS.c.id == _LP.c.lesson_id))
            .where(sa.or_(active, done))
            .subquery("flags")
        )
        groups = sa.select(
            flags.c.lesson_id,
            flags.c.b,
            sa.func.sum(flags.c.a),
            sa.func.sum(flags.c.d),
            sa.func.sum(flags.c.w),
            sa.func.count(),
        ).group_by(flags.c.lesson_id, flags.c.b)
        listed = (
            sa.select(
                _LESSONS.c.id, _MODULES.c.title, _LESSONS.c.title, _LESSONS.c.duration_seconds
            )
            .select_from(_LESSONS.join(_MODULES, _MODULES.c.id == _LESSONS.c.module_id))
            .order_by(_MODULES.c.order_index, _MODULES.c.id, _LESSONS.c.order, _LESSONS.c.id)
        )
        async with self._db.read() as session:
            lessons = (await session.execute(listed)).all()
            counted = (await session.execute(groups)).all()
        # per lesson: viewers, completed, watched, then the ten drop-off counts
        totals: dict[Any, list[float]] = {}
        for lesson_id, tenth, viewers, completed, watched, rows in counted:
            into = totals.setdefault(lesson_id, [0.0] * (3 + DROP_OFF_BUCKETS))
            into[0] += float(viewers or 0)
            into[1] += float(completed or 0)
            into[2] += float(watched or 0)
            if tenth is not None:
                into[3 + int(tenth)] += rows
        out = []
        for lesson_id, module_title, title, duration in lessons:
            sums = totals.get(lesson_id, [0.0] * (3 + DROP_OFF_BUCKETS))
            viewers = int(sums[0])
            out.append(
                LessonStats(
                    lesson_id=lesson_id,
                    module_title=module_title,
                    title=title,
                    duration_seconds=int(duration),
                    viewers=viewers,
                    completed=int(sums[1]),
                    watch_seconds=_round(sums[2]),
                    average_watch_seconds=_round(sums[2] / viewers if viewers else 0),
                    drop_off=[int(n) for n in sums[3:]],
                )
            )
        return out

    async def sessions(self, span: Range) -> list[SessionStats]:
        start = sa.func.coalesce(_SESSIONS.c.actual_start, _SESSIONS.c.scheduled_start)
        attended = _PART.c.joined_at.is_not(None)
        counts = [
            sa.func.sum(sa.case((attended, self._count(k)), else_=0.0)) for k in ENGAGEMENT_KEYS
        ]
        present = sa.func.avg(sa.case((attended, self._count("secondsPresent")), else_=None))
        rows = await self._rows(
            sa.select(
                _SESSIONS.c.id,
                _SESSIONS.c.title,
                _SESSIONS.c.status,
                _SESSIONS.c.actual_start,
                _SESSIONS.c.scheduled_start,
                sa.func.count(_PART.c.id),
                sa.func.sum(sa.case((attended, 1), else_=0)),
                *counts,
                present,
            )
            .select_from(_SESSIONS.outerjoin(_PART, _PART.c.session_id == _SESSIONS.c.id))
            .where(span.has(start))
            .group_by(
                _SESSIONS.c.id,
                _SESSIONS.c.title,
                _SESSIONS.c.status,
                _SESSIONS.c.actual_start,
                _SESSIONS.c.scheduled_start,
            )
        )
        out = [
            SessionStats(
                session_id=row[0],
                title=row[1],
                status=str(getattr(row[2], "value", row[2])),
                started_at=row[3] or row[4],
                registered=int(row[5] or 0),
                attended=int(row[6] or 0),
                messages=int(row[7] or 0),
                votes=int(row[8] or 0),
                questions=int(row[9] or 0),
                hands=int(row[10] or 0),
                average_seconds_present=_round(row[11]),
            )
            for row in rows
        ]
        return sorted(out, key=lambda s: (s.started_at, str(s.session_id)))

    async def recordings(self, span: Range) -> RecordingStats:
        statuses = await self._rows(
            sa.select(
                _REC.c.status,
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(_REC.c.duration_seconds), 0.0),
            )
            .where(span.has(_REC.c.created_at))
            .group_by(_REC.c.status)
        )
        made = span.has(_TRANS.c.created_at)
        transcribed = await self._rows(
            sa.select(
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(_REC.c.duration_seconds), 0.0),
            )
            .select_from(_TRANS.join(_REC, _REC.c.id == _TRANS.c.audio_recording_id))
            .where(made)
        )
        uploads = await self._rows(
            sa.select(self._day(_REC.c.created_at).label("day"), sa.func.count())
            .where(span.has(_REC.c.created_at))
            .group_by(sa.literal_column("day"))
        )
        done = await self._rows(
            sa.select(self._day(_TRANS.c.created_at).label("day"), sa.func.count())
            .where(made)
            .group_by(sa.literal_column("day"))
        )
        by_status = {str(getattr(s, "value", s)): int(n) for s, n, _ in statuses}
        per_day: dict[str, list[int]] = {}
        for day, n in uploads:
            per_day.setdefault(str(day), [0, 0])[0] = int(n)
        for day, n in done:
            per_day.setdefault(str(day), [0, 0])[1] = int(n)
        count, seconds = transcribed[0]
        return RecordingStats(
            uploaded=sum(by_status.values()),
            by_status=by_status,
            transcriptions=int(count),
            audio_seconds=_round(sum(float(total or 0) for _, _, total in statuses)),
            transcribed_seconds=_round(seconds),
            daily=[RecordingDay(day, up, tr) for day, (up, tr) in sorted(per_day.items())],
        )
