"""What the media home runs on its own relay (``media.home``): the relay it needs, the
dispatch of a call by its op (``media.homewire.OPS``), and the recordings it wrote for another
node until that node has them stored."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from media.config import MediaRefused

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from media.config import IceServer, RelayLimits, Stopped
    from media.recording import RecordedFile
    from media.speaker import Speakers

__all__ = ["FinishedRecordings", "LocalRelay", "RecordingStore", "run_on"]


class LocalRelay(Protocol):
    """This process's relay (``media.relay.MediaRelay``)."""

    client_ice_servers: tuple[IceServer, ...]
    limits: RelayLimits
    changes: MemoryObjectReceiveStream[str]
    speaker_changes: MemoryObjectReceiveStream[str]

    async def publish(self, room_id: str, user_id: str, offer: str,
                      tracks: Mapping[str, str]) -> str: ...
    async def unpublish(self, room_id: str, user_id: str, source: str) -> bool: ...
    async def subscribe(self, room_id: str, user_id: str, offer: str,
                        wanted: Mapping[str, tuple[str, str]]) -> str: ...
    async def add_candidate(self, room_id: str, user_id: str, pc_name: str, candidate: str,
                            sdp_mid: str) -> bool: ...
    async def leave(self, room_id: str, user_id: str) -> None: ...
    async def close_room(self, room_id: str) -> None: ...
    def publications(self, room_id: str) -> dict[str, list[str]]: ...
    def set_muted(self, room_id: str, user_id: str, source: str, muted: bool) -> bool: ...
    def speakers(self, room_id: str) -> Speakers: ...
    def take_stopped(self, room_id: str) -> list[Stopped]: ...
    def start_recording(self, room_id: str, user_id: str, path: Path) -> None: ...
    async def stop_recording(self, room_id: str) -> RecordedFile | None: ...


class RecordingStore(Protocol):
    """Where a finished recording goes (``rooms.media.RecordingSink``)."""

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str: ...


async def run_on(relay: LocalRelay, op: str, room: str, args: Mapping[str, Any],
                 path: Path | None) -> Any:
    """Carry out ``op`` (any but ``store_recording``) on ``relay``; ``args`` are as
    ``media.homewire.decode`` checked them, ``path`` is where ``start_recording`` writes.

    Raises:
        MediaRefused: the relay's refusal.
    """
    user = str(args.get("user", ""))
    if op == "publish":
        return await relay.publish(room, user, args["offer"], args["tracks"])
    if op == "subscribe":
        wanted = {mid: (str(pair[0]), str(pair[1])) for mid, pair in args["wanted"].items()
                  if isinstance(pair, list | tuple) and len(pair) == 2}
        return await relay.subscribe(room, user, args["offer"], wanted)
    if op == "unpublish":
        return await relay.unpublish(room, user, args["source"])
    if op == "add_candidate":
        return await relay.add_candidate(room, user, args["pc"], args["candidate"],
                                         args["sdp_mid"])
    if op == "leave":
        await relay.leave(room, user)
        return None
    if op == "close_room":
        await relay.close_room(room)
        return None
    if op == "publications":
        return relay.publications(room)
    if op == "start_recording":
        if path is None:
            raise MediaRefused("invalid", "no recording path")
        relay.start_recording(room, user, path)
        return None
    if op == "stop_recording":
        return await relay.stop_recording(room)
    if op == "set_muted":
        return relay.set_muted(room, user, str(args["source"]), bool(args["muted"]))
    raise MediaRefused("invalid", f"op {op}")


class FinishedRecordings:
    """Recordings this node wrote and stopped for another node, kept until that node asks to
    store them (``store_recording``). One never asked for stays in the scratch folder, as a
    recording whose store failed does on one node."""

    def __init__(self) -> None:
        self._kept: dict[str, tuple[str, RecordedFile]] = {}  # token -> (room, file)

    def keep(self, room: str, node: str, recorded: RecordedFile | None) -> dict[str, Any] | None:
        """The ``stop_recording`` reply value for the asking node (None: none ran)."""
        if recorded is None:
            return None
        token = ""
        if recorded.size:
            token = uuid.uuid4().hex
            self._kept[token] = (room, recorded)
        else:  # nothing worth keeping: the asking node will not ask to store it
            recorded.path.unlink(missing_ok=True)
        return {"home": node, "token": token, "path": str(recorded.path),
                "duration": recorded.duration, "size": recorded.size, "video": recorded.video}

    async def store(self, room: str, user: str, token: str,
                    sink: RecordingStore | None) -> str:
        """Store a kept recording through ``sink``, then delete the file.

        Raises:
            MediaRefused: not_found (no such recording of the room here, or no sink).
        """
        kept = self._kept.pop(token, None)
        if kept is None or kept[0] != room or sink is None:
            raise MediaRefused("not_found", "no such finished recording here")
        recorded = kept[1]
        try:
            return await sink.store(room, user, recorded)
        finally:
            recorded.path.unlink(missing_ok=True)
