"""RedisFanout against a real Redis: two nodes (fan-out instances with in-memory document hosts)
converge, awareness crosses, outages are survived without loss, trimmed streams are caught up
from the store. A TCP proxy in front of Redis lets a test cut one node's connection."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import anyio
import pytest
from pycrdt import Doc, Text
from redis.asyncio import Redis

from collab.extensions.fanout import RedisFanout
from collab.hooks import (
    AfterLoadDocument,
    AwarenessChange,
    BeforeUnloadDocument,
    Change,
    Configure,
    LoadDocument,
    Origin,
)
from collab.protocol import AwarenessEntry, decode_awareness, encode_awareness_entries

pytestmark = pytest.mark.redis


class TcpProxy:
    """Forwards loopback TCP to Redis; `cut()` drops every connection and refuses new ones."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.open = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def cut(self) -> None:
        self.open = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def restore(self) -> None:
        self.open = True

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@dataclass
class Host:
    """A stand-in for CollabServer: live pycrdt Docs that peers' updates are applied to."""

    docs: dict[str, Doc[Text]] = field(default_factory=dict)
    awareness: list[tuple[str, bytes, Origin]] = field(default_factory=list)
    changed: anyio.Event = field(default_factory=anyio.Event)

    async def apply_remote_update(self, name: str, update: bytes, origin: Origin) -> None:
        assert origin.kind == "peer"
        if name in self.docs:
            self.docs[name].apply_update(update)
            self.changed.set()

    async def apply_remote_awareness(self, name: str, payload: bytes, origin: Origin) -> None:
        self.awareness.append((name, payload, origin))
        self.changed.set()

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 15) -> None:
        with anyio.fail_after(timeout):
            while not predicate():
                self.changed = anyio.Event()
                await self.changed.wait()


@dataclass
class MemoryStore:
    """What the originating node persisted (the durable log)."""

    updates: dict[str, list[bytes]] = field(default_factory=dict)
    failing: bool = False

    async def load(self, name: str) -> list[bytes]:
        if self.failing:
            raise OSError("database unreachable")
        return list(self.updates.get(name, []))


class Node:
    def __init__(self, fanout: RedisFanout, host: Host, store: MemoryStore) -> None:
        self.fanout, self.host, self.store = fanout, host, store

    async def load(self, name: str) -> Doc[Text]:
        doc: Doc[Text] = Doc()
        await self.fanout.on_load_document(LoadDocument(name, doc))
        for update in await self.store.load(name):
            doc.apply_update(update)
        doc["content"] = Text()
        self.host.docs[name] = doc
        await self.fanout.after_load_document(AfterLoadDocument(name, doc))
        return doc

    async def type(self, name: str, text: str) -> None:
        """A local client's edit: applied, persisted, then published (as the server does)."""
        doc = self.host.docs[name]
        updates: list[bytes] = []
        sub = doc.observe(lambda event: updates.append(event.update))
        content = doc["content"]
        content.insert(len(str(content).encode()), text)
        doc.unobserve(sub)
        for update in updates:
            self.store.updates.setdefault(name, []).append(update)
            await self.fanout.on_change(Change(name, update, Origin.CLIENT("c1")))

    def text(self, name: str) -> str:
        return str(self.host.docs[name]["content"])


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    async with TcpProxy("127.0.0.1", 6379) as running:
        yield running


