"""Background jobs: the job queue and the jobs it runs (compaction, note exports and edits).

Job functions (`jobs.catalog`) take a typed `JobContext` and plain arguments; `jobs.enqueue`
sends them either to the arq worker (`jobs.worker` adapts them to arq; the worker process is
wired in `api.worker`) or runs them in-process when no Redis is configured. Imports `collab`
and `storage` only: note work reaches a job through the `NoteOperations` seam declared here,
transcription through `Transcriber` (engines in `speech`), both put on the context by the
composition roots; `jobs.transcription` runs a recording through it with retries.
"""

from jobs.compaction import CompactionResult, compact_all, compact_document
from jobs.context import JobContext, JobNotConfigured, NoteOperations
from jobs.enqueue import ArqQueue, Every, InProcessQueue, JobQueue, JobQueueFull, open_job_queue
from jobs.transcriber import (
    Transcriber,
    TranscriberNotConfigured,
    Transcript,
    TranscriptionUnavailable,
)
from jobs.transcription import Announce, RetryPolicy, recording_message

__all__ = [
    "Announce",
    "ArqQueue",
    "CompactionResult",
    "Every",
    "InProcessQueue",
    "JobContext",
    "JobNotConfigured",
    "JobQueue",
    "JobQueueFull",
    "NoteOperations",
    "RetryPolicy",
    "Transcriber",
    "TranscriberNotConfigured",
    "Transcript",
    "TranscriptionUnavailable",
    "compact_all",
    "compact_document",
    "open_job_queue",
    "recording_message",
]
