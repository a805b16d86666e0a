"""``media.home.HomedMedia`` on two nodes sharing a real Redis, each with a stand-in relay that
records its calls: calls anywhere reach the room's home, refusals come back with their reason,
a dead or silent home gives a clear refusal or is taken over, a recording is stored by the
node that wrote it, and the claim ends with the room's media."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import anyio
import pytest
from redis.asyncio import Redis

from media.config import IceServer, MediaRefused, RelayLimits, Stopped
from media.home import HomedMedia
from media.homeclaim import RedisClaims
from media.homewire import Reply, Request, decode, encode, reply_channel, request_channel
from media.recording import RecordedFile
from media.speaker import Speakers

pytestmark = pytest.mark.redis


class StandIn:
    """A relay that answers at once and records what it was asked (its node's view)."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.client_ice_servers: tuple[IceServer, ...] = ()
        self.limits = RelayLimits()
        self._send, self.changes = anyio.create_memory_object_stream[str](8)
        self._spoke, self.speaker_changes = anyio.create_memory_object_stream[str](8)
        self.muted: set[tuple[str, str, str]] = set()
        self.calls: list[tuple[str, ...]] = []
        self.published: dict[str, dict[str, list[str]]] = {}
        self.refuse: MediaRefused | None = None
        self.recording: Path | None = None

    async def publish(self, room_id: str, user_id: str, offer: str,
                      tracks: Mapping[str, str]) -> str:
        self.calls.append(("publish", room_id, user_id))
        if self.refuse is not None:
            raise self.refuse
        self.published.setdefault(room_id, {})[user_id] = sorted(tracks.values())
        return f"answer from {self.node}"

    async def unpublish(self, room_id: str, user_id: str, source: str) -> bool:
        self.calls.append(("unpublish", room_id, user_id, source))
        return False

    async def subscribe(self, room_id: str, user_id: str, offer: str,
                        wanted: Mapping[str, tuple[str, str]]) -> str:
        self.calls.append(("subscribe", room_id, user_id, *sorted(map(str, wanted.values()))))
        return f"answer from {self.node}"

    async def add_candidate(self, room_id: str, user_id: str, pc_name: str, candidate: str,
                            sdp_mid: str) -> bool:
        self.calls.append(("add_candidate", room_id, user_id, pc_name))
        return True

    async def leave(self, room_id: str, user_id: str) -> None:
        self.calls.append(("leave", room_id, user_id))
        self.published.get(room_id, {}).pop(user_id, None)

    async def close_room(self, room_id: str) -> None:
        self.calls.append(("close_room", room_id))
        self.published.pop(room_id, None)

    def publications(self, room_id: str) -> dict[str, list[str]]:
        return dict(self.published.get(room_id, {}))

    def start_recording(self, room_id: str, user_id: str, path: Path) -> None:
        self.calls.append(("start_recording", room_id, user_id))
        self.recording = path

    def set_muted(self, room_id: str, user_id: str, source: str, muted: bool) -> bool:
        self.calls.append(("set_muted", room_id, user_id, source, str(muted)))
        (self.muted.add if muted else self.muted.discard)((room_id, user_id, source))
        return source in self.published.get(room_id, {}).get(user_id, [])

    def speakers(self, room_id: str) -> Speakers:
        return Speakers()

    def take_stopped(self, room_id: str) -> list[Stopped]:
        return []

    async def stop_recording(self, room_id: str) -> RecordedFile | None:
        if self.recording is None:
            return None
        self.recording.write_bytes(b"webm" * 100)
        done, self.recording = RecordedFile(self.recording, 2.5, 400, True), None
        return done


class Sink:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str, bytes]] = []

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        self.stored.append((session_id, user_id, recorded.path.read_bytes()))
        return f"recordings/{session_id}/1.webm"


@contextlib.asynccontextmanager
async def node(redis: Redis[bytes], prefix: str, name: str, scratch: Path, *,
               timeout: float = 5.0, ttl: float = 30
               ) -> AsyncIterator[tuple[HomedMedia, StandIn, Sink]]:
    relay, sink = StandIn(name), Sink()
    claims = RedisClaims(redis, name, prefix=prefix, ttl=ttl)
    async with HomedMedia(relay, claims, redis, prefix=prefix, scratch=scratch / name,
                          recordings=sink, timeout=timeout) as homed:
        yield homed, relay, sink


