"""The arq worker's composition root (`collab worker`): database, object store, a collab server
without sockets, and the job context built from them.

Run it with ``collab worker`` (which calls `run(settings)`), or with arq's own CLI:
``arq api.worker.WorkerSettings`` (then the settings are read from the environment on startup,
never at import time). Every `jobs.catalog` function is registered under its ``__name__``;
`compact_all_job` also runs as a cron every minute (``unique``: one run per minute across all
workers).

A job edits a note through the worker's own `CollabServer`: its persistence stores the edit,
its Redis fan-out carries it to the nodes whose clients hold the note, and its search indexer
and automatic versions see it, exactly as for a client's edit on a web node.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from arq.worker import Worker

from api.job_context import build_job_context
from api.live import document_extensions
from api.settings import Settings
from collab import CollabConfig, CollabServer
from collab.extensions.fanout import default_node_id
from jobs.context import JobContext
from jobs.enqueue import DEFAULT_QUEUE_NAME, queue_name
from jobs.worker import ArqContext, arq_worker, cron_jobs, functions, on_shutdown, startup
from storage.db import Database, connect, require_schema
from storage.objects import open_object_store

log = logging.getLogger(__name__)

__all__ = ["WorkerSettings", "create_worker", "open_worker_context", "run", "worker_collab"]


def worker_collab(settings: Settings, database: Database) -> CollabServer:
    """The worker's collab server: persistence, search indexing, the notes rows' mirror of
    ``meta`` and the per-user feed (heard through the fan-out), automatic versions and (with
    ``REDIS_URL``) fan-out, but no authentication: no socket ever reaches it."""
    extensions = document_extensions(
        database,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        # Never the web nodes' COLLAB_NODE_ID: a node skips the entries written under its id.
        node_id=f"worker-{default_node_id()}",
        persist_interval=settings.collab_persist_interval,
        shutdown_timeout=settings.shutdown_timeout,
    )
    config = CollabConfig(
        max_document_size=settings.collab_max_document_size,
        unload_delay=settings.collab_unload_delay,
        shutdown_timeout=settings.shutdown_timeout,
    )
    # No kinds: no socket ever reaches this server, only the jobs' `open_direct` edits.
    return CollabServer(config, extensions, kinds=[])


@asynccontextmanager
async def open_worker_context(settings: Settings) -> AsyncIterator[JobContext]:
    """Open the worker's resources (closed in reverse) and yield its `JobContext`."""
    # The same gate as the web process: a schema behind this build raises `SchemaBehind`.
    await require_schema(settings.effective_database_url, upgrade=settings.migrate_on_start)
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(connect(settings.effective_database_url))
        objects = open_object_store(
            settings.effective_storage_url, endpoint_url=settings.s3_endpoint_url
        )
        stack.callback(objects.close)
        server = await stack.enter_async_context(worker_collab(settings, database))
        yield build_job_context(settings, database=database, objects=objects, collab=server)


async def _on_startup_from_environment(ctx: ArqContext) -> None:
    await startup(lambda: open_worker_context(Settings()))(ctx)


class WorkerSettings:
    """For ``arq api.worker.WorkerSettings``; `create_worker` is the typed equivalent."""

    functions = functions()
    cron_jobs = cron_jobs()
    on_startup = _on_startup_from_environment
    on_shutdown = on_shutdown
    queue_name = DEFAULT_QUEUE_NAME


def create_worker(settings: Settings, **overrides: Any) -> Worker:
    """Build the arq `Worker` for `settings` (``REDIS_URL`` must be set).

    ``overrides`` go to `arq.worker.Worker` (tests pass ``burst=True``, ``handle_signals=False``).
    """
    if not settings.redis_url:
        raise ValueError("REDIS_URL must be set to run the worker")
    return arq_worker(lambda: open_worker_context(settings), redis_url=settings.redis_url,
                      queue_name=queue_name(settings), **overrides)


def run(settings: Settings) -> None:
    """Run the worker until SIGINT/SIGTERM (blocking; owns its event loop)."""
    create_worker(settings).run()
