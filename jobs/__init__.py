"""Background jobs: update-log compaction (and later exports and transcription).

Job functions take a typed `JobContext` and plain arguments; `jobs.enqueue` sends them either to
the arq worker (whose composition root is `jobs.worker`) or runs them in-process when no Redis is
configured. Imports `collab` and `storage` only: note-specific work (rendering an export)
reaches a job as a callable from the composition root, never as an import of `notes`.
"""

from jobs.compaction import CompactionResult, compact_all, compact_document
from jobs.context import JobContext
from jobs.enqueue import ArqQueue, Every, InProcessQueue, JobQueue, JobQueueFull, open_job_queue

__all__ = [
    "ArqQueue",
    "CompactionResult",
    "Every",
    "InProcessQueue",
    "JobContext",
    "JobQueue",
    "JobQueueFull",
    "compact_all",
    "compact_document",
    "open_job_queue",
]
