"""Admin analytics: figures computed from stored rows, the same on SQLite and PostgreSQL; the
date range filters them; CSV export; admins only; bad dates name the field."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from storage.db import connect
from storage.models import (
    AudioRecording,
    Lesson,
    LessonProgress,
    LiveSession,
    Module,
    ModuleProgress,
    ProgressStatus,
    RecordingStatus,
    SessionParticipant,
    SessionStatus,
    Transcription,
    User,
)
from tests.api.conftest import bearer, register, user_with_role

Client = httpx.AsyncClient
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


def at(day: int, month: int = 3, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def _user(name: str) -> User:
    return User(
        email=f"{name}-{uuid.uuid4().hex[:6]}@example.com",
        name=name,
        password_hash="x",
        created_at=at(2),
    )


async def _seed(url: str) -> dict[str, Any]:
    """Three learners, one module of two lessons, a session, recordings; one row of each kind
    outside March so the range must leave it out."""
    a, b, c = _user("a"), _user("b"), _user("c")
    module = Module(title="=Intro", order_index=1)
    first = Lesson(module_id=module.id, title="One", order=0, duration_seconds=100)
    second = Lesson(module_id=module.id, title="Two", order=1, duration_seconds=0)
    rows: list[Any] = [a, b, c, module, first, second]
    rows += [
        # drop-off: a stopped at 5 % (bucket 0), b at 55 % (bucket 5), c completed
        LessonProgress(
            user_id=a.id,
            lesson_id=first.id,
            position_seconds=5,
            watch_time_seconds=10,
            updated_at=at(3),
        ),
        LessonProgress(
            user_id=b.id,
            lesson_id=first.id,
            position_seconds=55,
            watch_time_seconds=60,
            updated_at=at(4),
        ),
        LessonProgress(
            user_id=c.id,
            lesson_id=first.id,
            position_seconds=100,
            watch_time_seconds=100,
            completed=True,
            completed_at=at(4),
            updated_at=at(4),
        ),
        # outside the range: April
        LessonProgress(
            user_id=a.id,
            lesson_id=second.id,
            position_seconds=1,
            watch_time_seconds=1000,
            updated_at=at(2, month=4),
        ),
        ModuleProgress(
            user_id=a.id,
            module_id=module.id,
            progress_percent=20,
            time_spent_minutes=15,
            status=ProgressStatus.IN_PROGRESS,
            updated_at=at(3),
        ),
        ModuleProgress(
            user_id=c.id,
            module_id=module.id,
            progress_percent=100,
            time_spent_minutes=45,
            status=ProgressStatus.COMPLETED,
            completed_at=at(4),
            updated_at=at(4),
        ),
    ]
    live = LiveSession(
        host_id=c.id,
        title="Q&A",
        status=SessionStatus.ENDED,
        scheduled_start=at(9),
        scheduled_end=at(9, hour=13),
        actual_start=at(10),
    )
    later = LiveSession(
        host_id=c.id, title="Later", scheduled_start=at(9, month=5), scheduled_end=at(9, month=5)
    )
    rows += [live, later]
    rows += [
        SessionParticipant(
            session_id=live.id,
            user_id=a.id,
            joined_at=at(10),
            engagement_data={
                "messages": 3,
                "votes": 1,
                "questions": 2,
                "hands": 1,
                "secondsPresent": 600,
            },
        ),
        SessionParticipant(
            session_id=live.id,
            user_id=b.id,
            joined_at=at(10),
            engagement_data={"messages": 1, "secondsPresent": 300},
        ),
        SessionParticipant(session_id=live.id, user_id=c.id, joined_at=None, engagement_data={}),
    ]
    recs = [
        AudioRecording(
            user_id=a.id,
            title="r",
            file_name="r.mp3",
            object_key=f"k{i}",
            file_size=1,
            duration_seconds=60.0,
            status=status,
            created_at=at(day),
        )
        for i, (status, day) in enumerate(
            [
                (RecordingStatus.TRANSCRIBED, 5),
                (RecordingStatus.FAILED, 5),
                (RecordingStatus.UPLOADED, 6),
            ]
        )
    ]
    rows += recs
    rows.append(Transcription(audio_recording_id=recs[0].id, content="hi", created_at=at(6)))
    async with connect(url) as db, db.write() as session:
        for row in rows:  # in dependency order
            session.add(row)
            await session.flush()
    return {"users": (a, b, c), "module": module, "lessons": (first, second), "live": live}


async def _admin(client: Client, url: str) -> dict[str, str]:
    headers, _ = await user_with_role(client, url, "admin", name="Admin")
    return headers


async def test_only_admins_read_analytics(client: Client, database_url: str) -> None:
    user = bearer((await register(client))["token"])
    for name in ("overview", "modules", "lessons", "sessions", "recordings"):
        path = f"/api/admin/analytics/{name}"
        refused = await client.get(path, headers=user)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"]
        assert (await client.get(path)).status_code == 401
        assert (await client.get(path, params={"format": "csv"}, headers=user)).status_code == 403


async def test_bad_dates_are_422_naming_the_field(client: Client, database_url: str) -> None:
    admin = await _admin(client, database_url)
    for params, field in [
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"from": "1700000000"}, "from"),
        ({"from": "2026-03-05", "to": "2026-03-04"}, "from"),
        ({"format": "xls"}, "format"),
    ]:
        bad = await client.get("/api/admin/analytics/overview", params=params, headers=admin)
        assert bad.status_code == 422, (params, bad.text)
        assert [f["field"] for f in bad.json()["error"]["fields"]] == [field], bad.text
    # a validator's own words, without pydantic's "Value error, " in front
    bad = await client.get("/api/admin/analytics/overview", params={"to": "x"}, headers=admin)
    assert bad.json()["error"]["fields"][0]["message"] == "a date as YYYY-MM-DD"
    for params in ({"to": "0001-01-02"}, {"from": "9999-12-31", "to": "9999-12-31"}):
        edge = await client.get("/api/admin/analytics/overview", params=params, headers=admin)
        assert edge.status_code == 200, (params, edge.text)
    wide = await client.get(
        "/api/admin/analytics/lessons",
        params={"from": "0001-01-01", "to": "9999-12-31"},
        headers=admin,
    )
    assert wide.status_code == 200, wide.text


async def test_figures_come_from_the_stored_rows(client: Client, database_url: str) -> None:
    admin = await _admin(client, database_url)
    seeded = await _seed(database_url)

    async def get(name: str, **extra: str) -> Any:
        r = await client.get(
            f"/api/admin/analytics/{name}", params={**RANGE, **extra}, headers=admin
        )
        assert r.status_code == 200, r.text
        return r.json()

    overview = await get("overview")
    assert overview["range"] == {"from": "2026-03-01", "to": "2026-03-31"}
    assert overview["totalUsers"] == 4  # and the admin
    assert overview["newUsers"] == 3
    assert overview["activeUsers"] == 3
    assert (overview["lessonsCompleted"], overview["modulesCompleted"]) == (1, 1)
    assert overview["watchSeconds"] == 170.0
    assert overview["dailyActive"] == [
        {"day": "2026-03-03", "count": 1},
        {"day": "2026-03-04", "count": 2},
        {"day": "2026-03-05", "count": 1},  # recordings uploaded
        {"day": "2026-03-06", "count": 1},
        {"day": "2026-03-10", "count": 2},  # joined the session
    ]
    modules = (await get("modules"))["modules"]
    assert modules == [
        {
            "moduleId": str(seeded["module"].id),
            "title": "=Intro",
            "learners": 2,
            "completed": 1,
            "averagePercent": 60.0,
            "timeSpentMinutes": 60,
        }
    ]
    lessons = (await get("lessons"))["lessons"]
    first, second = lessons
    assert (first["title"], first["viewers"], first["completed"]) == ("One", 3, 1)
    assert (first["watchSeconds"], first["averageWatchSeconds"]) == (170.0, 56.67)
    assert first["dropOff"] == [1, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert (second["viewers"], second["watchSeconds"], second["dropOff"]) == (0, 0.0, [0] * 10)
    sessions = (await get("sessions"))["sessions"]
    assert len(sessions) == 1
    s = sessions[0]
    assert (s["title"], s["status"], s["registered"], s["attended"]) == ("Q&A", "ended", 3, 2)
    assert (s["messages"], s["votes"], s["questions"], s["hands"]) == (4, 1, 2, 1)
    assert s["averageSecondsPresent"] == 450.0
    assert s["startedAt"].startswith("2026-03-10T12:00:00")
    recordings = await get("recordings")
    assert recordings["uploaded"] == 3
    assert recordings["byStatus"] == {"transcribed": 1, "failed": 1, "uploaded": 1}
    assert (recordings["transcriptions"], recordings["transcribedSeconds"]) == (1, 60.0)
    assert recordings["audioSeconds"] == 180.0
    assert recordings["daily"] == [
        {"day": "2026-03-05", "uploaded": 2, "transcribed": 0},
        {"day": "2026-03-06", "uploaded": 1, "transcribed": 1},
    ]
    april = await client.get(
        "/api/admin/analytics/lessons",
        params={"from": "2026-04-01", "to": "2026-04-30"},
        headers=admin,
    )
    one, two = april.json()["lessons"]
    assert (one["viewers"], two["viewers"], two["watchSeconds"]) == (0, 1, 1000.0)
    assert two["dropOff"] == [0] * 10  # a zero-length video has no drop-off point


async def test_each_dataset_exports_as_csv(client: Client, database_url: str) -> None:
    admin = await _admin(client, database_url)
    await _seed(database_url)
    for name, header in [
        ("overview", ["metric", "day", "value"]),
        (
            "modules",
            [
                "module_id",
                "title",
                "learners",
                "completed",
                "average_percent",
                "time_spent_minutes",
            ],
        ),
        ("lessons", None),
        ("sessions", None),
        ("recordings", ["metric", "day", "value"]),
    ]:
        r = await client.get(
            f"/api/admin/analytics/{name}", params={**RANGE, "format": "csv"}, headers=admin
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        assert r.headers["content-disposition"] == (
            f'attachment; filename="analytics-{name}-2026-03-01-2026-03-31.csv"'
        )
        table = list(csv.reader(io.StringIO(r.text)))
        if header is not None:
            assert table[0] == header
        assert len(table) > 1
        if name == "modules":
            assert table[1][1] == "'=Intro"  # no formula for the spreadsheet
        if name == "lessons":
            assert table[0][-1] == "stopped_90_100_percent"
            assert table[1][8:] == ["1", "0", "0", "0", "0", "1", "0", "0", "0", "0"]
        if name == "overview":
            assert ["active_users", "", "3"] in table
            assert ["daily_active_users", "2026-03-04", "2"] in table