async def test_calls_on_any_node_reach_the_home(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    claims = RedisClaims(redis, "observer", prefix=redis_prefix, ttl=30)
    async with (node(redis, redis_prefix, "a", tmp_path) as (a, relay_a, _),
                node(redis, redis_prefix, "b", tmp_path) as (b, relay_b, _)):
        assert await a.publish("room", "pub", "offer", {"0": "audio", "1": "camera"}) == \
            "answer from a"
        assert await claims.holder("room") == "a"
        assert await b.subscribe("room", "sub", "offer", {"0": ("pub", "camera")}) == \
            "answer from a"  # b's subscriber reaches a's relay
        assert b.publications("room") == {"pub": ["audio", "camera"]}  # from a's reply
        assert await b.add_candidate("room", "sub", "subscribe", "c", "0") is True
        relay_a.refuse = MediaRefused("media_limit", "publishers per room")
        with pytest.raises(MediaRefused) as refused:
            await b.publish("room", "pub2", "offer", {"0": "audio"})
        assert (refused.value.reason, refused.value.detail) == \
            ("media_limit", "publishers per room")
        assert relay_b.calls == []  # nothing ran on b

        # A removal on b ends the media b's socket negotiated, at the home.
        await b.leave("room", "sub")
        assert ("leave", "room", "sub") in relay_a.calls
        with anyio.fail_after(5):  # a hosts it (1), and mirrors after b's leave (2)
            assert [await a.changes.receive() for _ in range(2)] == ["room", "room"]
        assert await claims.holder("room") == "a"  # the publisher is still there
        # b losing its last socket of "pub" (who negotiated through a) ends nothing.
        await b.leave("room", "pub")
        assert ("leave", "room", "pub") not in relay_a.calls
        assert relay_a.publications("room") == {"pub": ["audio", "camera"]}
        await a.leave("room", "pub")
        assert relay_a.publications("room") == {}
        assert await claims.holder("room") is None  # the room's media ended: released
        # ... and a call for a room nobody hosts runs on the asking node (with nothing there).
        await b.leave("room", "pub")
        assert relay_b.calls == [("leave", "room", "pub")]


async def test_a_mute_on_another_node_is_enforced_at_the_home(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    async with (node(redis, redis_prefix, "a", tmp_path) as (a, relay_a, _),
                node(redis, redis_prefix, "b", tmp_path) as (b, relay_b, _)):
        await a.publish("room", "pub", "offer", {"0": "audio"})
        # b never called the home for this room: the mute still reaches it
        assert b.set_muted("room", "pub", "audio", True) is False  # (b has no reply yet)
        with anyio.fail_after(5):
            while ("room", "pub", "audio") not in relay_a.muted:
                await anyio.sleep(0.02)
        b.set_muted("room", "pub", "audio", True)  # unchanged: not sent again
        b.set_muted("room", "pub", "audio", False)
        with anyio.fail_after(5):
            while ("room", "pub", "audio") in relay_a.muted:
                await anyio.sleep(0.02)
        assert [c for c in relay_a.calls if c[0] == "set_muted"] == [
            ("set_muted", "room", "pub", "audio", "True"),
            ("set_muted", "room", "pub", "audio", "False")]
        assert not [c for c in relay_b.calls if c[0] == "set_muted"]
        assert a.set_muted("room", "pub", "audio", True) is True  # at the home: at once
        assert ("room", "pub", "audio") in relay_a.muted


async def test_a_silent_home_is_refused_clearly_and_a_dead_one_taken_over(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    claims = RedisClaims(redis, "ghost", prefix=redis_prefix, ttl=30)
    async with node(redis, redis_prefix, "b", tmp_path, timeout=0.5) as (b, relay_b, _):
        await claims.claim("room")
        silent = redis.pubsub()  # "ghost" reads its channel but never answers
        await silent.subscribe(request_channel(redis_prefix, "ghost"))
        try:
            with anyio.fail_after(5), pytest.raises(MediaRefused) as refused:
                await b.publish("room", "pub", "offer", {"0": "audio"})
        finally:
            await silent.aclose()  # type: ignore[attr-defined]
        assert refused.value.reason == "media_unavailable"
        assert "ghost did not answer in 0.5 s" in refused.value.detail
        assert relay_b.calls == []

        # Now nobody reads ghost's channel (the process died): b hosts the room at once, and
        # reports it so the room side mirrors the room as b has it.
        assert await b.publish("room", "pub", "offer", {"0": "audio"}) == "answer from b"
        assert await claims.holder("room") == "b"
        with anyio.fail_after(5):
            assert await b.changes.receive() == "room"


async def test_a_recording_is_written_and_stored_by_the_home(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    async with (node(redis, redis_prefix, "a", tmp_path) as (a, relay_a, sink_a),
                node(redis, redis_prefix, "b", tmp_path) as (b, _, sink_b)):
        await a.publish("room", "host", "offer", {"0": "audio"})
        await b.start_recording("room", "host", Path("/elsewhere/room-1.webm"))
        assert relay_a.recording == tmp_path / "a" / "room-1.webm"  # in a's scratch
        recorded = await b.stop_recording("room")
        assert recorded is not None and (recorded.duration, recorded.size) == (2.5, 400)
        assert await b.store("room", "host", recorded) == "recordings/room/1.webm"
        assert sink_a.stored == [("room", "host", b"webm" * 100)] and sink_b.stored == []
        assert not (tmp_path / "a" / "room-1.webm").exists()  # stored, then deleted there
        assert await b.stop_recording("room") is None
        await b.close_room("room")
        assert ("close_room", "room") in relay_a.calls


async def test_a_home_gone_quiet_is_taken_over_without_a_call(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    """b forwarded to "ghost" (a stand-in home answering every call); ghost then stops
    reading its channel, as a killed process does: b takes the room over on its own within a
    refresh period and reports it (the room side mirrors it empty, and the pages offer again);
    nobody offering again, b lets the claim go two periods later."""
    claims = RedisClaims(redis, "ghost", prefix=redis_prefix, ttl=30)
    await claims.claim("room")
    ghost = redis.pubsub()
    await ghost.subscribe(request_channel(redis_prefix, "ghost"))

    async def answer() -> None:
        while True:
            message = await ghost.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is None:
                continue
            request = decode(bytes(message["data"]))
            assert isinstance(request, Request)
            await redis.publish(reply_channel(redis_prefix, request.sender),
                                encode(Reply(request.id, True, "answer from ghost", {})))

    async with node(redis, redis_prefix, "b", tmp_path, ttl=1.5) as (b, relay_b, _):
        async with anyio.create_task_group() as tg:
            tg.start_soon(answer)
            assert await b.subscribe("room", "sub", "offer", {}) == "answer from ghost"
            tg.cancel_scope.cancel()
        await ghost.aclose()  # type: ignore[attr-defined]  # the ghost dies
        with anyio.fail_after(5):
            assert await b.changes.receive() == "room"
        assert await claims.holder("room") == "b"
        assert relay_b.calls == []  # taken over by the watch, not by a call
        with anyio.fail_after(5):
            while await claims.holder("room") is not None:
                await anyio.sleep(0.05)


async def test_a_home_shut_down_is_claimed_by_a_node_it_served(
    redis: Redis[bytes], redis_prefix: str, tmp_path: Path
) -> None:
    """A home that shuts down lets its claims go and its relay ends every connection without
    reporting a change; b, which forwarded to it, claims the room on its own and reports it."""
    claims = RedisClaims(redis, "observer", prefix=redis_prefix, ttl=30)
    async with node(redis, redis_prefix, "b", tmp_path, ttl=1.5) as (b, relay_b, _):
        async with node(redis, redis_prefix, "a", tmp_path) as (a, _, _):
            await a.publish("room", "pub", "offer", {"0": "audio"})
            assert await b.subscribe("room", "sub", "offer", {}) == "answer from a"
        assert await claims.holder("room") in (None, "b")  # a let it go on the way out
        with anyio.fail_after(5):
            assert await b.changes.receive() == "room"
        assert await claims.holder("room") == "b"
        assert relay_b.calls == []


async def test_without_redis_calls_are_refused_clearly(tmp_path: Path) -> None:
    """Redis unreachable (nothing listens on port 1): the node still starts, and a media call
    is refused with media_unavailable, never an internal error; nothing ran."""
    unreachable: Redis[bytes] = Redis.from_url("redis://127.0.0.1:1",
                                               socket_connect_timeout=1.0)
    relay = StandIn("b")
    claims = RedisClaims(unreachable, "b", prefix="x:", ttl=30)
    try:
        async with HomedMedia(relay, claims, unreachable, prefix="x:", scratch=tmp_path) as b:
            with anyio.fail_after(10), pytest.raises(MediaRefused) as refused:
                await b.publish("room", "pub", "offer", {"0": "audio"})
            assert refused.value.reason == "media_unavailable"
            assert relay.calls == []
    finally:
        await unreachable.aclose()  # type: ignore[attr-defined]
