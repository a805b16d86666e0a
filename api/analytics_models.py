"""The admin analytics' query and response models (`api.analytics` serves them). Item models
carry the same field names as `storage.analytics_types`, so they are read from those values by
attribute."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from api.schema import CamelModel
from storage.analytics_types import DROP_OFF_BUCKETS

_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_day(value: object) -> object:
    if isinstance(value, str) and not _ISO_DAY.fullmatch(value):
        raise ValueError("a date as YYYY-MM-DD")
    return value


Day = Annotated[date, BeforeValidator(_iso_day)]


class _Stored(CamelModel):
    """A response item read from a `storage.analytics_types` value by attribute name."""

    model_config = ConfigDict(from_attributes=True)


class AnalyticsQuery(CamelModel):
    from_: Day | None = Field(
        None, alias="from", description="first UTC day (default: 29 days before `to`)"
    )
    to: Day | None = Field(None, description="last UTC day, included (default: today)")
    format: Literal["json", "csv"] = "json"


class AnalyticsRange(CamelModel):
    from_: date = Field(alias="from")
    to: date


class AnalyticsDayCount(_Stored):
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


class AnalyticsModule(_Stored):
    module_id: uuid.UUID
    title: str
    learners: int
    completed: int
    average_percent: float
    time_spent_minutes: int


class AnalyticsModules(CamelModel):
    range: AnalyticsRange
    modules: list[AnalyticsModule]


class AnalyticsLesson(_Stored):
    lesson_id: uuid.UUID
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


class AnalyticsSession(_Stored):
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


class AnalyticsSessions(CamelModel):
    range: AnalyticsRange
    sessions: list[AnalyticsSession]


class AnalyticsRecordingDay(_Stored):
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
