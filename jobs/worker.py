"""The arq worker composition root (`collab worker`): builds the database and the job context.

Run it with ``collab worker`` (which calls `run(settings)`), or with arq's own CLI:
``arq jobs.worker.WorkerSettings`` (then the settings are read from the environment on startup,
never at import time). The worker registers every function of `jobs.catalog` under its
``__name__`` and runs `compact_all_job` as a cron every minute (``unique``: one run per minute
across all workers).

arq passes an untyped ``ctx`` dict; each job is wrapped so that job functions receive the typed
`JobContext` instead.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

from arq.connections import RedisSettings
from arq.cron import CronJob, cron
from arq.worker import Function, Worker, func

from api.settings import Settings
from jobs.catalog import JOBS, compact_all_job
from jobs.context import JobArg, JobContext, JobFunction
from jobs.enqueue import DEFAULT_QUEUE_NAME, queue_name
from storage.db import connect, require_schema
from storage.documents import DocumentLog

log = logging.getLogger(__name__)

_SETTINGS = "collab_settings"
_CONTEXT = "collab_context"
_STACK = "collab_stack"

ArqContext = dict[str, Any]  # arq's own ctx type; confined to this module

__all__ = [  # queue_name lives in jobs.enqueue (the web process needs it without arq)
    "ArqContext",
    "WorkerSettings",
    "create_worker",
    "cron_jobs",
    "functions",
    "job_context",
    "on_shutdown",
    "on_startup",
    "queue_name",
    "run",
]


def job_context(ctx: ArqContext) -> JobContext:
    """The typed context that `on_startup` stored in arq's ctx dict."""
    context = ctx[_CONTEXT]
    if not isinstance(context, JobContext):
        raise RuntimeError("the worker's on_startup did not run")
    return context


def _wrap(job: JobFunction) -> Any:
    async def run(ctx: ArqContext, *args: JobArg) -> object:
        return await job(job_context(ctx), *args)

    run.__name__ = run.__qualname__ = job.__name__
    run.__doc__ = job.__doc__
    return run


async def on_startup(ctx: ArqContext) -> None:
    """Open the database and build the `JobContext` (settings from ctx, else the environment)."""
    settings = ctx.get(_SETTINGS)
    if not isinstance(settings, Settings):
        settings = Settings()
    # The same gate as the web process: a schema behind this build raises `SchemaBehind`.
    await require_schema(settings.effective_database_url, upgrade=settings.migrate_on_start)
    stack = AsyncExitStack()
    try:
        database = await stack.enter_async_context(connect(settings.effective_database_url))
    except Exception:
        await stack.aclose()
        raise
    ctx[_STACK] = stack
    ctx[_CONTEXT] = JobContext(documents=DocumentLog(database),
                               min_updates=settings.compaction_min_updates)
    log.info("worker started")


async def on_shutdown(ctx: ArqContext) -> None:
    """Close what `on_startup` opened."""
    stack = ctx.pop(_STACK, None)
    if isinstance(stack, AsyncExitStack):
        await stack.aclose()
    log.info("worker stopped")


def functions() -> list[Function]:
    """Every catalog job, wrapped for arq."""
    return [func(_wrap(job), name=job.__name__) for job in JOBS]


def cron_jobs() -> list[CronJob]:
    """Compaction of every document over the threshold, every minute (second 0)."""
    return [cron(_wrap(compact_all_job), name="cron:compact_all_job", second=0, unique=True,
                 run_at_startup=False, timeout=300)]


class WorkerSettings:
    """For ``arq jobs.worker.WorkerSettings``; `create_worker` is the typed equivalent."""

    functions = functions()
    cron_jobs = cron_jobs()
    on_startup = on_startup
    on_shutdown = on_shutdown
    queue_name = DEFAULT_QUEUE_NAME


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """Build the arq `Worker` for `settings` (``REDIS_URL`` must be set).

    ``overrides`` go to `arq.worker.Worker` (tests pass ``burst=True``, ``handle_signals=False``).
    """
    if not settings.redis_url:
        raise ValueError("REDIS_URL must be set to run the worker")
    options: dict[str, Any] = {
        "functions": functions(),
        "cron_jobs": cron_jobs(),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "queue_name": queue_name(settings),
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "ctx": {_SETTINGS: settings},
    }
    options.update(overrides)
    return Worker(**options)


def run(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM (blocking; owns its event loop)."""
    create_worker(settings).run()
