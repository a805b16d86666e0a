"""End to end: the web side enqueues through `ArqQueue`, a real arq `Worker` runs the job."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from pycrdt import Doc, Text

from api.settings import Settings
from api.worker import WorkerSettings
from jobs.catalog import compact_all_job, compact_document_job
from jobs.context import JobContext
from jobs.enqueue import ArqQueue, open_job_queue, queue_name
from storage.documents import DocumentLog
from tests.jobs.burst import burst_worker, run_worker

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    # arq 0.28's Worker.close() still calls redis-py 5's deprecated close()
    pytest.mark.filterwarnings("ignore:Call to deprecated close:DeprecationWarning"),
]


def typed(text: str) -> tuple[list[bytes], str]:
    doc: Doc[Text] = Doc()
    doc["content"] = content = Text()
    updates: list[bytes] = []
    doc.observe(lambda event: updates.append(event.update))
    for char in text:
        content += char
    return updates, str(content)


def settings_for(migrated_pg_url: str, redis_url: str, redis_prefix: str) -> Settings:
    return Settings(database_url=migrated_pg_url, redis_url=redis_url, redis_prefix=redis_prefix,
                    compaction_min_updates=5)


async def test_arq_worker_compacts_on_postgres(
    pg_log: DocumentLog, migrated_pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    name = f"notes/{uuid.uuid4()}"
    updates, text = typed("compact me, worker")
    await pg_log.append([(name, u) for u in updates])
    settings = settings_for(migrated_pg_url, redis_url, redis_prefix)

    async with open_job_queue(JobContext(documents=pg_log), redis_url=redis_url,
                              queue_name=queue_name(settings)) as queue:
        assert isinstance(queue, ArqQueue)
        assert await queue.enqueue(compact_document_job, name, job_id=f"compact:{name}")
        assert not await queue.enqueue(compact_document_job, name, job_id=f"compact:{name}")

    assert await run_worker(settings) == (1, 0)

    rows = await pg_log.load(name)
    assert len(rows) == 1
    doc: Doc[Text] = Doc()
    doc.apply_update(rows[0])
    assert str(doc.get("content", type=Text)) == text


async def test_worker_runs_the_periodic_job_function(
    pg_log: DocumentLog, migrated_pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    names = [f"notes/{uuid.uuid4()}" for _ in range(2)]
    for name in names:
        await pg_log.append([(name, u) for u in typed("0123456789")[0]])
    settings = settings_for(migrated_pg_url, redis_url, redis_prefix)
    async with ArqQueue(redis_url, queue_name=queue_name(settings)) as queue:
        assert await queue.enqueue(compact_all_job)
    complete, _ = await run_worker(settings)
    assert complete == 1
    for name in names:
        assert len(await pg_log.load(name)) == 1


def test_worker_settings_register_every_job_and_the_cron() -> None:
    names = {f.name for f in WorkerSettings.functions}
    assert names == {
        "compact_document_job",
        "compact_all_job",
        "export_note_job",
        "export_account_job",
        "append_note_text_job",
        "transcribe_recording_job",
    }
    assert [c.name for c in WorkerSettings.cron_jobs] == ["cron:compact_all_job"]


def test_worker_run_closes_the_context_it_opened_in_another_task(
    migrated_pg_url: str, redis_url: str, redis_prefix: str
) -> None:
    # `Worker.run()` (what `collab worker` calls) runs on_startup inside its main task and
    # on_shutdown in a new one; the context's task groups (the worker's collab server) must
    # still be left by the task that entered them, or shutdown raises.
    settings = settings_for(migrated_pg_url, redis_url, redis_prefix)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # arq's Worker takes the current loop when it is built
    try:
        worker = burst_worker(settings)
        worker.run()
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    assert worker.jobs_failed == 0
