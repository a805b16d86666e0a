"""The typed context every job function receives (instead of arq's untyped ``ctx`` dict).

One function builds it from the settings for both composition roots (`api.job_context`): the
web process, for its in-process queue and its live collab server, and the arq worker, with a
collab server of its own that hosts no sockets. Job functions take it as their first argument.
Note work (rendering an export, appending to a note) reaches jobs through `NoteOperations`,
which `notes.NoteService` satisfies: `jobs` never imports `notes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Concatenate, Protocol, TypeAlias

from jobs.compaction import DEFAULT_MIN_UPDATES, ListableLog
from jobs.transcriber import Transcriber, TranscriberNotConfigured
from jobs.transcription import Announce, RetryPolicy
from storage.db import Database
from storage.objects import ObjectStore

__all__ = [
    "AccountOperations",
    "JobArg",
    "JobContext",
    "JobFunction",
    "JobNotConfigured",
    "NoteOperations",
]

JobArg: TypeAlias = str | int | float | bool | None
"""Job arguments are plain values: they cross Redis (pickled by arq) in production."""


class JobNotConfigured(RuntimeError):
    """A job needs a resource that this process's `JobContext` was built without."""


class AccountOperations(Protocol):
    """Account work that jobs run (implemented by `api.account_export.AccountExportJobs`)."""

    async def run_account_export(self, user_id: str, export_id: str) -> str:
        """Build a pending account export's zip into the object store; its final status."""
        ...


class NoteOperations(Protocol):
    """The note work that jobs run (implemented by `notes.NoteService`).

    Edits go through the process's collab server (`CollabServer.open_direct`), never straight
    into the update log: they run the same hooks as a client's edit (persistence, fan-out to
    other nodes, search indexing).
    """

    async def run_export(self, note_id: str, export_id: str) -> str:
        """Render a pending export into the object store; its final status."""
        ...

    async def append_text(self, note_id: str, text: str, *, actor: str) -> None:
        """Append `text` to the note, one paragraph per line, as one edit by `actor`."""
        ...


@dataclass(frozen=True, slots=True)
class JobContext:
    """Shared resources of the process that runs jobs.

    Attributes:
        documents: the durable document log (`storage.DocumentLog`).
        min_updates: compaction threshold used by the periodic `compact_all` job.
        objects: the object store (exports, audio); None only in tests that need none.
        notes: note exports and edits; None only in tests that need none.
        transcriber: speech to text (the engine the settings pick).
        accounts: account exports; None only in tests that need none.
        database: the SQL database (transcriptions); None only in tests that need none.
        announce: sends a stateless message to a user's feed (transcription status).
        transcription_retry: how often and how patiently a transcription is retried.
    """

    documents: ListableLog
    min_updates: int = DEFAULT_MIN_UPDATES
    objects: ObjectStore | None = None
    notes: NoteOperations | None = None
    transcriber: Transcriber = field(default_factory=TranscriberNotConfigured)
    accounts: AccountOperations | None = None
    database: Database | None = None
    announce: Announce | None = None
    transcription_retry: RetryPolicy = field(default_factory=RetryPolicy)

    def require_notes(self) -> NoteOperations:
        """`notes`, or `JobNotConfigured` for a context built without it."""
        if self.notes is None:
            raise JobNotConfigured("this job context has no note operations")
        return self.notes

    def require_accounts(self) -> AccountOperations:
        """`accounts`, or `JobNotConfigured` for a context built without it."""
        if self.accounts is None:
            raise JobNotConfigured("this job context has no account operations")
        return self.accounts

    def require_storage(self) -> tuple[Database, ObjectStore]:
        """`database` and `objects`, or `JobNotConfigured` for a context built without them."""
        if self.database is None or self.objects is None:
            raise JobNotConfigured("this job context has no database or object store")
        return self.database, self.objects


JobFunction: TypeAlias = Callable[Concatenate[JobContext, ...], Awaitable[object]]
"""An async job: ``async def job(ctx: JobContext, *args: JobArg) -> result``."""
