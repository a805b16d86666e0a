"""The media home's messages between nodes (``media.homewire``): every op round-trips, and
anything else is a ``WireError``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from media.homewire import OPS, Reply, Request, WireError, decode, encode

ARGS: dict[str, dict[str, Any]] = {
    "publish": {"user": "u1", "offer": "v=0", "tracks": {"0": "audio"}},
    "unpublish": {"user": "u1", "source": "camera"},
    "subscribe": {"user": "u2", "offer": "v=0", "wanted": {"0": ["u1", "audio"]}},
    "add_candidate": {"user": "u1", "pc": "publish", "candidate": "c", "sdp_mid": "0"},
    "leave": {"user": "u1"},
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
    (_request(room=None), "room"),
    (_request(**{"from": None}), "from"),
    (json.dumps({"v": 1, "id": "i", "ok": "yes"}).encode(), "neither"),
    (json.dumps({"v": 1, "id": "i", "ok": False}).encode(), "reason"),
    (json.dumps({"v": 1, "id": "i", "ok": True, "publications": {"u": "audio"}}).encode(),
     "publications"),
])
def test_anything_else_is_a_wire_error(data: bytes, what: str) -> None:
    with pytest.raises(WireError, match=what):
        decode(data)
