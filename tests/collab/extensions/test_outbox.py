"""StreamOutbox against a real Redis: announcements follow the entries they announce, every
stream written gets an expiry, and that expiry is refreshed at most once per interval."""

from __future__ import annotations

from typing import Any

import pytest

from collab.extensions import outbox as outbox_module
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
    written: list[str] = []  # XADD keys in the order the writer sends them
    pool = redis_client.connection_pool
    get_connection = pool.get_connection

    async def recording_connection(*args: Any) -> Any:
        conn = await get_connection(*args)
        pack_commands = conn.pack_commands

        def recorded(commands: list[tuple[Any, ...]]) -> Any:
            written.extend(c[1].removeprefix(redis_prefix) for c in commands if c[0] == "XADD")
            return pack_commands(commands)

        conn.pack_commands = recorded
        return conn

    pool.get_connection = recording_connection
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


async def test_a_connection_closed_by_redis_while_unused_is_replaced_before_a_write(
    redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from redis.asyncio import Redis

    monkeypatch.setattr(outbox_module, "_IDLE", 0.0)  # every write counts as after a pause
    name = f"outbox-{redis_prefix}"
    writer: Any = Redis.from_url(redis_url, client_name=name)
    admin: Any = Redis.from_url(redis_url)
    box = outbox(redis_prefix)
    key = f"{redis_prefix}doc:a"
    try:
        box.put(Outgoing("a", key, {"u": "1"}, 1000))
        await box.flush(writer)
        for client in await admin.client_list():  # a restart, an idle timeout
            if client["name"] == name:
                await admin.execute_command("CLIENT", "KILL", "ID", client["id"])
        box.put(Outgoing("a", key, {"u": "2"}, 1000))
        await box.flush(writer)  # no error: the dead connection was noticed and replaced
        assert await admin.xlen(key) == 2
    finally:
        await writer.aclose()
        await admin.aclose()


async def test_a_refused_entry_fails_its_batch_which_stays_queued_in_order(
    redis_client: Any, redis_prefix: str
) -> None:
    from redis.exceptions import ResponseError

    box = outbox(redis_prefix)
    await redis_client.set(f"{redis_prefix}doc:bad", "not a stream")
    box.put(Outgoing("bad", f"{redis_prefix}doc:bad", {"u": "1"}, 1000))
    box.put(Outgoing("a", f"{redis_prefix}doc:a", {"u": "2"}, 1000))
    with pytest.raises(ResponseError):
        await box.flush(redis_client)
    assert len(box) == 2  # kept, in order, for the retry
    await redis_client.delete(f"{redis_prefix}doc:bad")
    await box.flush(redis_client)  # the same writer goes on
    assert len(box) == 0
    assert await redis_client.xlen(f"{redis_prefix}doc:bad") == 1
