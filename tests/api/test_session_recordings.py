"""Where a stopped live-session recording goes (`api.session_recordings`): the object store, a
recording row of the host, and its transcription started as an upload's is (a record in
"processing" and `transcribe_recording_job` for it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from api.session_recordings import SessionRecordings
from jobs.catalog import transcribe_recording_job
from media.recording import RecordedFile
from storage.db import connect, migrate
from storage.models import Role
from storage.objects import FileObjectStore
from storage.recordings import RecordingRepository
from storage.sessions import LiveSessionRepository
from storage.transcripts import TranscriptRepository
from storage.users import UserRepository


class _Queue:
    def __init__(self) -> None:
        self.jobs: list[tuple[Any, ...]] = []

    async def enqueue(self, function: Any, *args: Any, job_id: str | None = None) -> None:
        self.jobs.append((function, *args))


async def test_a_stopped_recording_is_stored_listed_and_queued(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'rec.db'}"
    await migrate(url)
    objects = FileObjectStore(tmp_path / "objects")
    queue = _Queue()
    async with connect(url) as db:
        host = await UserRepository(db).create(
            email="h@example.com", name="H", password_hash="x", role=Role.HOST)
        start = datetime.now(UTC)
        live = await LiveSessionRepository(db).create(
            host.id, title="Workshop", scheduled_start=start,
            scheduled_end=start + timedelta(hours=1))
        webm = tmp_path / "x.webm"
        webm.write_bytes(b"\x1a\x45\xdf\xa3 not really webm")
        sink = SessionRecordings(db, objects, lambda: queue)  # type: ignore[arg-type, return-value]
        key = await sink.store(str(live.id), str(host.id),
                               RecordedFile(webm, 4.5, webm.stat().st_size, video=True))

        assert key.startswith(f"recordings/sessions/{live.id}/") and key.endswith(".webm")
        assert await objects.get(key) == webm.read_bytes()
        rows, total = await RecordingRepository(db).list_for_user(host.id)
        assert total == 1
        assert (rows[0].title, rows[0].object_key, rows[0].content_type, rows[0].format,
                rows[0].duration_seconds, rows[0].file_size) == (
            "Workshop (recording)", key, "video/webm", "webm", 4.5, webm.stat().st_size)
        transcription = await TranscriptRepository(db).for_recording(rows[0].id)
        assert transcription is not None and transcription.status.value == "processing"
        assert queue.jobs == [(transcribe_recording_job, str(transcription.id))]
