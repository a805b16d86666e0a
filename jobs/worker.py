"""The arq adapter: job functions registered with an arq `Worker`, each given the typed context.

arq passes an untyped ``ctx`` dict; each catalog job is wrapped so that it receives the
`JobContext` instead. The context is opened on the worker's startup by a callable the
composition root (`api.worker`) supplies, and closed on its shutdown. This module reads no
settings and imports nothing above `jobs`; it imports arq, so the web process never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from jobs.catalog import JOBS, compact_all_job, transcribe_recording_job
from jobs.context import JobArg, JobContext, JobFunction

log = logging.getLogger(__name__)

ArqContext = dict[str, Any]  # arq's own ctx type; confined to this module and its root
ContextOpener = Callable[[], AbstractAsyncContextManager[JobContext]]
"""Opens the worker's resources and yields its `JobContext` (`api.worker.open_worker_context`)."""
Hook = Callable[[ArqContext], Awaitable[None]]

_CONTEXT = "collab_context"
_HOLDER = "collab_context_holder"

__all__ = [
    "ArqContext",
    "ContextOpener",
    "arq_worker",
    "cron_jobs",
    "functions",
    "job_context",
    "on_shutdown",
    "startup",
]


class _ContextHolder:
    """Keeps the job context open in a task of its own.

    arq runs ``on_startup`` inside its main task but ``on_shutdown`` in another one (its
    ``run()`` closes after the main task ended), and the context's task groups (the collab
    server's, its extensions') must be left by the task that entered them.
    """

    def __init__(self, open_context: ContextOpener) -> None:
        self._open = open_context
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> JobContext:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[JobContext] = loop.create_future()
        self._task = loop.create_task(self._hold(ready), name="job-context")
        either: set[asyncio.Future[Any]] = {self._task, ready}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            await self._task  # raises the opening error
            raise RuntimeError("the job context closed before it was ready")
        return ready.result()

    async def _hold(self, ready: asyncio.Future[JobContext]) -> None:
        async with self._open() as context:
            ready.set_result(context)
            await self._stop.wait()

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def job_context(ctx: ArqContext) -> JobContext:
    """The typed context that the startup hook stored in arq's ctx dict."""
    context = ctx.get(_CONTEXT)
    if not isinstance(context, JobContext):
        raise RuntimeError("the worker's on_startup did not run")
    return context


def startup(open_context: ContextOpener) -> Hook:
    """The worker's ``on_startup``: open the context (`open_context()`) and keep it in ctx."""

    async def on_startup(ctx: ArqContext) -> None:
        holder = _ContextHolder(open_context)
        ctx[_CONTEXT] = await holder.start()
        ctx[_HOLDER] = holder
        log.info("worker started")

    return on_startup


async def on_shutdown(ctx: ArqContext) -> None:
    """The worker's ``on_shutdown``: close what the startup hook opened."""
    holder = ctx.pop(_HOLDER, None)
    ctx.pop(_CONTEXT, None)
    if isinstance(holder, _ContextHolder):
        await holder.stop()
    log.info("worker stopped")


def _wrap(job: JobFunction) -> Any:
    async def run(ctx: ArqContext, *args: JobArg) -> object:
        return await job(job_context(ctx), *args)

    run.__name__ = run.__qualname__ = job.__name__
    run.__doc__ = job.__doc__
    return run


# arq's default job timeout is 300 s; a long recording on the offline engine takes longer (it
# decodes at about real time on one core: an hour of audio takes about an hour).
_TIMEOUTS = {transcribe_recording_job.__name__: 4 * 3600}


def functions() -> list[Function]:
    """Every catalog job, wrapped for arq."""
    return [func(_wrap(job), name=job.__name__, timeout=_TIMEOUTS.get(job.__name__))
            for job in JOBS]


def cron_jobs() -> list[CronJob]:
    """Compaction of every document over the threshold, every minute (second 0)."""
    return [cron(_wrap(compact_all_job), name="cron:compact_all_job", second=0, unique=True,
                 run_at_startup=False, timeout=300)]


def arq_worker(open_context: ContextOpener, *, redis_url: str, queue_name: str,
               **overrides: Any) -> Worker:
    """An arq `Worker` running the catalog on `queue_name`, its context from `open_context`.

    ``overrides`` go to `arq.worker.Worker` (tests pass ``burst=True``, ``handle_signals=False``).
    """
    options: dict[str, Any] = {
        "functions": functions(),
        "cron_jobs": cron_jobs(),
        "on_startup": startup(open_context),
        "on_shutdown": on_shutdown,
        "queue_name": queue_name,
        "redis_settings": RedisSettings.from_dsn(redis_url),
    }
    options.update(overrides)
    return Worker(**options)
