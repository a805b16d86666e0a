"""The job context of both composition roots, built by one function from the settings.

`api.app` builds it around the web process's live collab server (for the in-process queue of
the embedded default) and `api.worker` around the arq worker's own collab server, which hosts
no sockets. Either way a job's note edit goes through a collab server's hooks (stored, fanned
out to the nodes holding the note, indexed for search), never straight into the update log.
"""

from __future__ import annotations

from api.account_export import AccountExporter, AccountExportJobs
from api.settings import Settings
from collab.server import CollabServer
from jobs.context import JobContext
from jobs.transcriber import TranscriberNotConfigured
from notes.service import NoteService
from storage.db import Database
from storage.documents import DocumentLog
from storage.objects import ObjectStore

__all__ = ["build_job_context"]


def build_job_context(
    settings: Settings, *, database: Database, objects: ObjectStore, collab: CollabServer
) -> JobContext:
    """The `JobContext` of a process whose jobs edit notes through `collab`.

    Transcription is not built yet: the context refuses it (`TranscriberNotConfigured`) even
    with ``OPENAI_API_KEY`` set.
    """
    documents = DocumentLog(database)
    return JobContext(
        documents=documents,
        min_updates=settings.compaction_min_updates,
        objects=objects,
        notes=NoteService(collab, documents, objects),
        transcriber=TranscriberNotConfigured(),
        accounts=AccountExportJobs(AccountExporter(database, objects, collab)),
    )
