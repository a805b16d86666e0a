"""Admin analytics at scale: seed 100,000 lesson_progress rows (and proportional users,
modules, lessons, module progress, sessions, recordings) on SQLite and on PostgreSQL, then time
each `/api/admin/analytics/*` endpoint through the real app (ASGI, an admin's token) against
anchors run on the same database in the same run: a plain ``SELECT COUNT(*)`` and a plain
``GROUP BY lesson_id`` sum over ``lesson_progress``.

    PYTHONPATH=. .venv/bin/python bench/analytics.py                 # both databases, 100k rows
    PYTHONPATH=. .venv/bin/python bench/analytics.py --rows 20000 --databases sqlite

PostgreSQL: an admin DSN in ``BENCH_POSTGRES_URL`` (default the test server on loopback); the
script creates a database of its own and drops it afterwards. Figures go to stdout as Markdown
(copied into docs/benchmarks.md and bench/NOTES.md by hand).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from api.app import create_app
from api.settings import Settings
from api.tokens import AccessTokens
from storage.db import connect, migrate
from storage.models import (
    AudioRecording,
    Lesson,
    LessonProgress,
    LiveSession,
    Module,
    ModuleProgress,
    SessionParticipant,
    Transcription,
    User,
)

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
LESSONS_PER_USER = 50
LESSONS_PER_MODULE = 10
ROUNDS = 7
DATASETS = ("overview", "modules", "lessons", "sessions", "recordings")
NOW = datetime.now(UTC)


def _t(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _when(rng: random.Random) -> datetime:
    return NOW - timedelta(seconds=rng.randrange(365 * 86400))


def seed_rows(rows: int) -> dict[sa.Table, list[dict[str, Any]]]:
    """`rows` lesson_progress rows over a year; the rest in proportion."""
    rng = random.Random(17)
    users = max(1, rows // LESSONS_PER_USER)
    lessons_n = max(LESSONS_PER_USER, rows // 200)
    modules_n = max(1, lessons_n // LESSONS_PER_MODULE)
    user_ids = [uuid.uuid4() for _ in range(users)]
    module_ids = [uuid.uuid4() for _ in range(modules_n)]
    lessons = [
        {
            "id": uuid.uuid4(),
            "module_id": module_ids[i // LESSONS_PER_MODULE],
            "title": f"L{i}",
            "order": i % LESSONS_PER_MODULE,
            "duration_seconds": rng.randrange(60, 1800),
            "created_at": NOW,
        }
        for i in range(modules_n * LESSONS_PER_MODULE)
    ]
    out: dict[sa.Table, list[dict[str, Any]]] = {
        _t(User): [
            {
                "id": u,
                "email": f"u{i}@bench.example",
                "name": f"User {i}",
                "password_hash": "x",
                "role": "user",
                "subscription_tier": "free",
                "token_epoch": 0,
                "created_at": _when(rng),
                "updated_at": NOW,
            }
            for i, u in enumerate(user_ids)
        ],
        _t(Module): [
            {
                "id": m,
                "title": f"Module {i}",
                "description": "",
                "order_index": i,
                "difficulty": "beginner",
                "duration_minutes": 60,
                "is_locked": False,
                "required_tier": "free",
                "content": {},
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i, m in enumerate(module_ids)
        ],
        _t(Lesson): lessons,
    }
    progress, module_progress = [], []
    for user in user_ids:
        for lesson in rng.sample(lessons, LESSONS_PER_USER):
            duration = lesson["duration_seconds"]
            done = rng.random() < 0.3
            position = duration if done else rng.random() * duration
            at = _when(rng)
            progress.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": user,
                    "lesson_id": lesson["id"],
                    "position_seconds": position,
                    "watch_time_seconds": position * 1.1,
                    "completed": done,
                    "completed_at": at if done else None,
                    "updated_at": at,
                }
            )
        for module in rng.sample(module_ids, min(5, len(module_ids))):
            done = rng.random() < 0.2
            at = _when(rng)
            module_progress.append(
                {
                    "id": uuid.uuid4(),
                    "user_id": user,
                    "module_id": module,
                    "status": "completed" if done else "in_progress",
                    "progress_percent": 100 if done else rng.randrange(100),
                    "time_spent_minutes": rng.randrange(300),
                    "last_accessed_at": at,
                    "completed_at": at if done else None,
                    "updated_at": at,
                }
            )
    out[_t(LessonProgress)] = progress[:rows]
    out[_t(ModuleProgress)] = module_progress
    sessions, participants = [], []
    for i in range(max(1, users // 10)):
        start = _when(rng)
        sid = uuid.uuid4()
        sessions.append(
            {
                "id": sid,
                "host_id": user_ids[0],
                "title": f"Session {i}",
                "status": "ended",
                "scheduled_start": start,
                "scheduled_end": start + timedelta(hours=1),
                "actual_start": start,
                "actual_end": start + timedelta(hours=1),
                "settings": {},
                "created_at": start,
                "updated_at": start,
            }
        )
        for user in rng.sample(user_ids, min(20, len(user_ids))):
            participants.append(
                {
                    "id": uuid.uuid4(),
                    "session_id": sid,
                    "user_id": user,
                    "role": "participant",
                    "joined_at": start,
                    "engagement_data": {
                        "messages": rng.randrange(10),
                        "votes": rng.randrange(3),
                        "questions": rng.randrange(3),
                        "hands": rng.randrange(2),
                        "secondsPresent": rng.randrange(3600),
                    },
                }
            )
    out[_t(LiveSession)] = sessions
    out[_t(SessionParticipant)] = participants
    recordings, transcriptions = [], []
    for i in range(max(1, rows // 20)):
        rid, at = uuid.uuid4(), _when(rng)
        done = rng.random() < 0.6
        recordings.append(
            {
                "id": rid,
                "user_id": rng.choice(user_ids),
                "title": "r",
                "file_name": "r.mp3",
                "object_key": f"k{i}",
                "content_type": "audio/mpeg",
                "file_size": 1,
                "duration_seconds": float(rng.randrange(60, 3600)),
                "status": "transcribed" if done else "failed",
                "created_at": at,
                "updated_at": at,
            }
        )
        if done:
            transcriptions.append(
                {
                    "id": uuid.uuid4(),
                    "audio_recording_id": rid,
                    "content": "x",
                    "segments": [],
                    "engine": "bench",
                    "created_at": at + timedelta(minutes=5),
                }
            )
    out[_t(AudioRecording)] = recordings
    out[_t(Transcription)] = transcriptions
    return out


async def seed(url: str, rows: int) -> None:
    async with connect(url) as db:
        for table, values in seed_rows(rows).items():
            for start in range(0, len(values), 5000):
                async with db.engine.begin() as conn:
                    await conn.execute(sa.insert(table), values[start : start + 5000])
        async with db.engine.begin() as conn:  # planner statistics, as autovacuum would
            await conn.execute(sa.text("ANALYZE"))


async def median_ms(run: Callable[[], Awaitable[object]]) -> float:
    await run()  # warm-up
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        await run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


async def measure(url: str, rows: int, data_dir: Path) -> list[tuple[str, str, float]]:
    await migrate(url)
    started = time.perf_counter()
    await seed(url, rows)
    seeded = time.perf_counter() - started
    admin_id = uuid.uuid4()
    async with connect(url) as db, db.engine.begin() as conn:
        await conn.execute(
            sa.insert(_t(User)),
            [
                {
                    "id": admin_id,
                    "email": "admin@bench.example",
                    "name": "Admin",
                    "password_hash": "x",
                    "role": "admin",
                    "subscription_tier": "free",
                    "token_epoch": 0,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            ],
        )
    token, _ = AccessTokens(SECRET, 3600).issue(
        user_id=admin_id, name="Admin", email="admin@bench.example", role="admin"
    )
    settings = Settings(
        COLLAB_ENV="test",
        DATABASE_URL=url,
        REDIS_URL=None,
        STORAGE_URL=None,
        COLLAB_AUTO_MIGRATE=False,
        JWT_SECRET=SECRET,
        RATE_LIMITS_ENABLED=False,
        COLLAB_DATA_DIR=str(data_dir),
        COLLAB_FRONTEND_DIR="/nonexistent-frontend-dist",
    )
    app = create_app(settings)
    results: list[tuple[str, str, float]] = [("seed (s)", "", seeded * 1000)]
    today = NOW.date()
    ranges = {
        "30 days": {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat()},
        "year": {"from": (today - timedelta(days=366)).isoformat(), "to": today.isoformat()},
    }
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
        connect(url) as db,
    ):

        async def sql(statement: str) -> None:
            async with db.engine.connect() as conn:
                (await conn.execute(sa.text(statement))).all()

        results.append(
            (
                "anchor: SELECT COUNT(*) FROM lesson_progress",
                "",
                await median_ms(lambda: sql("SELECT COUNT(*) FROM lesson_progress")),
            )
        )
        group = "SELECT lesson_id, SUM(watch_time_seconds) FROM lesson_progress GROUP BY lesson_id"
        results.append((f"anchor: {group}", "", await median_ms(lambda: sql(group))))
        for name in DATASETS:
            for label, params in ranges.items():

                async def get(name: str = name, params: dict[str, str] = params) -> None:
                    r = await client.get(f"/api/admin/analytics/{name}", params=params)
                    assert r.status_code == 200, r.text

                results.append((f"GET {name}", label, await median_ms(get)))

        async def csv_get() -> None:
            r = await client.get(
                "/api/admin/analytics/lessons", params={**ranges["year"], "format": "csv"}
            )
            assert r.status_code == 200, r.text

        results.append(("GET lessons?format=csv", "year", await median_ms(csv_get)))
    return results


async def pg_database(action: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(
            f'{action} DATABASE "{name}"' + (" WITH (FORCE)" if action.startswith("DROP") else "")
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    columns: dict[str, list[tuple[str, str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.databases.split(","):
            if kind == "sqlite":
                columns[kind] = asyncio.run(
                    measure(f"sqlite+aiosqlite:///{tmp}/bench.db", args.rows, Path(tmp) / "d1")
                )
            else:
                name = f"bench_analytics_{uuid.uuid4().hex[:8]}"
                asyncio.run(pg_database("CREATE", name))
                try:
                    url = f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}"
                    columns[kind] = asyncio.run(measure(url, args.rows, Path(tmp) / "d2"))
                finally:
                    asyncio.run(pg_database("DROP", name))
    kinds = list(columns)
    first = columns[kinds[0]]
    anchor = {k: columns[k][1][2] for k in kinds}
    print(
        f"{args.rows:,} lesson_progress rows; median of {ROUNDS} after a warm-up, ms "
        f"(ratio to COUNT(*) in brackets); {date.today()}",
        file=sys.stderr,
    )
    print("| what | range | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---:|" * len(kinds))
    for i, (what, label, _) in enumerate(first):
        cells = []
        for k in kinds:
            ms = columns[k][i][2]
            if what == "seed (s)":
                cells.append(f"{ms / 1000:.1f} s")
            elif i <= 1:
                cells.append(f"{ms:.1f}")
            else:
                cells.append(f"{ms:.1f} ({ms / anchor[k]:.1f}x)")
        print(f"| {what} | {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
