"""The job context of both composition roots, built by one function from the settings.

`api.app` builds it around the web process's live collab server (for the in-process queue of
the embedded default) and `api.worker` around the arq worker's own collab server, which hosts
no sockets. Either way a job's note edit goes through a collab server's hooks (stored, fanned
out to the nodes holding the note, indexed for search), never straight into the update log,
and a transcription's status reaches its owner's feed (``users/<id>``) through the same
server's stateless broadcast, relayed to every node by the fan-out.
"""

from __future__ import annotations

import logging
import uuid

from api.account_export import AccountExporter, AccountExportJobs
from api.settings import Settings
from collab.server import CollabServer
from jobs.context import JobContext
from jobs.transcriber import Transcriber, TranscriberNotConfigured
from jobs.transcription import Announce, RetryPolicy
from notes.feeds import feed_document
from notes.service import NoteService
from speech import OpenAITranscriber, PocketSphinxTranscriber
from storage.db import Database
from storage.documents import DocumentLog
from storage.objects import ObjectStore

__all__ = ["build_job_context", "build_transcriber"]

log = logging.getLogger(__name__)


def build_transcriber(settings: Settings) -> Transcriber:
    """The engine TRANSCRIPTION_ENGINE names (docs/transcription.md)."""
    kind = settings.transcriber_kind
    if kind == "openai" and settings.openai_api_key:
        return OpenAITranscriber(
            api_key=settings.openai_api_key,
            model=settings.openai_transcription_model,
            base_url=settings.openai_base_url,
            max_chunk_bytes=settings.transcription_chunk_bytes,
            max_retries=settings.openai_max_retries,
            timeout=settings.openai_timeout,
        )
    if kind == "offline":
        return PocketSphinxTranscriber(concurrency=settings.transcription_concurrency)
    return TranscriberNotConfigured()


def _announcer(collab: CollabServer) -> Announce:
    async def announce(user_id: uuid.UUID, message: str) -> None:
        try:
            await collab.broadcast_stateless(feed_document(user_id), message)
        except Exception:  # the status is stored; a missed message is refetched on reconnect
            log.exception("announcing a transcription status to %s failed", user_id)

    return announce


def build_job_context(
    settings: Settings,
    *,
    database: Database,
    objects: ObjectStore,
    collab: CollabServer,
    transcriber: Transcriber | None = None,
) -> JobContext:
    """The `JobContext` of a process whose jobs edit notes and announce through `collab`;
    `transcriber` overrides the one the settings name (tests)."""
    documents = DocumentLog(database)
    return JobContext(
        documents=documents,
        min_updates=settings.compaction_min_updates,
        objects=objects,
        notes=NoteService(collab, documents, objects),
        accounts=AccountExportJobs(AccountExporter(database, objects, collab)),
        transcriber=transcriber if transcriber is not None else build_transcriber(settings),
        database=database,
        announce=_announcer(collab),
        transcription_retry=RetryPolicy(
            attempts=settings.transcription_attempts, delay=settings.transcription_retry_delay
        ),
    )
