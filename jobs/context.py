"""The typed context every job function receives (instead of arq's untyped ``ctx`` dict).

The composition roots build it once: `jobs.worker` on the arq worker's startup, `api.app`
for the in-process queue of the embedded default. Job functions take it as their first argument.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Concatenate, TypeAlias

from jobs.compaction import DEFAULT_MIN_UPDATES, ListableLog

JobArg: TypeAlias = str | int | float | bool | None
"""Job arguments are plain values: they cross Redis (pickled by arq) in production."""


@dataclass(frozen=True, slots=True)
class JobContext:
    """Shared resources of the process that runs jobs.

    Attributes:
        documents: the durable document log (`storage.DocumentLog`).
        min_updates: compaction threshold used by the periodic `compact_all` job.
    """

    documents: ListableLog
    min_updates: int = DEFAULT_MIN_UPDATES


JobFunction: TypeAlias = Callable[Concatenate[JobContext, ...], Awaitable[object]]
"""An async job: ``async def job(ctx: JobContext, *args: JobArg) -> result``."""
