"""Stateless messages (type 100): framing, the per-kind handler, opt-in delivery, limits."""

from __future__ import annotations

import json

import anyio
import pytest

from collab import CollabConfig, Reject
from collab.errors import CloseCode, ProtocolViolation
from collab.kinds import Authorize, DocumentKind, StatelessReceived
from collab.protocol import (
    Stateless,
    SyncStep1,
    decode_message,
    encode_message,
    encode_stateless,
    write_var_uint,
)
from tests.collab._kit import FAST, MemoryClient, running


class Room:
    """A stateless handler: "echo" replies, "shout" broadcasts, "bad" rejects, "kick" closes."""

    def __init__(self) -> None:
        self.seen: list[StatelessReceived] = []

    async def on_stateless(self, event: StatelessReceived) -> None:
        self.seen.append(event)
        action = json.loads(event.payload)
        if action["type"] == "echo":
            event.reply(json.dumps({"echo": action["text"], "role": event.role}))
        elif action["type"] == "shout":
            event.broadcast(json.dumps({"from": event.principal.user_id, "text": action["text"]}))
        elif action["type"] == "bad":
            event.broadcast("never sent")
            event.reject("votes are closed")
        elif action["type"] == "kick":
            raise Reject(CloseCode.FORBIDDEN, "not in this room")


class Hosts:
    """Authorizer: user 1 hosts, everyone else attends read-only."""

    async def authorize(self, event: Authorize) -> None:
        if event.principal.user_id == "1":
            event.role = "host"
        else:
            event.role, event.read_only = "attendee", True


def kinds(room: Room) -> list[DocumentKind]:
    return [DocumentKind("notes"), DocumentKind("sessions", Hosts(), stateless=room)]


def session() -> str:
    import uuid

    return f"sessions/{uuid.uuid4().hex}"


async def next_stateless(client: MemoryClient, timeout: float = 5.0) -> Stateless:
    with anyio.fail_after(timeout):
        while True:
            message = await client.recv_message()
            if isinstance(message, Stateless):
                return message


async def opened(client: MemoryClient) -> None:
    assert isinstance(await client.recv_message(), SyncStep1)  # admitted and synced


def test_framing_round_trips_and_is_strict() -> None:
    frame = encode_stateless('{"vote":"b"} ✓')
    assert frame[:2] == bytes((100, 0))
    assert decode_message(frame) == Stateless('{"vote":"b"} ✓')
    rejected = encode_stateless("closed", rejected=True)
    assert decode_message(rejected) == Stateless("closed", rejected=True)
    assert encode_message(Stateless("closed", rejected=True)) == rejected
    with pytest.raises(ProtocolViolation):
        decode_message(bytes((100, 2)) + write_var_uint(1) + b"x")  # unknown status
    with pytest.raises(ProtocolViolation):
        decode_message(bytes((100, 0)) + write_var_uint(2) + b"\xff\xfe")  # not UTF-8
    with pytest.raises(ProtocolViolation):
        decode_message(encode_stateless("x") + b"\x00")  # trailing bytes


async def test_reply_reaches_the_sender_with_its_role() -> None:
    room = Room()
    async with running(kinds=kinds(room)) as h:
        name = session()
        host = await h.connect(name, "user-1")
        await opened(host)
        await host.send(encode_stateless(json.dumps({"type": "echo", "text": "hi"})))
        reply = await next_stateless(host)
        assert json.loads(reply.payload) == {"echo": "hi", "role": "host"}
        assert room.seen[0].principal.user_id == "1" and room.seen[0].read_only is False


async def test_broadcast_reaches_opted_in_connections_only() -> None:
    room = Room()
    async with running(kinds=kinds(room)) as h:
        name = session()
        sender = await h.connect(name, "user-2")
        listener = await h.connect(name, "user-3", params={"stateless": "1"})
        plain = await h.connect(name, "user-4")  # a stock client that never asked
        for client in (sender, listener, plain):
            await opened(client)
        await sender.send(encode_stateless(json.dumps({"type": "shout", "text": "hello"})))
        got = await next_stateless(listener)
        assert json.loads(got.payload) == {"from": "2", "text": "hello"}
        # A read-only attendee may still send actions; nothing came back to the sender, and
        # the plain client saw no frame of a type it does not know.
        await sender.send(encode_stateless(json.dumps({"type": "echo", "text": "me"})))
        echo = await next_stateless(sender)
        assert json.loads(echo.payload)["echo"] == "me"  # the shout was not echoed first
        await plain.leave()
        while True:
            try:
                frame = await plain.recv(timeout=1)
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                break
            assert frame[0] != 100


async def test_rejection_goes_to_the_sender_and_nothing_is_broadcast() -> None:
    room = Room()
    async with running(kinds=kinds(room)) as h:
        name = session()
        sender = await h.connect(name, "user-1", params={"stateless": "1"})
        listener = await h.connect(name, "user-2", params={"stateless": "1"})
        await opened(sender)
        await opened(listener)
        await sender.send(encode_stateless(json.dumps({"type": "bad"})))
        assert await next_stateless(sender) == Stateless("votes are closed", rejected=True)
        await sender.send(encode_stateless(json.dumps({"type": "shout", "text": "after"})))
        got = await next_stateless(listener)
        assert json.loads(got.payload)["text"] == "after"  # "never sent" never arrived


async def test_handler_reject_closes_only_the_sender() -> None:
    async with running(kinds=kinds(Room())) as h:
        name = session()
        sender = await h.connect(name, "user-2")
        other = await h.connect(name, "user-3", params={"stateless": "1"})
        await opened(sender)
        await opened(other)
        await sender.send(encode_stateless(json.dumps({"type": "kick"})))
        assert await sender.wait_closed() == CloseCode.FORBIDDEN
        assert not other.closed.is_set()


async def test_a_kind_without_a_handler_refuses_stateless_messages() -> None:
    async with running(kinds=kinds(Room())) as h:
        client = await h.connect("notes/abc", "user-1")
        await opened(client)
        await client.send(encode_stateless("{}"))
        assert await client.wait_closed() == CloseCode.PROTOCOL_ERROR


async def test_a_client_cannot_send_a_rejection() -> None:
    async with running(kinds=kinds(Room())) as h:
        client = await h.connect(session(), "user-1")
        await opened(client)
        await client.send(encode_stateless("nope", rejected=True))
        assert await client.wait_closed() == CloseCode.PROTOCOL_ERROR


async def test_size_limit_closes_with_1009() -> None:
    config = CollabConfig(**{**_fast(), "max_stateless_size": 1024})
    async with running(config, kinds=kinds(Room())) as h:
        client = await h.connect(session(), "user-1")
        await opened(client)
        big = json.dumps({"type": "echo", "text": "x" * 1024})
        await client.send(encode_stateless(big))
        assert await client.wait_closed() == CloseCode.MESSAGE_TOO_BIG


async def test_rate_limit_closes_with_1013_after_the_burst() -> None:
    config = CollabConfig(**{**_fast(), "stateless_per_second": 1.0, "stateless_burst": 5})
    room = Room()
    async with running(config, kinds=kinds(room)) as h:
        client = await h.connect(session(), "user-1")
        await opened(client)
        for _ in range(7):
            await client.send(encode_stateless(json.dumps({"type": "echo", "text": "x"})))
        assert await client.wait_closed() == CloseCode.TRY_AGAIN_LATER
        assert len(room.seen) == 5


def _fast() -> dict[str, object]:
    return {field: getattr(FAST, field) for field in FAST.__dataclass_fields__}
