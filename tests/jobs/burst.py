"""A real arq worker in burst mode, for tests: it polls fast, runs what is queued and stops."""

from __future__ import annotations

from arq.worker import Worker

from api.settings import Settings
from api.worker import create_worker


def burst_worker(settings: Settings) -> Worker:
    """`collab worker`'s arq `Worker`, stopping once the queue is empty (no cron, no signals)."""
    return create_worker(settings, burst=True, handle_signals=False, poll_delay=0.05,
                         keep_result=0, cron_jobs=[])


async def run_worker(settings: Settings) -> tuple[int, int]:
    """Runs a burst worker until the queue is empty, then shuts it down; (complete, failed)."""
    worker = burst_worker(settings)
    try:
        await worker.main()
    finally:
        await worker.close()
    return worker.jobs_complete, worker.jobs_failed
