from __future__ import annotations

import uuid

import sqlalchemy as sa

from storage.db import Database
from storage.models import RecordingStatus, TranscriptionStatus
from storage.recordings import RecordingRepository
from storage.search import rebuild_sqlite_fts
from storage.transcripts import NewSegment, TranscriptRepository
from storage.users import UserRepository


async def _recording(db: Database, user_id: uuid.UUID, title: str) -> uuid.UUID:
    rec = await RecordingRepository(db).create(
        user_id, title=title, file_name="a.wav", object_key=f"audio/{title}", file_size=10,
        audio_format="wav", duration_seconds=12.5,
    )
    return rec.id


async def _done(db: Database, recording_id: uuid.UUID, lines: list[tuple[float, str]]) -> uuid.UUID:
    repo = TranscriptRepository(db)
    transcription, created = await repo.start(recording_id)
    assert created
    assert await repo.claim(transcription.id) is not None
    segments = [NewSegment(start, start + 2.0, text, 0.8) for start, text in lines]
    done = await repo.complete(transcription.id, segments, engine="test", language="en",
                               confidence=0.8)
    assert done is not None and done.status is TranscriptionStatus.DONE
    return transcription.id


async def test_life_cycle_is_idempotent_and_mirrored_on_the_recording(database: Database) -> None:
    user = await UserRepository(database).create(email="t@example.com", name="T", password_hash="h")
    rec_id = await _recording(database, user.id, "one")
    repo = TranscriptRepository(database)
    first, created = await repo.start(rec_id)
    again, created_again = await repo.start_once(rec_id)
    assert created and not created_again and again.id == first.id
    assert (await RecordingRepository(database).get(rec_id)).status is RecordingStatus.PROCESSING  # type: ignore[union-attr]
    claimed = await repo.claim(first.id)
    assert claimed is not None and claimed.attempts == 1
    await repo.retrying(first.id, "HTTP 500")
    assert (await repo.get(first.id)).error == "HTTP 500"  # type: ignore[union-attr]
    failed = await repo.fail(first.id, "the service refused the audio")
    assert failed is not None and failed.status is TranscriptionStatus.FAILED
    assert await repo.claim(first.id) is None  # a late duplicate job does nothing
    assert await repo.fail(first.id, "again") is None
    recording = await RecordingRepository(database).get(rec_id)
    assert recording is not None and recording.status is RecordingStatus.FAILED
    assert recording.format == "wav" and recording.duration_seconds == 12.5
    # A failed one starts over (same id), a done one stays done.
    restarted, created = await repo.start(rec_id)
    assert created and restarted.id == first.id and restarted.attempts == 0
    assert await repo.claim(first.id) is not None
    await repo.complete(first.id, [NewSegment(0.0, 1.0, "hello there")], engine="e",
                        language=None, confidence=None)
    assert not (await repo.start(rec_id))[1]


async def test_search_finds_a_segment_with_its_time_and_keeps_corrections(
    database: Database,
) -> None:
    users = UserRepository(database)
    user = await users.create(email="s@example.com", name="S", password_hash="h")
    other = await users.create(email="o@example.com", name="O", password_hash="h")
    older = await _recording(database, user.id, "older")
    newer = await _recording(database, user.id, "newer")
    foreign = await _recording(database, other.id, "foreign")
    await _done(database, older, [(0.0, "we talked about pricing"),
                                  (3.0, "pricing for haircuts and beards")])
    t_newer = await _done(database, newer, [(1.5, "bring a pencil"),
                                            (4.25, "the pricing of a haircut")])
    await _done(database, foreign, [(0.0, "pricing haircuts everywhere")])
    repo = TranscriptRepository(database)

    hits, total = await repo.search(user.id, "pricing haircuts")
    # Both words first, then the newest recording, then time: the same on both databases.
    assert total == 3
    assert [(h.recording_id, h.start) for h in hits] == [(newer, 4.25), (older, 3.0), (older, 0.0)]
    assert hits[0].snippet is not None and "<mark>" in hits[0].snippet
    assert hits[0].recording_title == "newer"

    edited = await repo.edit(t_newer, {0: "bring a notebook"})
    assert edited is not None and edited[0].original_text == "bring a pencil"
    assert await repo.edit(t_newer, {7: "no such line"}) is None
    assert (await repo.search(user.id, "pencil"))[1] == 0
    if database.dialect == "sqlite":  # a rebuilt index reads the corrected text too
        async with database.write() as session:
            await rebuild_sqlite_fts(session)
    hits, _ = await repo.search(user.id, "notebook")
    assert [(h.recording_id, h.position, h.start) for h in hits] == [(newer, 0, 1.5)]
    transcription = await repo.get(t_newer)
    assert transcription is not None and transcription.edited
    assert transcription.content == "bring a notebook the pricing of a haircut"

    # Deleting the recording takes its transcript and index entries with it.
    await RecordingRepository(database).delete(newer)
    assert (await repo.search(user.id, "notebook"))[1] == 0
    assert await repo.get(t_newer) is None
    if database.dialect == "sqlite":
        async with database.read() as session:
            left = await session.scalar(sa.text(
                "SELECT count(*) FROM transcript_segments_fts WHERE transcript_segments_fts "
                "MATCH 'notebook'"))
        assert left == 0
