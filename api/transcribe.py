"""Starting a recording's transcription: the record, then the job (`transcribe_recording_job`).

Idempotent: a recording has one transcription; asking again while it is processing or done
returns it unchanged, and only a failed one is started over. The job id names the
transcription and the moment it was started, so a start after a failure is a new job while a
duplicate enqueue of the same start is dropped by the queue.
"""

from __future__ import annotations

from api.errors import ApiError
from api.services import Services
from jobs import JobQueueFull
from jobs.catalog import transcribe_recording_job
from storage.models import AudioRecording, Transcription
from storage.transcripts import TranscriptRepository

__all__ = ["start_transcription"]


async def start_transcription(
    svc: Services, recording: AudioRecording
) -> tuple[Transcription, bool]:
    """The recording's transcription, and whether a job was queued for it now.

    Raises:
        ApiError: 503 when there is no job queue or it is full (nothing is recorded then,
            except a transcription that was already there).
    """
    repo = TranscriptRepository(svc.db)
    if svc.jobs is None:
        existing = await repo.for_recording(recording.id)
        if existing is not None and existing.status.value != "failed":
            return existing, False
        raise ApiError(503, "transcription is unavailable (no job queue); try again later")
    transcription, started = await repo.start_once(recording.id)
    if not started:
        return transcription, False
    generation = int(transcription.updated_at.timestamp() * 1000)
    try:
        await svc.jobs.enqueue(transcribe_recording_job, str(transcription.id),
                               job_id=f"transcribe:{transcription.id}:{generation}")
    except JobQueueFull as exc:
        await repo.fail(transcription.id, "too many background jobs were pending")
        raise ApiError(503, "too many background jobs pending; try again later") from exc
    except Exception:  # Redis lost: never leave a record that no job will ever finish
        await repo.fail(transcription.id, "the job queue was unreachable")
        raise
    return transcription, True
