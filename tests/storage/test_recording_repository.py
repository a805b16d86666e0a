from __future__ import annotations

import uuid

import pytest

from storage.db import Database
from storage.errors import UnknownReference
from storage.models import RecordingStatus
from storage.recordings import RecordingRepository
from storage.users import UserRepository


async def test_recording_transcription_flow(database: Database) -> None:
    user = await UserRepository(database).create(
        email="rec@example.com", name="R", password_hash="h"
    )
    repo = RecordingRepository(database)
    with pytest.raises(UnknownReference):
        await repo.create(uuid.uuid4(), title="x", file_name="x.webm", object_key="k", file_size=1)
    rec = await repo.create(
        user.id,
        title="Lecture",
        file_name="lecture.webm",
        object_key="audio/u/lecture.webm",
        file_size=5_000_000_000,
        content_type="audio/webm",
    )
    assert rec.status is RecordingStatus.UPLOADED
    assert await repo.set_status(
        rec.id, RecordingStatus.PROCESSING, expected=[RecordingStatus.UPLOADED]
    )
    # A second worker cannot claim it again.
    assert not await repo.set_status(
        rec.id, RecordingStatus.PROCESSING, expected=[RecordingStatus.UPLOADED]
    )
    text = await repo.add_transcription(
        rec.id, content="hello world", engine="test", segments=[{"start": 0.0, "text": "hello"}]
    )
    assert text is not None
    stored = await repo.get(rec.id)
    assert stored is not None and stored.status is RecordingStatus.TRANSCRIBED
    assert stored.file_size == 5_000_000_000
    assert [t.segments for t in await repo.transcriptions(rec.id)] == [
        [{"start": 0.0, "text": "hello"}]
    ]
    page, total = await repo.list_for_user(user.id)
    assert (total, [r.id for r in page]) == (1, [rec.id])
    assert await repo.add_transcription(uuid.uuid4(), content="x", engine="t") is None
    deleted = await repo.delete(rec.id)
    assert deleted is not None and deleted.object_key == "audio/u/lecture.webm"
    assert await repo.transcriptions(rec.id) == []
    assert await repo.delete(rec.id) is None
