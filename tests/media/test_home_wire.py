"""The media home's messages between nodes (``media.homewire``): every op round-trips, and
anything else is a ``WireError``."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from media.homewire import OPS, Reply, Request, WireError, decode, encode

ARGS: dict[str, dict[str, Any]] = {
    "publish": {"user": "u1", "offer": "v=0", "tracks": {"0": "audio"}},
    "unpublish": {"user": "u1", "source": "camera"},
    "subscribe": {"user": "u2", "offer": "v=0", "wanted": {"0": ["u1", "audio"]}},
    "add_candidate": {"user": "u1", "pc": "publish", "candidate": "c", "sdp_mid": "0"},
    "leave": {"user": "u1"},
    "set_muted": {"user": "u1", "source": "audio", "muted": True},
    "close_room": {},
    "publications": {},
    "start_recording": {"user": "u1", "name": "r.webm"},
    "stop_recording": {},
    "store_recording": {"user": "u1", "token": "t"},
}


def test_every_op_is_covered() -> None:
    assert set(ARGS) == set(OPS)


@pytest.mark.parametrize("op", sorted(OPS))
def test_requests_round_trip(op: str) -> None:
    request = Request("id1", "node-a", op, "room-1", ARGS[op])
    assert decode(encode(request)) == request


def test_replies_round_trip() -> None:
    ok = Reply("id1", True, {"sdp": "v=0"}, {"u1": ["audio", "camera"]})
    refused = Reply("id2", False, reason="media_limit", detail="publishers per room")
    assert decode(encode(ok)) == ok
    assert decode(encode(refused)) == refused
    assert decode(encode(Reply("id3", True))) == Reply("id3", True, None, None)


def _request(**changes: Any) -> bytes:
    raw: dict[str, Any] = {"v": 1, "id": "i", "from": "n", "op": "leave", "room": "r",
                           "args": {"user": "u"}}
    raw.update(changes)
    return json.dumps({k: v for k, v in raw.items() if v is not None}).encode()


@pytest.mark.parametrize(("data", "what"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not JSON"),
    (b"[1]", "version"),
    (_request(v=2), "version"),
    (_request(id=""), "id"),
    (_request(op="shutdown"), "unknown op"),
    (_request(args=None), "args"),
    (_request(args={}), "args.user"),
    (_request(args={"user": 7}), "args.user"),
    (_request(op="publish", args={"user": "u", "offer": "o", "tracks": []}), "args.tracks"),
    (_request(op="publish", args={"user": "u", "offer": "o", "tracks": {"0": 1}}),
     "args.tracks"),
    (_request(op="subscribe", args={"user": "u", "offer": "o", "wanted": {"0": ["u"]}}),
     "args.wanted"),
    (_request(op="subscribe", args={"user": "u", "offer": "o", "wanted": {"0": ["u", 2]}}),
     "args.wanted"),
    (b"[" * 100_000, "not JSON"),
    (_request(room=None), "room"),
    (_request(**{"from": None}), "from"),
    (json.dumps({"v": 1, "id": "i", "ok": "yes"}).encode(), "neither"),
    (json.dumps({"v": 1, "id": "i", "ok": False}).encode(), "reason"),
    (json.dumps({"v": 1, "id": "i", "ok": True, "publications": {"u": "audio"}}).encode(),
     "publications"),
])
def test_malformed_messages_are_wire_errors(data: bytes, what: str) -> None:
    with pytest.raises(WireError, match=what):
        decode(data)


def test_an_extra_argument_is_ignored() -> None:
    request = decode(_request(args={"user": "u", "tracks": 5}))
    assert isinstance(request, Request) and request.op == "leave"


def test_mutated_messages_decode_or_raise_wire_error() -> None:
    """A seeded mutation run over valid messages: every input decodes to a message or raises
    ``WireError``, never anything else."""
    rng = random.Random(15)
    seeds = [encode(Request("id", "node", op, "room", ARGS[op])) for op in sorted(OPS)]
    seeds += [encode(Reply("id", True, {"a": [1]}, {"u": ["audio"]})),
              encode(Reply("id", False, reason="invalid", detail="x"))]
    decoded = refused = 0
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[at:at + rng.randint(1, 8)]
            else:
                data[at:at] = rng.choice([b'"', b"{", b"}", b"[", b"]", b",", b":", b"null",
                                          b"1", b'"x"', b"true"])
        try:
            assert isinstance(decode(bytes(data)), Request | Reply)
            decoded += 1
        except WireError:
            refused += 1
    assert decoded and refused  # both outcomes were exercised
