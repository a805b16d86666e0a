"""The job catalog: every job function that the arq worker and the in-process queue run.

Each function takes the typed `JobContext` first, then plain arguments, and returns a small
plain value (arq stores results in Redis).
"""

from __future__ import annotations

import uuid

from jobs.compaction import compact_all, compact_document
from jobs.context import JobContext, JobFunction
from jobs.enqueue import Every
from jobs.transcription import transcribe_recording


async def compact_document_job(ctx: JobContext, name: str) -> int:
    """Compact one document's log; return the number of rows folded (0 if nothing to do)."""
    result = await compact_document(ctx.documents, name)
    return result.rows if result.compacted else 0


async def compact_all_job(ctx: JobContext) -> int:
    """Compact every document over the threshold; return how many were compacted."""
    results = await compact_all(ctx.documents, min_updates=ctx.min_updates)
    return sum(1 for result in results if result.compacted)


async def export_note_job(ctx: JobContext, note_id: str, export_id: str) -> str:
    """Render an export that `notes.start_export` recorded; return its final status
    ("done", "failed", or "missing" for an unknown export)."""
    return await ctx.require_notes().run_export(note_id, export_id)


async def export_account_job(ctx: JobContext, user_id: str, export_id: str) -> str:
    """Build the zip of an account export recorded by `GET /api/workbook/me/export`; return
    its final status ("done", "failed", or "missing")."""
    return await ctx.require_accounts().run_account_export(user_id, export_id)


async def append_note_text_job(ctx: JobContext, note_id: str, text: str, actor: str) -> None:
    """Append `text` to a note (one paragraph per line) through the collab server: the edit
    reaches connected editors on every node and the search index like a client's edit."""
    await ctx.require_notes().append_text(note_id, text, actor=actor)


async def transcribe_recording_job(ctx: JobContext, transcription_id: str) -> str | None:
    """Transcribe a recording whose transcription `TranscriptRepository.start` created; return
    its final status ("done", "failed"), None when it was not processing (a duplicate)."""
    database, objects = ctx.require_storage()
    return await transcribe_recording(
        uuid.UUID(transcription_id), database=database, objects=objects,
        transcriber=ctx.transcriber, announce=ctx.announce, policy=ctx.transcription_retry,
    )


JOBS: tuple[JobFunction, ...] = (
    compact_document_job,
    compact_all_job,
    export_note_job,
    export_account_job,
    append_note_text_job,
    transcribe_recording_job,
)
"""Every job, registered by `__name__` with the arq worker."""

IN_PROCESS_SCHEDULE: tuple[Every, ...] = (Every(60.0, compact_all_job),)
"""What the worker's cron does, for the in-process queue of the embedded default."""
