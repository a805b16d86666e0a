"""The media home's messages between nodes (docs/media.md, "One media home per room"): pure
functions from JSON bytes to typed messages and back, no I/O.

A node that is not a room's media home forwards each backend call to the home over Redis
pub/sub: the request goes to the home's channel ``<prefix>media:node:<home>``, the reply to the
asking node's ``<prefix>media:reply:<node>``, matched by ``id``::

    request {"v": 1, "id": "<hex>", "from": "<node>", "op": "<op>", "room": "<id>",
             "args": {...}}
    reply   {"v": 1, "id": "<hex>", "ok": true, "value": <json>, "publications": {...}}
          | {"v": 1, "id": "<hex>", "ok": false, "reason": "<REFUSALS key>", "detail": "..."}

``OPS`` names each operation with the argument names it requires (all strings unless noted):
a request with an unknown op, a missing or mistyped argument, or an unknown version is a
``WireError`` and is dropped. ``publications`` in a reply is the room's publications at the
home after the call (user id -> sources), so the asking node can mirror them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["OPS", "VERSION", "Reply", "Request", "WireError", "decode", "encode",
           "reply_channel", "request_channel"]

VERSION = 1

# op -> the argument names it requires, each with its JSON type.
OPS: dict[str, dict[str, type]] = {
    "publish": {"user": str, "offer": str, "tracks": dict},  # tracks: mid -> source
    "unpublish": {"user": str, "source": str},
    "subscribe": {"user": str, "offer": str, "wanted": dict},  # mid -> [user, source]
    "add_candidate": {"user": str, "pc": str, "candidate": str, "sdp_mid": str},
    "leave": {"user": str},
    "set_muted": {"user": str, "source": str, "muted": bool},  # value: published there
    "close_room": {},
    "publications": {},
    "start_recording": {"user": str, "name": str},  # name: a file name in the home's scratch
    "stop_recording": {},  # value: {"token", "duration", "size", "video"} or None
    "store_recording": {"user": str, "token": str},  # value: the object key
}


class WireError(ValueError):
    """A message that is not one of ours; dropped (and logged) by the receiver."""


@dataclass(frozen=True, slots=True)
class Request:
    id: str
    sender: str  # the asking node's id: its reply channel
    op: str
    room: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    id: str
    ok: bool
    value: Any = None
    publications: dict[str, list[str]] | None = None
    reason: str = ""
    detail: str = ""


def request_channel(prefix: str, node: str) -> str:
    """The channel a home node reads requests from."""
    return f"{prefix}media:node:{node}"


def reply_channel(prefix: str, node: str) -> str:
    """The channel a node reads the replies to its requests from."""
    return f"{prefix}media:reply:{node}"


def encode(message: Request | Reply) -> bytes:
    """The JSON bytes of ``message``."""
    if isinstance(message, Request):
        out: dict[str, Any] = {"v": VERSION, "id": message.id, "from": message.sender,
                               "op": message.op, "room": message.room, "args": message.args}
    elif message.ok:
        out = {"v": VERSION, "id": message.id, "ok": True, "value": message.value,
               "publications": message.publications}
    else:
        out = {"v": VERSION, "id": message.id, "ok": False, "reason": message.reason,
               "detail": message.detail}
    return json.dumps(out, separators=(",", ":")).encode()


def decode(data: bytes) -> Request | Reply:
    """Parse one message.

    Raises:
        WireError: not JSON, another version, or a field missing or of the wrong type.
    """
    try:
        raw = json.loads(data)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError)
        raise WireError("not JSON") from None
    if not isinstance(raw, dict) or raw.get("v") != VERSION:
        raise WireError("not a version 1 message")
    message_id = _text(raw, "id")
    if "op" in raw:
        op, args = _text(raw, "op"), raw.get("args")
        if op not in OPS:
            raise WireError(f"unknown op {op!r}")
        if not isinstance(args, dict):
            raise WireError("args")
        for name, kind in OPS[op].items():
            if not isinstance(args.get(name), kind):
                raise WireError(f"args.{name}")
        if op == "publish" and not all(
            isinstance(source, str) for source in args["tracks"].values()
        ):
            raise WireError("args.tracks")
        if op == "subscribe" and not all(
            isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
            for pair in args["wanted"].values()
        ):
            raise WireError("args.wanted")
        return Request(message_id, _text(raw, "from"), op, _text(raw, "room"), args)
    ok = raw.get("ok")
    if ok is True:
        return Reply(message_id, True, raw.get("value"), _publications(raw.get("publications")))
    if ok is False:
        return Reply(message_id, False, reason=_text(raw, "reason"),
                     detail=str(raw.get("detail", "")))
    raise WireError("neither a request nor a reply")


def _text(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise WireError(name)
    return value


def _publications(value: object) -> dict[str, list[str]] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(user, str) and isinstance(sources, list)
        and all(isinstance(s, str) for s in sources)
        for user, sources in value.items()
    ):
        raise WireError("publications")
    return {user: list(sources) for user, sources in value.items()}
