"""The transcription job: a recording's audio through the configured engine into its
transcription record, with retries of transient failures and a failed state with a reason.

`transcribe_recording` is idempotent: it claims the transcription only while it is
``processing`` (`storage.TranscriptRepository.claim`), so a duplicate or late job finds nothing
to do, and completing it is a compare-and-set on that same status. A transient failure
(`TranscriptionRetryable`, a lost connection) is retried inside the job after an exponential
backoff (`RetryPolicy`), each attempt counted on the record with its error; after the last
attempt, or at once for a permanent failure, the record is ``failed`` with the reason. Each
status change is announced to the recording's owner (`Announce`) as a stateless message on
their feed (docs/transcription.md), so the page never polls.

The recording (up to 100 MB) is never held in memory: it is copied from the object store a
chunk at a time (`ObjectStore.stream`) into a temporary file, which the engine reads as it
decodes; the file is removed when the job ends, whatever the outcome.
"""

from __future__ import annotations

import json
import logging
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import anyio

from jobs.transcriber import (
    Transcriber,
    TranscriptionFailed,
    TranscriptionRetryable,
    TranscriptionUnavailable,
)
from speech.transcript import Transcript
from storage.db import Database
from storage.objects import ObjectNotFound, ObjectStore
from storage.recordings import RecordingRepository
from storage.transcripts import NewSegment, TranscriptRepository

__all__ = ["Announce", "RetryPolicy", "recording_message", "transcribe_recording"]

log = logging.getLogger(__name__)

Announce: TypeAlias = Callable[[uuid.UUID, str], Awaitable[None]]
"""Send a stateless message (JSON text) to one user's feed; never raises."""

Status = Literal["processing", "done", "failed"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """`attempts` in all; before attempt n+1 wait ``min(delay * 2**(n-1), max_delay)`` seconds
    (or what the service asked for with Retry-After, if longer, within `max_delay`)."""

    attempts: int = 4
    delay: float = 5.0
    max_delay: float = 120.0

    def backoff(self, attempt: int, asked: float | None = None) -> float:
        wait: float = self.delay * 2 ** max(attempt - 1, 0)
        return min(max(wait, asked or 0.0), self.max_delay)


def recording_message(recording_id: uuid.UUID, transcription_id: uuid.UUID, status: Status,
                      error: str | None = None) -> str:
    """The feed payload telling a client that a recording's transcription changed."""
    message = {"type": "recordings.changed", "recordingId": str(recording_id),
               "transcriptionId": str(transcription_id), "status": status}
    if error is not None:
        message["error"] = error
    return json.dumps(message)


async def transcribe_recording(
    transcription_id: uuid.UUID,
    *,
    database: Database,
    objects: ObjectStore,
    transcriber: Transcriber,
    announce: Announce | None = None,
    policy: RetryPolicy = RetryPolicy(),
) -> Status | None:
    """Run one transcription to ``done`` or ``failed``; None when it was not ours to run."""
    transcripts = TranscriptRepository(database)
    claimed = await transcripts.claim(transcription_id)
    if claimed is None:
        return None
    recording = await RecordingRepository(database).get(claimed.audio_recording_id)
    if recording is None:
        return None

    async def tell(status: Status, error: str | None = None) -> None:
        if announce is not None:
            await announce(recording.user_id,
                           recording_message(recording.id, transcription_id, status, error))

    await tell("processing")
    with tempfile.TemporaryDirectory(prefix="transcribe-") as folder:
        return await _attempts(transcription_id, transcripts, objects, transcriber, policy,
                               recording.object_key, recording.content_type,
                               Path(folder) / "recording", claimed.attempts, tell)


async def _download(objects: ObjectStore, key: str, path: Path) -> None:
    """Copy the object `key` into the file `path`, a chunk at a time."""
    async with await anyio.open_file(path, "wb") as out:
        async for chunk in objects.stream(key):
            await out.write(chunk)


async def _attempts(transcription_id: uuid.UUID, transcripts: TranscriptRepository,
                    objects: ObjectStore, transcriber: Transcriber, policy: RetryPolicy,
                    key: str, content_type: str, path: Path, attempt: int,
                    tell: Callable[[Status, str | None], Awaitable[None]]) -> Status | None:
    downloaded = False
    while True:
        try:
            if not downloaded:
                await _download(objects, key, path)
                downloaded = True
            transcript = await transcriber.transcribe(path, content_type)
        except ObjectNotFound:
            return await _fail(transcripts, transcription_id, "the recording's file is missing",
                               tell)
        except TranscriptionUnavailable as exc:
            return await _fail(transcripts, transcription_id, str(exc), tell)
        except TranscriptionFailed as exc:
            return await _fail(transcripts, transcription_id, str(exc), tell)
        except (TranscriptionRetryable, OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            asked = exc.retry_after if isinstance(exc, TranscriptionRetryable) else None
            if attempt >= policy.attempts:
                return await _fail(transcripts, transcription_id,
                                   f"gave up after {attempt} attempts: {reason}", tell)
            log.warning("transcription %s attempt %d failed: %s", transcription_id, attempt,
                        reason)
            await transcripts.retrying(transcription_id, reason)
            await anyio.sleep(policy.backoff(attempt, asked))
            again = await transcripts.claim(transcription_id)
            if again is None:
                return None  # deleted (or settled) meanwhile
            attempt = again.attempts
            continue
        except Exception:
            log.exception("transcription %s failed", transcription_id)
            return await _fail(transcripts, transcription_id,
                               "the transcription failed unexpectedly", tell)
        break
    if await _complete(transcripts, transcription_id, transcript) is None:
        return None
    await tell("done", None)
    return "done"


async def _complete(transcripts: TranscriptRepository, transcription_id: uuid.UUID,
                    transcript: Transcript) -> object:
    segments = [NewSegment(s.start, s.end, s.text, s.confidence) for s in transcript.segments]
    return await transcripts.complete(
        transcription_id, segments, engine=transcript.engine, language=transcript.language,
        confidence=transcript.confidence,
    )


async def _fail(transcripts: TranscriptRepository, transcription_id: uuid.UUID, reason: str,
                tell: Callable[[Status, str | None], Awaitable[None]]) -> Status | None:
    if await transcripts.fail(transcription_id, reason) is None:
        return None
    log.info("transcription %s failed: %s", transcription_id, reason)
    await tell("failed", reason)
    return "failed"
