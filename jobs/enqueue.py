"""Enqueueing jobs: one `JobQueue` seam, an arq (Redis) implementation and an in-process one.

Callers (REST handlers, rooms) receive a `JobQueue` or a bound ``enqueue`` callable; they never
import arq. With ``REDIS_URL`` set, jobs go to the arq worker process (`api.worker`); without
it (the embedded default) the very same job functions run inside the web process with bounded
concurrency, owned by the queue's task group.

arq and redis are imported only when an `ArqQueue` is built: the embedded default never loads
them.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

import anyio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from jobs.context import JobArg, JobContext, JobFunction

if TYPE_CHECKING:
    from arq.connections import ArqRedis

log = logging.getLogger(__name__)

DEFAULT_QUEUE_NAME = "collab:jobs"


class QueueSettings(Protocol):
    """What `queue_name` reads from `api.settings.Settings` (jobs never import `api`)."""

    @property
    def redis_prefix(self) -> str: ...


def queue_name(settings: QueueSettings) -> str:
    """The arq queue name for these settings, shared by `api.app`'s `ArqQueue` and the worker
    (`api.worker`); defined here so that the web process need not import the worker's arq."""
    return f"{settings.redis_prefix}jobs"


class JobQueueFull(RuntimeError):
    """The in-process queue already holds `max_pending` jobs; retry later."""


class JobQueue(Protocol):
    """Where background work is sent."""

    async def enqueue(self, function: JobFunction, *args: JobArg,
                      job_id: str | None = None) -> bool:
        """Queue ``function(ctx, *args)``.

        Args:
            function: a job from `jobs.catalog` (the worker registers it by ``__name__``).
            args: plain, picklable arguments.
            job_id: optional uniqueness key: while a job with this id is queued or running,
                enqueueing it again does nothing.

        Returns:
            True if queued, False if a job with the same `job_id` was already pending.

        Raises:
            JobQueueFull: the in-process queue is at capacity.
        """
        ...


@dataclass(frozen=True, slots=True)
class _Pending:
    function: JobFunction
    args: tuple[JobArg, ...]
    job_id: str | None


@dataclass(frozen=True, slots=True)
class Every:
    """Run `function(ctx)` every `seconds` inside an `InProcessQueue` (the embedded cron)."""

    seconds: float
    function: JobFunction


class InProcessQueue:
    """Runs jobs in this process: `concurrency` workers read a bounded queue.

    An async context manager: entering starts the workers (and the periodic jobs), leaving
    stops accepting jobs, lets queued ones finish for up to `drain_timeout` seconds, then
    cancels the rest. A failing job is logged with its traceback and never stops the queue.
    """

    def __init__(self, context: JobContext, *, concurrency: int = 2, max_pending: int = 1000,
                 periodic: Sequence[Every] = (), drain_timeout: float = 10.0) -> None:
        if concurrency < 1 or max_pending < 1:
            raise ValueError("concurrency and max_pending must be positive")
        self._context = context
        self._concurrency = concurrency
        self._max_pending = max_pending
        self._periodic = tuple(periodic)
        self._drain_timeout = drain_timeout
        self._pending_ids: set[str] = set()
        self._send: MemoryObjectSendStream[_Pending] | None = None
        self._group: TaskGroup | None = None
        self._workers_alive = 0
        self._drained = anyio.Event()
        self.completed = 0
        """Jobs that returned normally (for tests and metrics)."""
        self.failed = 0
        """Jobs that raised (logged with their traceback)."""

    async def __aenter__(self) -> Self:
        send, receive = anyio.create_memory_object_stream[_Pending](self._max_pending)
        group = anyio.create_task_group()
        await group.__aenter__()
        self._group, self._send = group, send
        self._workers_alive = self._concurrency
        self._drained = anyio.Event()
        for _ in range(self._concurrency):
            group.start_soon(self._work, receive.clone())
        receive.close()
        for every in self._periodic:
            group.start_soon(self._repeat, every)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> bool | None:
        group, send = self._group, self._send
        if group is None or send is None:
            return None
        self._send = None
        send.close()  # workers finish what is queued, then their receive loops end
        with anyio.move_on_after(self._drain_timeout):
            await self._drained.wait()
        group.cancel_scope.cancel()
        return await group.__aexit__(exc_type, exc, tb)

    async def enqueue(self, function: JobFunction, *args: JobArg,
                      job_id: str | None = None) -> bool:
        """Queue a job (see `JobQueue.enqueue`)."""
        if self._send is None:
            raise RuntimeError("InProcessQueue is not running")
        if job_id is not None and job_id in self._pending_ids:
            return False
        try:
            self._send.send_nowait(_Pending(function, args, job_id))
        except anyio.WouldBlock:
            raise JobQueueFull(f"{self._max_pending} jobs already pending") from None
        if job_id is not None:
            self._pending_ids.add(job_id)
        return True

    async def _work(self, receive: MemoryObjectReceiveStream[_Pending]) -> None:
        try:
            async with receive:
                async for pending in receive:
                    try:
                        await self._run(pending.function, pending.args)
                    finally:
                        if pending.job_id is not None:
                            self._pending_ids.discard(pending.job_id)
        finally:
            self._workers_alive -= 1
            if self._workers_alive == 0:
                self._drained.set()

    async def _run(self, function: JobFunction, args: tuple[JobArg, ...]) -> None:
        try:
            await function(self._context, *args)
        except Exception:
            self.failed += 1
            log.exception("job failed job=%s", function.__name__)
        else:
            self.completed += 1

    async def _repeat(self, every: Every) -> None:
        while True:
            await anyio.sleep(every.seconds)
            await self._run(every.function, ())


class ArqQueue:
    """Sends jobs to the arq worker through Redis (an async context manager owning the pool)."""

    def __init__(self, redis_url: str, *, queue_name: str = DEFAULT_QUEUE_NAME) -> None:
        from arq.connections import RedisSettings  # only with Redis (see the module docstring)

        self._settings = RedisSettings.from_dsn(redis_url)
        self.queue_name = queue_name
        self._pool: ArqRedis | None = None

    async def __aenter__(self) -> Self:
        from arq.connections import create_pool

        self._pool = await create_pool(self._settings, default_queue_name=self.queue_name)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._pool is not None:
            await self._pool.aclose()  # type: ignore[attr-defined]  # types-redis predates 5.x
            self._pool = None

    async def enqueue(self, function: JobFunction, *args: JobArg,
                      job_id: str | None = None) -> bool:
        """Queue a job for the arq worker (see `JobQueue.enqueue`)."""
        if self._pool is None:
            raise RuntimeError("ArqQueue is not running")
        job = await self._pool.enqueue_job(function.__name__, *args, _job_id=job_id,
                                           _queue_name=self.queue_name)
        return job is not None


@asynccontextmanager
async def open_job_queue(context: JobContext, *, redis_url: str | None,
                         queue_name: str = DEFAULT_QUEUE_NAME,
                         periodic: Sequence[Every] = ()) -> AsyncIterator[JobQueue]:
    """The queue for the web process: arq when `redis_url` is set, else in-process.

    `periodic` only applies to the in-process queue: with Redis, the worker's cron runs them.
    """
    if redis_url:
        async with ArqQueue(redis_url, queue_name=queue_name) as arq_queue:
            yield arq_queue
    else:
        async with InProcessQueue(context, periodic=periodic) as local:
            yield local
