"""StreamOutbox against a real Redis: announcements follow the entries they announce, every
stream written gets an expiry, and that expiry is refreshed at most once per interval."""

from __future__ import annotations

from typing import Any

import pytest

from collab.extensions.outbox import Outgoing, StreamOutbox

pytestmark = pytest.mark.redis


def outbox(prefix: str, ttl: int = 1000) -> StreamOutbox:
    def announce(name: str) -> Outgoing:
        return Outgoing("", f"{prefix}changes", {"d": name}, 1000)

    def resync(name: str) -> Outgoing:
        raise AssertionError("nothing is dropped in these tests")

    return StreamOutbox(limit=100, ttl=ttl, retry_delay=0.05, resync=resync, announce=announce)


async def test_a_batch_announces_each_document_once_after_its_entries(
    redis_client: Any, redis_prefix: str
) -> None:
    box = outbox(redis_prefix)
    for name, value in [("a", "1"), ("b", "2"), ("a", "3")]:
        box.put(Outgoing(name, f"{redis_prefix}doc:{name}", {"u": value}, 1000))
    box.put(Outgoing("", f"{redis_prefix}wake", {"n": "x"}, 10))  # control: not announced
    written: list[str] = []  # XADD keys in the order the pipeline sends them
    pipeline = redis_client.pipeline

    def recording_pipeline(**kwargs: Any) -> Any:
        pipe = pipeline(**kwargs)
        xadd = pipe.xadd

        def recorded(key: str, *args: Any, **more: Any) -> Any:
            written.append(key.removeprefix(redis_prefix))
            return xadd(key, *args, **more)

        pipe.xadd = recorded
        return pipe

    redis_client.pipeline = recording_pipeline
    await box.flush(redis_client)
    assert written == ["doc:a", "doc:b", "doc:a", "wake", "changes", "changes"]
    notices = await redis_client.xrange(f"{redis_prefix}changes")
    assert [fields[b"d"] for _, fields in notices] == [b"a", b"b"]
    assert await redis_client.xlen(f"{redis_prefix}doc:a") == 2


async def test_every_stream_written_expires_and_is_refreshed_once_per_interval(
    redis_client: Any, redis_prefix: str
) -> None:
    box = outbox(redis_prefix, ttl=1000)
    key = f"{redis_prefix}doc:a"
    box.put(Outgoing("a", key, {"u": "1"}, 1000))
    await box.flush(redis_client)
    for written in (key, f"{redis_prefix}changes"):
        assert 0 < await redis_client.ttl(written) <= 1000
    await redis_client.persist(key)
    box.put(Outgoing("a", key, {"u": "2"}, 1000))
    await box.flush(redis_client)
    assert await redis_client.ttl(key) == -1  # refreshed a moment ago: not again so soon
    fresh = outbox(redis_prefix, ttl=1000)  # (a new process, or the interval passed)
    fresh.put(Outgoing("a", key, {"u": "3"}, 1000))
    await fresh.flush(redis_client)
    assert 0 < await redis_client.ttl(key) <= 1000
