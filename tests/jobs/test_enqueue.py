"""The in-process queue runs the catalog's job functions with bounded concurrency."""

from __future__ import annotations

import anyio
import pytest
from memory_log import MemoryLog
from pycrdt import Doc, Text

from jobs.catalog import compact_all_job, compact_document_job
from jobs.context import JobContext
from jobs.enqueue import Every, InProcessQueue, JobQueueFull, open_job_queue


def typed_updates(count: int) -> list[bytes]:
    doc: Doc[Text] = Doc()
    doc["content"] = content = Text()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for _ in range(count):
        content += "a"
    return updates


async def test_in_process_queue_runs_a_job() -> None:
    log = MemoryLog()
    await log.append([("notes/a", u) for u in typed_updates(10)])
    async with open_job_queue(JobContext(documents=log), redis_url=None) as queue:
        assert isinstance(queue, InProcessQueue)
        assert await queue.enqueue(compact_document_job, "notes/a")
    # leaving the context drains queued jobs before returning
    assert queue.completed == 1
    assert len(await log.load("notes/a")) == 1


async def test_job_ids_deduplicate_and_failures_are_isolated() -> None:
    started = anyio.Event()
    release = anyio.Event()
    calls: list[str] = []

    async def blocking(ctx: JobContext, name: str) -> None:
        calls.append(name)
        started.set()
        await release.wait()

    async def failing(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    queue = InProcessQueue(JobContext(documents=MemoryLog()), concurrency=1, max_pending=2)
    async with queue:
        assert await queue.enqueue(blocking, "x", job_id="j1")
        with anyio.fail_after(5):
            await started.wait()
        assert not await queue.enqueue(blocking, "again", job_id="j1")  # still running
        assert await queue.enqueue(failing)
        assert await queue.enqueue(blocking, "y")
        with pytest.raises(JobQueueFull):
            await queue.enqueue(blocking, "z")
        release.set()
    assert calls == ["x", "y"]
    assert (queue.completed, queue.failed) == (2, 1)


async def test_periodic_jobs_run_in_process() -> None:
    log = MemoryLog()
    await log.append([("notes/p", u) for u in typed_updates(30)])
    compacted = anyio.Event()
    original = log.replace_prefix

    async def replace_prefix(name: str, snapshot: bytes, through_id: int) -> None:
        await original(name, snapshot, through_id)
        compacted.set()

    log.replace_prefix = replace_prefix  # type: ignore[method-assign]
    context = JobContext(documents=log, min_updates=10)
    async with InProcessQueue(context, periodic=[Every(0.01, compact_all_job)]):
        with anyio.fail_after(5):
            await compacted.wait()
    assert len(await log.load("notes/p")) == 1
