"""End to end: the web side enqueues through `ArqQueue`, a real arq `Worker` runs the job."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from pycrdt import Doc, Text

from api.settings import Settings
from api.worker import WorkerSettings
from jobs.catalog import compact_all_job, compact_document_job, transcribe_recording_job
from jobs.context import JobContext
from jobs.enqueue import ArqQueue, open_job_queue, queue_name
from storage.db import Database
from storage.documents import DocumentLog
from storage.models import TranscriptionStatus
from storage.objects import open_object_store
from storage.recordings import RecordingRepository
from storage.transcripts import TranscriptRepository
from storage.users import UserRepository
from tests.audio_samples import spoken_wav
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
    timeouts = {f.name: f.timeout_s for f in WorkerSettings.functions}
    assert timeouts["transcribe_recording_job"] == 4 * 3600  # arq's 300 s is too short
    assert timeouts["compact_all_job"] is None  # arq's default
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


@pytest.mark.slow
async def test_arq_worker_transcribes_a_recording_with_the_offline_engine(
    pg_database: Database, migrated_pg_url: str, redis_url: str, redis_prefix: str,
    tmp_path: Path,
) -> None:
    objects_url = (tmp_path / "objects").as_uri()
    settings = Settings(database_url=migrated_pg_url, redis_url=redis_url,
                        redis_prefix=redis_prefix, storage_url=objects_url,
                        transcription_engine="offline")
    user = await UserRepository(pg_database).create(
        email=f"w-{uuid.uuid4().hex[:8]}@example.com", name="W", password_hash="h")
    await open_object_store(objects_url).put(
        "audio/memo.wav", spoken_wav("Please bring your notebook and a pencil."), "audio/wav")
    recording = await RecordingRepository(pg_database).create(
        user.id, title="memo", file_name="memo.wav", object_key="audio/memo.wav", file_size=1,
        content_type="audio/wav")
    transcription, _ = await TranscriptRepository(pg_database).start(recording.id)
    async with ArqQueue(redis_url, queue_name=queue_name(settings)) as queue:
        assert await queue.enqueue(transcribe_recording_job, str(transcription.id))

    assert await run_worker(settings) == (1, 0)

    done = await TranscriptRepository(pg_database).get(transcription.id)
    assert done is not None and done.status is TranscriptionStatus.DONE, done
    assert {"notebook", "pencil"} <= set(done.content.split())
    hits, _ = await TranscriptRepository(pg_database).search(user.id, "pencil")
    assert [h.recording_id for h in hits] == [recording.id]
