"""The media signaling messages, parsed and checked without I/O (docs/media.md, "Signaling").

Signaling rides the room's socket as room actions named ``media.*``. The client always offers,
on two peer connections per participant (the *publish* connection carries what it sends, the
*subscribe* connection what it receives), so the server only answers and no offer ever crosses
another (no glare). What exists to subscribe to is in the room document's ``media`` map, which
the server writes; a client that sees it change offers again on its subscribe connection.

| action | fields | reply |
| --- | --- | --- |
| ``media.config`` | — | ``iceServers``, ``limits`` |
| ``media.publish`` | ``sdp`` (offer), ``tracks`` ``[{mid, source}]`` | ``sdp`` (answer) |
| ``media.unpublish`` | ``source`` | — |
| ``media.subscribe`` | ``sdp`` (offer), ``tracks`` ``[{mid, userId, source}]`` | ``sdp`` (answer) |
| ``media.ice`` | ``pc`` (``publish``/``subscribe``), ``candidate``, ``sdpMid`` | — |
| ``media.mute`` | ``source``, ``muted``, ``userId`` (optional: a host muting another) | — |
| ``media.leave`` | — | — |
| ``media.record`` | ``on``, ``userId`` (optional: the sender) | ``objectKey``, ``duration`` |

``source`` is ``audio``, ``camera`` or ``screen``; ``audio`` rides an audio m-line, the other two
video m-lines. A ``publish`` offer lists every source the client sends on that connection: a
source published before and missing now is unpublished. The same holds for ``subscribe``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "ACTIONS",
    "KIND_OF",
    "MAX_SDP",
    "SOURCES",
    "Config",
    "Ice",
    "Leave",
    "Message",
    "Mute",
    "Publish",
    "Record",
    "SignalingError",
    "Subscribe",
    "Unpublish",
    "parse",
]

Source = Literal["audio", "camera", "screen"]
SOURCES: tuple[Source, ...] = ("audio", "camera", "screen")
KIND_OF: dict[str, str] = {"audio": "audio", "camera": "video", "screen": "video"}
MAX_SDP = 24 * 1024  # characters; a browser's offer with three m-lines is about 6 KB
MAX_TRACKS = 64  # entries of a subscribe offer
_MID = re.compile(r"^[A-Za-z0-9_.\-]{1,32}$")
_CANDIDATE = re.compile(r"^(candidate:)?\S+ \d+ \S+ \d+ \S+ \d+ typ \S+( .*)?$")


class SignalingError(Exception):
    """A malformed message: ``field`` names what is wrong (reason code ``invalid``)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"invalid {field}")
        self.field = field


@dataclass(frozen=True, slots=True)
class Config:
    pass


@dataclass(frozen=True, slots=True)
class Publish:
    sdp: str
    tracks: dict[str, Source]  # mid -> source


@dataclass(frozen=True, slots=True)
class Unpublish:
    source: Source


@dataclass(frozen=True, slots=True)
class Subscribe:
    sdp: str
    tracks: dict[str, tuple[str, Source]]  # mid -> (publisher's user id, source)


@dataclass(frozen=True, slots=True)
class Ice:
    pc: Literal["publish", "subscribe"]
    candidate: str  # the a=candidate value, "candidate:" prefix stripped
    sdp_mid: str


@dataclass(frozen=True, slots=True)
class Mute:
    source: Source
    muted: bool
    user_id: str | None = None  # whose source; None: the sender's (a host's forced mute)


@dataclass(frozen=True, slots=True)
class Leave:
    pass


@dataclass(frozen=True, slots=True)
class Record:
    on: bool
    user_id: str | None  # whose media; None: the sender's


Message = Config | Publish | Unpublish | Subscribe | Ice | Mute | Leave | Record

ACTIONS = frozenset({
    "media.config", "media.publish", "media.unpublish", "media.subscribe", "media.ice",
    "media.mute", "media.leave", "media.record",
})


def parse(action: str, fields: Mapping[str, Any]) -> Message:
    """The typed message of one ``media.*`` action.

    Raises:
        SignalingError: naming the first malformed field; ``action`` for an unknown action.
    """
    if action == "media.config":
        return Config()
    if action == "media.publish":
        sdp = _sdp(fields)
        tracks: dict[str, Source] = {}
        for entry in _entries(fields, limit=len(SOURCES)):
            mid = _mid(entry)
            source = _source(entry)
            if mid in tracks or source in tracks.values():
                raise SignalingError("tracks")
            tracks[mid] = source
        return Publish(sdp, tracks)
    if action == "media.unpublish":
        return Unpublish(_source(fields))
    if action == "media.subscribe":
        sdp = _sdp(fields)
        wanted: dict[str, tuple[str, Source]] = {}
        for entry in _entries(fields, limit=MAX_TRACKS):
            mid = _mid(entry)
            user_id = entry.get("userId")
            if not isinstance(user_id, str) or not 0 < len(user_id) <= 64:
                raise SignalingError("tracks.userId")
            pair = (user_id, _source(entry))
            if mid in wanted or pair in wanted.values():
                raise SignalingError("tracks")
            wanted[mid] = pair
        return Subscribe(sdp, wanted)
    if action == "media.ice":
        pc = fields.get("pc")
        if pc not in ("publish", "subscribe"):
            raise SignalingError("pc")
        candidate = fields.get("candidate")
        if not isinstance(candidate, str) or len(candidate) > 512 or not _CANDIDATE.match(
            candidate
        ):
            raise SignalingError("candidate")
        sdp_mid = fields.get("sdpMid")
        if not isinstance(sdp_mid, str) or not _MID.match(sdp_mid):
            raise SignalingError("sdpMid")
        return Ice(pc, candidate.removeprefix("candidate:"), sdp_mid)
    if action == "media.mute":
        muted = fields.get("muted")
        if not isinstance(muted, bool):
            raise SignalingError("muted")
        return Mute(_source(fields), muted, _opt_user(fields))
    if action == "media.leave":
        return Leave()
    if action == "media.record":
        on = fields.get("on")
        if not isinstance(on, bool):
            raise SignalingError("on")
        return Record(on, _opt_user(fields))
    raise SignalingError("action")


def _opt_user(fields: Mapping[str, Any]) -> str | None:
    user_id = fields.get("userId")
    if user_id is not None and (not isinstance(user_id, str) or not 0 < len(user_id) <= 64):
        raise SignalingError("userId")
    return user_id


def _sdp(fields: Mapping[str, Any]) -> str:
    sdp = fields.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise SignalingError("sdp")
    return sdp


def _entries(fields: Mapping[str, Any], *, limit: int) -> list[Mapping[str, Any]]:
    tracks = fields.get("tracks")
    if not isinstance(tracks, list) or len(tracks) > limit:
        raise SignalingError("tracks")
    if not all(isinstance(entry, dict) for entry in tracks):
        raise SignalingError("tracks")
    return tracks


def _mid(entry: Mapping[str, Any]) -> str:
    mid = entry.get("mid")
    if not isinstance(mid, str) or not _MID.match(mid):
        raise SignalingError("tracks.mid")
    return mid


def _source(entry: Mapping[str, Any]) -> Source:
    source = entry.get("source")
    for known in SOURCES:
        if source == known:
            return known
    raise SignalingError("source")
