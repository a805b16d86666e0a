"""Where a live session's recording goes when the host stops it (`rooms.media.RecordingSink`):
the object store, a recording row of the host who stopped it (so it is listed and played with
their recordings), and its transcription started like an upload's (`api.transcribe`): a
transcription record and `transcribe_recording_job`."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from jobs import JobQueue
from jobs.catalog import transcribe_recording_job
from jobs.enqueue import JobQueueFull
from storage.db import Database
from storage.objects import ObjectStore
from storage.recordings import RecordingRepository
from storage.sessions import LiveSessionRepository
from storage.transcripts import TranscriptRepository

if TYPE_CHECKING:
    from media.recording import RecordedFile

log = logging.getLogger(__name__)


class SessionRecordings:
    def __init__(
        self, database: Database, objects: ObjectStore, jobs: Callable[[], JobQueue | None]
    ) -> None:
        self._objects = objects
        self._recordings = RecordingRepository(database)
        self._sessions = LiveSessionRepository(database)
        self._transcripts = TranscriptRepository(database)
        self._jobs = jobs  # the queue starts after the collab server is built

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        file_name = f"{uuid.uuid4().hex}.webm"
        key = f"recordings/sessions/{session_id}/{file_name}"
        content_type = "video/webm" if recorded.video else "audio/webm"
        size = recorded.path.stat().st_size
        with recorded.path.open("rb") as file:  # streamed: a long session is not read whole
            await self._objects.put_file(key, file, content_type)
        live = await self._sessions.get(uuid.UUID(session_id))
        title = f"{live.title if live is not None else 'Live session'} (recording)"
        recording = await self._recordings.create(
            uuid.UUID(user_id), title=title[:255], file_name=file_name, object_key=key,
            file_size=size, content_type=content_type, duration_seconds=recorded.duration,
            audio_format="webm",
        )
        queue = self._jobs()
        if queue is None:
            log.warning("no job queue: recording %s is not queued for transcription", key)
            return key
        transcription, started = await self._transcripts.start_once(recording.id)
        if started:
            try:
                await queue.enqueue(transcribe_recording_job, str(transcription.id),
                                    job_id=f"transcribe:{transcription.id}")
            except JobQueueFull:
                await self._transcripts.fail(transcription.id, "too many background jobs")
                log.warning("job queue full: recording %s is not queued for transcription", key)
        return key
