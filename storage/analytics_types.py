"""What the admin analytics queries return (`storage.analytics`): plain frozen values that the
API turns into its response models field by field, and the half-open time range they cover."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

DROP_OFF_BUCKETS = 10


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime
    until: datetime  # exclusive

    def has(self, column: Any) -> sa.ColumnElement[bool]:
        return sa.and_(column >= self.since, column < self.until)


@dataclass(frozen=True, slots=True)
class DayCount:
    day: str
    count: int


@dataclass(frozen=True, slots=True)
class Overview:
    total_users: int
    new_users: int
    active_users: int
    lessons_completed: int
    modules_completed: int
    watch_seconds: float
    daily_active: list[DayCount]


@dataclass(frozen=True, slots=True)
class ModuleStats:
    module_id: uuid.UUID
    title: str
    learners: int
    completed: int
    average_percent: float
    time_spent_minutes: int


@dataclass(frozen=True, slots=True)
class LessonStats:
    lesson_id: uuid.UUID
    module_title: str
    title: str
    duration_seconds: int
    viewers: int
    completed: int
    watch_seconds: float
    average_watch_seconds: float
    drop_off: list[int]  # viewers who stopped in each tenth of the video, not completed


@dataclass(frozen=True, slots=True)
class SessionStats:
    session_id: uuid.UUID
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


@dataclass(frozen=True, slots=True)
class RecordingDay:
    day: str
    uploaded: int
    transcribed: int


@dataclass(frozen=True, slots=True)
class RecordingStats:
    uploaded: int
    by_status: dict[str, int]
    transcriptions: int
    audio_seconds: float
    transcribed_seconds: float
    daily: list[RecordingDay]