class Cluster:
    """Fan-out nodes sharing one Redis prefix and one store; entered in the test's own task
    (anyio task groups must be exited by the task that entered them)."""

    def __init__(self, redis_url: str, prefix: str, proxy: TcpProxy) -> None:
        self.redis_url, self.prefix, self.proxy = redis_url, prefix, proxy
        self.store = MemoryStore()
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Cluster:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()
        client: Redis[bytes] = Redis.from_url(self.redis_url)
        keys = [key async for key in client.scan_iter(f"{self.prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()  # type: ignore[attr-defined]

    async def node(self, *, via_proxy: bool = False, **kwargs: object) -> Node:
        url = f"redis://127.0.0.1:{self.proxy.port}/0" if via_proxy else self.redis_url
        host = Host()
        fanout = RedisFanout(url, f"node-{uuid.uuid4().hex[:6]}", key_prefix=self.prefix,
                             store=self.store, retry_delay=0.05, **kwargs)  # type: ignore[arg-type]
        await fanout.on_configure(Configure(host))  # a stand-in for the server
        await self._stack.enter_async_context(fanout)
        return Node(fanout, host, self.store)


@pytest.fixture
def cluster(redis_url: str, redis_prefix: str, proxy: TcpProxy) -> Cluster:
    return Cluster(redis_url, redis_prefix, proxy)


async def test_two_nodes_converge_and_skip_their_own_entries(cluster: Cluster) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        await a.type(name, "hello ")
        await b.type(name, "world")
        await a.host.wait_for(lambda: len(a.text(name)) == 11)
        await b.host.wait_for(lambda: len(b.text(name)) == 11)
        assert a.text(name) == b.text(name)
        assert "hello " in a.text(name) and "world" in a.text(name)


def presence(client_id: int, clock: int, state: dict[str, object] | None) -> bytes:
    return encode_awareness_entries([AwarenessEntry(client_id, clock, state)])


async def test_awareness_crosses_nodes_and_peer_changes_are_not_echoed(
    cluster: Cluster, redis_url: str
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        payload = presence(7, 1, {"cursor": 1})
        await a.fanout.on_awareness_update(AwarenessChange(name, payload, Origin.CLIENT("c")))
        await b.host.wait_for(lambda: bool(b.host.awareness))
        # a publishes the state, and may send it once more answering b's presence query
        # (b asked on load): the same entry twice is fine, anything else is not.
        assert set(b.host.awareness) == {(name, payload, Origin.PEER(a.fanout.node_id))}
        # what arrived from a peer is never published again
        await b.fanout.on_change(Change(name, b"\x00\x00", Origin.PEER(a.fanout.node_id)))
        await b.fanout.on_awareness_update(AwarenessChange(name, payload, Origin.PEER("n")))
        await b.fanout.wait_published()
        client: Redis[bytes] = Redis.from_url(redis_url)
        try:
            assert await client.xlen(a.fanout.doc_key(name)) == 0
            entries = [fields for _, fields in await client.xrange(a.fanout.awareness_key(name))]
            by_b = [f for f in entries if f[b"n"] == b.fanout.node_id.encode()]
            assert by_b and all(b"a" not in f for f in by_b)  # b only asked (q), never echoed
            assert {f[b"a"] for f in entries if b"a" in f} == {payload}
        finally:
            await client.aclose()  # type: ignore[attr-defined]


async def test_a_node_loading_later_asks_for_the_presence_already_there(
    cluster: Cluster,
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        here = presence(7, 3, {"cursor": 1})
        gone = presence(8, 1, {"cursor": 2})
        for payload in (here, gone, presence(8, 2, None)):  # 8 arrived, then left
            await a.fanout.on_awareness_update(AwarenessChange(name, payload, Origin.CLIENT("c")))
        await a.fanout.wait_published()
        await b.load(name)  # no renewal from a's clients needed: b asks on load

        def known() -> dict[int, object]:
            latest: dict[int, object] = {}
            for _, payload, _ in b.host.awareness:
                latest.update({e.client_id: e.state for e in decode_awareness(payload)})
            return {client: state for client, state in latest.items() if state is not None}

        await b.host.wait_for(lambda: known() == {7: {"cursor": 1}})


async def test_update_published_before_load_but_not_yet_stored_is_replayed(
    cluster: Cluster,
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await a.type(name, "early")
        a.store.updates.clear()  # a's store write has not landed yet when b loads
        await b.load(name)
        await b.host.wait_for(lambda: b.text(name) == "early")


async def test_a_node_cut_from_redis_catches_up_without_loss(
    cluster: Cluster, proxy: TcpProxy
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node(via_proxy=True)
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        await a.type(name, "1")
        await b.host.wait_for(lambda: b.text(name) == "1")
        proxy.cut()
        await a.type(name, "2")
        await b.type(name, "3")  # buffered by b while Redis is unreachable
        await a.type(name, "4")
        proxy.restore()
        await b.host.wait_for(lambda: len(b.text(name)) == 4, timeout=20)
        await a.host.wait_for(lambda: len(a.text(name)) == 4, timeout=20)
        assert a.text(name) == b.text(name)
        assert b.fanout.catch_ups == 0  # nothing was trimmed: the stream alone sufficed


async def test_trimmed_stream_is_caught_up_from_the_store(
    cluster: Cluster, proxy: TcpProxy, redis_url: str
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node(via_proxy=True)
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        await a.type(name, "a")
        await b.host.wait_for(lambda: b.text(name) == "a")
        proxy.cut()
        # Trim only once b noticed the cut. (A cut that falls between two of b's reads is
        # papered over by redis-py replacing the dead pooled connection; the trim check then
        # does not run: the documented limit in docs/multinode.md.)
        with anyio.fail_after(20):
            while b.fanout.connected:  # a flag, not an event: poll it under the deadline
                await anyio.sleep(0.01)
        for char in "bcdef":
            await a.type(name, char)
        with anyio.fail_after(10):
            await a.fanout.wait_published()
        client: Redis[bytes] = Redis.from_url(redis_url)
        try:
            await client.xtrim(a.fanout.doc_key(name), maxlen=0, approximate=False)
        finally:
            await client.aclose()  # type: ignore[attr-defined]
        proxy.restore()
        await b.host.wait_for(lambda: b.text(name) == "abcdef", timeout=20)
        assert b.fanout.catch_ups == 1


async def test_outbox_overflow_publishes_the_whole_state_on_return(
    cluster: Cluster, proxy: TcpProxy
) -> None:
    async with cluster as c:
        a, b = await c.node(via_proxy=True, outbox_limit=3), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        proxy.cut()
        for char in "0123456789":
            await a.type(name, char)
        proxy.restore()
        await b.host.wait_for(lambda: b.text(name) == "0123456789", timeout=20)


async def test_unloaded_documents_are_no_longer_read(cluster: Cluster) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        first, second = f"notes/{uuid.uuid4()}", f"notes/{uuid.uuid4()}"
        for name in (first, second):
            await a.load(name)
            await b.load(name)
        await b.fanout.before_unload_document(BeforeUnloadDocument(first, b.host.docs[first]))
        await a.type(first, "ignored")
        await a.type(second, "seen")
        await b.host.wait_for(lambda: b.text(second) == "seen")
        assert b.text(first) == ""


async def test_a_document_loaded_while_redis_is_down_is_caught_up(
    cluster: Cluster, proxy: TcpProxy
) -> None:
    async with cluster as c:
        a = await c.node()
        proxy.cut()
        b = await c.node(via_proxy=True)  # starts without Redis: keeps retrying
        assert not b.fanout.connected
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await a.type(name, "x")
        await b.load(name)
        await a.type(name, "y")
        proxy.restore()
        await b.host.wait_for(lambda: b.text(name) == "xy", timeout=20)
        assert b.fanout.catch_ups == 1
        await b.type(name, "z")
        await a.host.wait_for(lambda: a.text(name) == "xyz", timeout=20)


async def test_client_kill_of_a_nodes_connections_loses_nothing(
    cluster: Cluster, redis_url: str
) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node()
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        await a.type(name, "1")
        await b.host.wait_for(lambda: b.text(name) == "1")
        admin: Redis[bytes] = Redis.from_url(redis_url)
        try:
            clients = await admin.client_list()
            ids = [cl["id"] for cl in clients if cl["name"] == f"collab-fanout:{b.fanout.node_id}"]
            assert ids  # the blocked reader's connection at least
            for client_id in ids:
                await admin.execute_command("CLIENT", "KILL", "ID", client_id)
        finally:
            await admin.aclose()  # type: ignore[attr-defined]
        await a.type(name, "2")
        await b.type(name, "3")
        await b.host.wait_for(lambda: len(b.text(name)) == 3)
        await a.host.wait_for(lambda: len(a.text(name)) == 3)
        assert a.text(name) == b.text(name)


async def test_a_failing_store_or_a_malformed_entry_never_stops_the_reader(
    cluster: Cluster, proxy: TcpProxy, redis_url: str
) -> None:
    async with cluster as c:
        a = await c.node()
        proxy.cut()
        b = await c.node(via_proxy=True)
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)  # uncertain: will want a catch-up from the store
        c.store.failing = True
        proxy.restore()
        admin: Redis[bytes] = Redis.from_url(redis_url)
        try:
            await admin.xadd(a.fanout.doc_key(name), {"n": "evil", "u": b"\xff\x00garbage"})
        finally:
            await admin.aclose()  # type: ignore[attr-defined]
        await a.type(name, "ok")
        await b.host.wait_for(lambda: b.text(name) == "ok", timeout=20)
        assert b.fanout.catch_ups == 0
        c.store.failing = False
        await a.type(name, "!")  # the next read retries the catch-up
        await b.host.wait_for(lambda: b.text(name) == "ok!" and b.fanout.catch_ups == 1, 20)


class XreadSpy:
    """Records the streams named by each of a node's reads (blocking or not) from now on."""

    def __init__(self, fanout: RedisFanout) -> None:
        self.blocking: list[set[str]] = []
        self.reads: list[set[str]] = []
        self.changes_positions: list[str] = []  # where each blocking read of the membership
        # and change streams began
        redis = fanout.redis
        original = redis.xread
        prefix = fanout.doc_key("").removesuffix("doc:")

        async def xread(streams: dict[str, str], **kwargs: object) -> object:
            names = {k.decode() if isinstance(k, bytes) else k for k in streams}
            self.changes_positions += [
                position for key, position in streams.items()
                if key == f"{prefix}nodes" or key.startswith(f"{prefix}changes:")
            ]
            (self.blocking if kwargs.get("block") is not None else self.reads).append(names)
            return await original(streams, **kwargs)  # type: ignore[arg-type]

        redis.xread = xread  # type: ignore[method-assign,assignment]

    def streams_read(self) -> set[str]:
        return set().union(*self.reads)


async def test_a_wake_up_reads_only_the_documents_other_nodes_changed(cluster: Cluster) -> None:
    async with cluster as c:
        a, b = await c.node(), await c.node(sweep=600)  # no sweep during the test
        names = [f"notes/{uuid.uuid4()}" for _ in range(20)]
        for name in names:
            await a.load(name)
            await b.load(name)
        await a.type(names[0], "first")  # once b has it, b's initial reads are behind it
        await b.host.wait_for(lambda: b.text(names[0]) == "first")
        spy = XreadSpy(b.fanout)
        await b.type(names[1], "own")  # b's own notification: nothing to read
        await a.host.wait_for(lambda: a.text(names[1]) == "own")
        await a.type(names[2], "other")  # notified after b's own, in the same change stream
        await b.host.wait_for(lambda: b.text(names[2]) == "other")
        changed = {b.fanout.doc_key(names[2]), b.fanout.awareness_key(names[2])}
        assert spy.streams_read() == changed  # not the 19 others, not b's own document
        control = {f"{c.prefix}nodes", f"{c.prefix}changes:{a.fanout.node_id}",
                   f"{c.prefix}node:{b.fanout.node_id}:wake"}  # not b's own change stream
        assert spy.blocking and all(streams == control for streams in spy.blocking)


async def test_an_entry_whose_notification_was_lost_arrives_with_the_sweep(
    cluster: Cluster, redis_url: str
) -> None:
    async with cluster as c:
        b = await c.node(sweep=0.3)
        name = f"notes/{uuid.uuid4()}"
        await b.load(name)
        source: Doc[Text] = Doc()
        source["content"] = text = Text()
        text += "swept"
        admin: Redis[bytes] = Redis.from_url(redis_url)
        try:  # an entry on the document stream with no entry on the change stream
            await admin.xadd(b.fanout.doc_key(name), {"n": "elsewhere", "u": source.get_update()})
        finally:
            await admin.aclose()  # type: ignore[attr-defined]
        await b.host.wait_for(lambda: b.text(name) == "swept", timeout=10)


async def test_a_node_started_without_redis_does_not_read_the_change_backlog(
    cluster: Cluster, proxy: TcpProxy, redis_url: str
) -> None:
    async with cluster as c:
        a = await c.node()
        backlog = f"notes/{uuid.uuid4()}"
        await a.load(backlog)
        for char in "backlog":  # notices of a document b will never load
            await a.type(backlog, char)
        await a.fanout.wait_published()
        proxy.cut()
        b = await c.node(via_proxy=True)  # starts without Redis
        spy = XreadSpy(b.fanout)
        name = f"notes/{uuid.uuid4()}"
        await a.load(name)
        await b.load(name)
        proxy.restore()
        await a.type(name, "live")
        await b.host.wait_for(lambda: b.text(name) == "live", timeout=20)
        assert spy.changes_positions and "0-0" not in spy.changes_positions
