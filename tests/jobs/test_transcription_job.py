"""The transcription job: retried with backoff on transient errors, failed with a reason,
idempotent, its status announced; against a migrated SQLite database and a file object store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobs.transcription import RetryPolicy, transcribe_recording
from speech.transcript import Segment, Transcript, TranscriptionFailed, TranscriptionRetryable
from storage.db import Database, connect, migrate
from storage.models import RecordingStatus, TranscriptionStatus
from storage.objects import ObjectStore, open_object_store
from storage.recordings import RecordingRepository
from storage.transcripts import TranscriptRepository
from storage.users import UserRepository

FAST = RetryPolicy(attempts=3, delay=0.01, max_delay=0.05)


@dataclass
class Flaky:
    """Raises `failures` in order, then transcribes."""

    failures: list[Exception] = field(default_factory=list)
    calls: int = 0
    paths: list[Path] = field(default_factory=list)

    async def transcribe(self, audio: Path, content_type: str) -> Transcript:
        self.calls += 1
        # The object, streamed into a temporary file the job removes when it ends.
        assert audio.read_bytes() == b"audio bytes" and content_type == "audio/wav"
        self.paths.append(audio)
        if self.failures:
            raise self.failures.pop(0)
        return Transcript.of([Segment(0.5, 1.5, "hello there", 0.9)], language="en",
                             engine="flaky")


@dataclass
class Heard:
    messages: list[tuple[uuid.UUID, str]] = field(default_factory=list)

    async def __call__(self, user_id: uuid.UUID, message: str) -> None:
        self.messages.append((user_id, message))

    def statuses(self) -> list[str]:
        return [m.split('"status": "')[1].split('"')[0] for _, m in self.messages]


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Database, ObjectStore]]:
    url = f"sqlite+aiosqlite:///{tmp_path}/jobs.db"
    await migrate(url)
    async with connect(url) as db:
        yield db, open_object_store((tmp_path / "objects").as_uri())


async def _started(db: Database, objects: ObjectStore) -> tuple[uuid.UUID, uuid.UUID]:
    user = await UserRepository(db).create(email="j@example.com", name="J", password_hash="h")
    await objects.put("audio/x.wav", b"audio bytes", "audio/wav")
    rec = await RecordingRepository(db).create(user.id, title="t", file_name="x.wav",
                                               object_key="audio/x.wav", file_size=11,
                                               content_type="audio/wav")
    transcription, _ = await TranscriptRepository(db).start(rec.id)
    return rec.id, transcription.id


async def test_transient_errors_are_retried_then_done_and_a_duplicate_does_nothing(
    stores: tuple[Database, ObjectStore],
) -> None:
    db, objects = stores
    rec_id, tid = await _started(db, objects)
    engine = Flaky([TranscriptionRetryable("HTTP 429", retry_after=0.02), OSError("reset")])
    heard = Heard()
    status = await transcribe_recording(tid, database=db, objects=objects, transcriber=engine,
                                        announce=heard, policy=FAST)
    assert status == "done" and engine.calls == 3
    assert not engine.paths[0].exists() and not engine.paths[0].parent.exists()
    done = await TranscriptRepository(db).get(tid)
    assert done is not None and done.attempts == 3 and done.error is None
    assert [s.text for s in await TranscriptRepository(db).segments(tid)] == ["hello there"]
    assert heard.statuses() == ["processing", "done"]
    # Run again (a duplicate delivery): nothing to do, nothing called, nothing announced.
    assert await transcribe_recording(tid, database=db, objects=objects, transcriber=engine,
                                      announce=heard, policy=FAST) is None
    assert engine.calls == 3 and len(heard.messages) == 2
    recording = await RecordingRepository(db).get(rec_id)
    assert recording is not None and recording.status is RecordingStatus.TRANSCRIBED


async def test_giving_up_and_permanent_failures_leave_a_reason(
    stores: tuple[Database, ObjectStore],
) -> None:
    db, objects = stores
    rec_id, tid = await _started(db, objects)
    engine = Flaky([TranscriptionRetryable("HTTP 500")] * 5)
    heard = Heard()
    assert await transcribe_recording(tid, database=db, objects=objects, transcriber=engine,
                                      announce=heard, policy=FAST) == "failed"
    failed = await TranscriptRepository(db).get(tid)
    assert failed is not None and failed.status is TranscriptionStatus.FAILED
    assert failed.error == "gave up after 3 attempts: HTTP 500" and engine.calls == 3
    assert heard.statuses() == ["processing", "failed"]
    assert '"error": "gave up after 3 attempts: HTTP 500"' in heard.messages[-1][1]

    _, again = await TranscriptRepository(db).start(rec_id)
    assert again
    refused = Flaky([TranscriptionFailed("the service refused the audio (HTTP 400)")])
    assert await transcribe_recording(tid, database=db, objects=objects, transcriber=refused,
                                      policy=FAST) == "failed"
    assert refused.calls == 1  # not retried
    assert (await TranscriptRepository(db).get(tid)).error == (  # type: ignore[union-attr]
        "the service refused the audio (HTTP 400)")

    await TranscriptRepository(db).start(rec_id)
    await objects.delete("audio/x.wav")
    assert await transcribe_recording(tid, database=db, objects=objects, transcriber=Flaky(),
                                      policy=FAST) == "failed"
    assert (await TranscriptRepository(db).get(tid)).error == (  # type: ignore[union-attr]
        "the recording's file is missing")


def test_backoff_doubles_within_its_cap_and_honours_retry_after() -> None:
    policy = RetryPolicy(attempts=5, delay=2.0, max_delay=10.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    assert policy.backoff(1, asked=7.0) == 7.0
    assert policy.backoff(1, asked=100.0) == 10.0
