"""Media signaling on the room's socket: ``media.*`` actions checked and handed to the relay.

The relay (``media.relay``) knows peer connections and tracks; this module knows the room: the
sender's role (from the connection, kept current on promotion), the session's status and its
settings. Who may publish (docs/media.md, "Who may publish"):

* ``audio`` and ``camera``: hosts and co-hosts always; participants and presenters when
  ``whoMayUnmute`` is ``everyone``;
* ``screen``: hosts and co-hosts always; participants and presenters when ``whoMayShare`` is
  ``everyone``;
* viewers never. Anyone in the room may subscribe.

What is published, and its mute state, is mirrored into the room document's ``media`` map
(userId → source → ``{"muted": bool}``, plus ``"forced": true`` while a host's mute holds), so
every page (on every node) sees who sends what and offers again on its subscribe connection
when it changes. Mute is enforced by the relay: a muted source is not forwarded
(``MediaBackend.set_muted``), whatever the client sends. Mute rules:

* the owner may always mute; they may unmute only if they may publish that source now (above),
  which also decides whether a host's forced mute can be undone by them;
* hosts and co-hosts may mute anyone's source (``userId``): a *forced* mute; they cannot unmute
  someone else (turning a microphone on is the owner's decision).

Who speaks (the relay measures the audio level of each voice) is written to the state Map's
``speaker`` (``{"userId": active speaker or None, "speaking": [userIds]}``) when it changes,
at most four times a second per room.

A publication the relay stops on its own for sending over its bitrate cap is told to its
publisher: a ``media.stopped`` push (``{source, reason: "bitrate", rate, limit}`` in bits/s)
to that user's connections only, then the map drops it.

Small meetings go peer to peer (``rooms.p2p``): ``media.p2p.*`` actions go there, and every
write of the ``media`` map or the recording state settles the room's media mode in the same
transaction.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from collab import CollabServer
from collab.types import YDoc
from media.config import MediaRefused
from media.signaling import (
    Config,
    Ice,
    Leave,
    Mute,
    P2pFailed,
    P2pIce,
    P2pPublish,
    P2pSignal,
    Publish,
    Record,
    SignalingError,
    Subscribe,
    Unpublish,
)
from media.signaling import parse as parse_media
from rooms import document as d
from rooms.p2p import P2P, P2pRooms, current_mode, prune, settle
from rooms.p2p import clear as clear_p2p
from rooms.rules import HOSTS, SPEAKERS, Actor, Rejected

if TYPE_CHECKING:
    from anyio.streams.memory import MemoryObjectReceiveStream

    from media.config import IceServer, RelayLimits, Stopped
    from media.recording import RecordedFile
    from media.speaker import Speakers

__all__ = ["MEDIA", "RECORDING", "SPEAKER", "MediaBackend", "RecordingSink", "RoomMedia",
           "may_publish"]

log = logging.getLogger(__name__)

MEDIA = "media"  # room Map: userId -> {source: {"muted": bool, "forced"?: True}}
RECORDING = "recording"  # in the room's state Map: {userId, startedAt} while recording, else None
SPEAKER = "speaker"  # in the room's state Map: {userId: active speaker | None, speaking: [ids]}


class MediaBackend(Protocol):
    """What the room side needs from a media server: ``media.relay.MediaRelay`` (aiortc, in
    this process) satisfies it; a dedicated SFU (LiveKit, mediasoup) behind the same actions
    would implement it too (docs/media.md, "Next step"). Every method raises
    ``media.config.MediaRefused`` to refuse."""

    client_ice_servers: tuple[IceServer, ...]
    limits: RelayLimits
    changes: MemoryObjectReceiveStream[str]
    speaker_changes: MemoryObjectReceiveStream[str]  # rooms whose speakers changed

    async def publish(self, room_id: str, user_id: str, offer: str,
                      tracks: Mapping[str, str]) -> str: ...
    async def unpublish(self, room_id: str, user_id: str, source: str) -> bool: ...
    def set_muted(self, room_id: str, user_id: str, source: str, muted: bool) -> bool: ...
    def speakers(self, room_id: str) -> Speakers: ...
    # what the relay stopped on its own since the last call (over a bitrate cap)
    def take_stopped(self, room_id: str) -> list[Stopped]: ...
    async def subscribe(self, room_id: str, user_id: str, offer: str,
                        wanted: Mapping[str, tuple[str, str]]) -> str: ...
    async def add_candidate(self, room_id: str, user_id: str, pc_name: str, candidate: str,
                            sdp_mid: str) -> bool: ...
    async def leave(self, room_id: str, user_id: str) -> None: ...
    async def close_room(self, room_id: str) -> None: ...
    def publications(self, room_id: str) -> dict[str, list[str]]: ...
    # A relay in this process starts at once; a backend forwarding it to another node
    # (``media.home.HomedMedia``) returns an awaitable.
    def start_recording(self, room_id: str, user_id: str,
                        path: Path) -> Awaitable[None] | None: ...
    async def stop_recording(self, room_id: str) -> RecordedFile | None: ...


class RecordingSink(Protocol):
    """Keeps a finished recording of a session (the object store, a recording row, a
    transcription job); implemented at the edge, where those live."""

    async def store(self, session_id: str, user_id: str, recorded: RecordedFile) -> str:
        """Store ``recorded`` (a WebM file the caller deletes afterwards) for the session, on
        behalf of ``user_id`` (who stopped it); return its object key."""
        ...


def may_publish(role: str, settings: Mapping[str, Any], source: str) -> bool:
    """Whether ``role`` may send ``source`` under the session's ``settings``."""
    if role in HOSTS:
        return True
    if role not in SPEAKERS:
        return False
    setting = "whoMayShare" if source == "screen" else "whoMayUnmute"
    default = "hosts" if source == "screen" else "everyone"
    return bool(settings.get(setting, default) == "everyone")


class RoomMedia:
    """Handles the ``media.*`` actions of every room on this node.

    Args:
        relay: the running media server of this process (``media.relay.MediaRelay``).
        recordings: where finished recordings go; None refuses ``media.record``.
        scratch: the folder recordings are written to while they run.
        p2p_limit: the most publishers a room may have peer to peer (0: always the relay).
    """

    _MOVE_WAIT = 10.0  # seconds a recording waits for its publisher to move to the relay

    def __init__(self, relay: MediaBackend, recordings: RecordingSink | None = None,
                 scratch: Path | None = None, p2p_limit: int = 4) -> None:
        self.relay = relay
        self.recordings = recordings
        self.scratch = scratch
        self.p2p = P2pRooms(p2p_limit, may_publish)
        self._mirrored: dict[str, anyio.Event] = {}  # set (and dropped) by the next mirror

    async def act(
        self, server: CollabServer, doc_id: str, action: str, fields: Mapping[str, Any],
        actor: Actor,
    ) -> dict[str, object]:
        """Check and carry out one media action.

        Returns:
            the reply's extra fields (``sdp`` for offers, ``iceServers`` and ``limits``).

        Raises:
            Rejected: invalid, not_allowed, not_started, session_ended, not_found, media_limit,
                media_unavailable; nothing changed.
        """
        try:
            message = parse_media(action, fields)
        except SignalingError:
            raise Rejected("invalid") from None
        name = d.room_name(doc_id)
        async with server.open_direct(name, actor="room") as room:
            status = d.status(room.doc)
            settings = d.settings(room.doc)
        stopping = isinstance(message, Leave) or (isinstance(message, Record) and not message.on)
        if status in ("ended", "cancelled") and not stopping:
            raise Rejected("session_ended")
        try:
            return await self._carry_out(server, doc_id, message, actor, status, settings)
        except MediaRefused as refused:
            raise Rejected(refused.reason) from None

    async def _carry_out(
        self, server: CollabServer, doc_id: str, message: object, actor: Actor, status: str,
        settings: Mapping[str, Any],
    ) -> dict[str, object]:
        relay, user = self.relay, actor.user_id
        if isinstance(message, P2pPublish | P2pSignal | P2pIce | P2pFailed):
            return await self.p2p.act(server, doc_id, message, actor, status, settings)
        if isinstance(message, Config):
            async with server.open_direct(d.room_name(doc_id), actor="room") as room:
                mode = room.transact(lambda doc: settle(doc, self.p2p.limit))
            return {"iceServers": [s.as_json() for s in relay.client_ice_servers],
                    "limits": {**relay.limits.as_json(), "p2pPublishers": self.p2p.limit},
                    "mode": mode}
        if isinstance(message, Publish):
            if status != "live":
                raise Rejected("not_started")
            if any(not may_publish(actor.role, settings, s) for s in message.tracks.values()):
                raise Rejected("not_allowed")
            answer = await relay.publish(doc_id, user, message.sdp, message.tracks)
            await self.mirror(server, doc_id)
            return {"sdp": answer}
        if isinstance(message, Subscribe):
            answer = await relay.subscribe(doc_id, user, message.sdp, message.tracks)
            return {"sdp": answer}
        if isinstance(message, Unpublish):
            if await relay.unpublish(doc_id, user, message.source):
                await self.mirror(server, doc_id)
            return {}
        if isinstance(message, Ice):
            if not await relay.add_candidate(doc_id, user, message.pc, message.candidate,
                                             message.sdp_mid):
                raise Rejected("not_found")
            return {}
        if isinstance(message, Mute):
            owner = message.user_id or user
            forced = owner != user
            if forced and (actor.role not in HOSTS or not message.muted):
                raise Rejected("not_allowed")
            if not message.muted and not may_publish(actor.role, settings, message.source):
                raise Rejected("not_allowed")
            if message.source not in relay.publications(doc_id).get(owner, []):
                if not await self._mute_p2p(server, doc_id, owner, message.source,
                                            message.muted, forced):
                    raise Rejected("not_found")
                return {}
            await self.mirror(server, doc_id, muted={message.source: message.muted}, user=owner,
                              forced=forced)
            return {}
        if isinstance(message, Record):
            return await self._record(server, doc_id, message, actor, status)
        await self.leave(server, doc_id, user)
        return {}

    async def _record(self, server: CollabServer, doc_id: str, message: Record, actor: Actor,
                      status: str) -> dict[str, object]:
        if actor.role not in HOSTS:
            raise Rejected("not_allowed")
        if self.recordings is None or self.scratch is None:
            raise Rejected("media_unavailable")
        if message.on:
            if status != "live":
                raise Rejected("not_started")
            target = message.user_id or actor.user_id
            self.scratch.mkdir(parents=True, exist_ok=True)
            path = self.scratch / f"{doc_id}-{uuid.uuid4().hex}.webm"
            await self._to_relay(server, doc_id, target)
            started = self.relay.start_recording(doc_id, target, path)
            if started is not None:
                await started
            await self._set_recording(server, doc_id, {
                "userId": target, "startedAt": int(time.time() * 1000)})
            return {}
        stored = await self._finish_recording(server, doc_id, actor.user_id)
        if stored is None:
            raise Rejected("not_found")
        return stored

    async def _to_relay(self, server: CollabServer, doc_id: str, user_id: str) -> None:
        """The relay records: a room in P2P mode moves to the relay (``rooms.p2p``) and this
        waits, bounded, for ``user_id``'s pages to publish there."""
        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            if current_mode(room.doc) != "p2p":
                return
            sending = user_id in d.keys(d.ymap(room.doc, P2P))
            room.transact(lambda doc: settle(doc, self.p2p.limit, moved="recording"))
        if not sending:
            return
        # Published at the relay: this node's mirror says so, or (the relay being another
        # node's, the room's media home) the room's ``media`` map, which that node writes.
        with anyio.move_on_after(self._MOVE_WAIT):
            while not self.relay.publications(doc_id).get(user_id):
                async with server.open_direct(d.room_name(doc_id), actor="room") as room:
                    if user_id in d.keys(d.ymap(room.doc, MEDIA)):
                        return
                with anyio.move_on_after(0.2):
                    await self._mirrored.setdefault(doc_id, anyio.Event()).wait()

    async def _mute_p2p(self, server: CollabServer, doc_id: str, user_id: str, source: str,
                        muted: bool, forced: bool = False) -> bool:
        """Mute state of a source sent peer to peer (``forced``: a host's mute, kept until the
        owner may and does unmute); False: the user does not send it. Peer to peer, the mute
        is the pages' to apply: no server sits in the path (docs/media.md)."""
        def write(doc: YDoc) -> bool:
            p2p = d.ymap(doc, P2P)
            entry = d.entry(p2p, user_id) or {}
            if source not in entry:
                return False
            was = entry[source] if isinstance(entry[source], Mapping) else {}
            force = forced or (bool(was.get("forced")) and muted)
            value = {"muted": True, "forced": True} if muted and force else {"muted": muted}
            if entry[source] != value:
                p2p[user_id] = {**entry, source: value}
            return True

        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            return bool(room.transact(write))

    async def prune_p2p(self, server: CollabServer, doc_id: str) -> None:
        """A role, a removal or the settings changed: drop what members may no longer send
        peer to peer (their peers close those connections when the ``p2p`` map says so)."""
        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            room.transact(lambda doc: prune(doc, may_publish))

    async def end(self, server: CollabServer, doc_id: str, user_id: str) -> None:
        """The session ended: a running recording is finished and stored (on behalf of
        ``user_id``, who ended it) and everyone's media ends (through the relay and peer to
        peer)."""
        try:
            await self._finish_recording(server, doc_id, user_id)
        finally:
            await self.relay.close_room(doc_id)
            async with server.open_direct(d.room_name(doc_id), actor="room") as room:
                room.transact(clear_p2p)
            await self.mirror(server, doc_id)

    async def _finish_recording(self, server: CollabServer, doc_id: str,
                                user_id: str) -> dict[str, object] | None:
        try:
            recorded = await self.relay.stop_recording(doc_id)
        except Exception:  # the file could not be finished: the recording is over anyway
            await self._set_recording(server, doc_id, None)
            raise
        if recorded is None or self.recordings is None:
            return None
        await self._set_recording(server, doc_id, None)
        key = None
        if recorded.size:  # (empty: no keyframe ever came, nothing worth keeping)
            # A failing store leaves the file in the scratch folder (logged by the caller).
            key = await self.recordings.store(doc_id, user_id, recorded)
        with contextlib.suppress(FileNotFoundError):
            recorded.path.unlink()
        return {"objectKey": key, "duration": recorded.duration if key else 0.0}

    async def _set_recording(self, server: CollabServer, doc_id: str,
                             value: dict[str, object] | None) -> None:
        def write(doc: YDoc) -> None:
            d.ymap(doc, d.STATE)[RECORDING] = value
            settle(doc, self.p2p.limit, ended=value is None)

        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            room.transact(write)

    async def follow(self, server: CollabServer) -> None:
        """Mirror the rooms whose publications the relay reports changed on their own (a
        publisher's connection failed), and whose speakers changed; runs until the relay
        closes its streams."""
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._follow_speakers, server)
            async for room_id in self.relay.changes:
                try:
                    await self._tell_stopped(server, room_id)
                    await self.mirror(server, room_id)
                except Exception:
                    log.exception("could not mirror the media of room %s", room_id)

    async def _tell_stopped(self, server: CollabServer, room_id: str) -> None:
        """Tell each publisher the relay stopped why (a ``media.stopped`` push to that user
        only, before the ``media`` map drops the publication, so a page turns the source off
        instead of publishing it again)."""
        for stopped in self.relay.take_stopped(room_id):
            push = {"push": "media.stopped", "source": stopped.source,
                    "reason": stopped.reason, "rate": round(stopped.rate),
                    "limit": round(stopped.limit)}
            await server.broadcast_stateless(d.room_name(room_id),
                                             json.dumps(push, separators=(",", ":")),
                                             user_id=stopped.user_id)

    async def _follow_speakers(self, server: CollabServer) -> None:
        async for room_id in self.relay.speaker_changes:
            value = self.relay.speakers(room_id).as_json()

            def write(doc: YDoc, value: dict[str, object] = value) -> None:
                state = d.ymap(doc, d.STATE)
                if d.entry(state, SPEAKER) != value:
                    state[SPEAKER] = value

            try:
                async with server.open_direct(d.room_name(room_id), actor="room") as room:
                    room.transact(write)
            except Exception:
                log.exception("could not write the speakers of room %s", room_id)

    async def leave(self, server: CollabServer, doc_id: str, user_id: str) -> None:
        """End a participant's media in a room (they left, were removed, or asked): through
        the relay and peer to peer."""
        await self.relay.leave(doc_id, user_id)
        await self.mirror(server, doc_id, gone=user_id)

    async def mirror(
        self, server: CollabServer, doc_id: str, *, muted: Mapping[str, bool] | None = None,
        user: str | None = None, forced: bool = False, gone: str | None = None,
    ) -> None:
        """Write this node's publications of the room into its ``media`` map (mute kept; the
        ``muted`` changes of ``user``, a host's if ``forced``), settle the room's media mode,
        then have the relay enforce the map's mute state; ``gone``: a member whose P2P
        publications end too."""
        published = self.relay.publications(doc_id)
        states: dict[tuple[str, str], bool] = {}
        limit = self.p2p.limit

        def write(doc: YDoc) -> None:
            media = d.ymap(doc, MEDIA)
            had = bool(d.keys(media))
            p2p = d.ymap(doc, P2P)
            if gone is not None and gone in d.keys(p2p):
                del p2p[gone]
            for user_id in d.keys(media):
                if user_id not in published:
                    del media[user_id]
            for user_id, sources in published.items():
                before = d.entry(media, user_id) or {}
                entry: dict[str, Any] = {}
                for source in sources:
                    was = before.get(source)
                    was = was if isinstance(was, Mapping) else {}
                    mute, force = bool(was.get("muted")), bool(was.get("forced"))
                    if user_id == user and muted is not None and source in muted:
                        mute = muted[source]
                        force = forced or (force and mute)
                    entry[source] = {"muted": True, "forced": True} if mute and force else {
                        "muted": mute}
                    states[(user_id, source)] = mute
                if entry != before:
                    media[user_id] = entry
            settle(doc, limit, ended=had and not d.keys(media))

        async with server.open_direct(d.room_name(doc_id), actor="room") as room:
            room.transact(write)
        for (user_id, source), mute in states.items():
            self.relay.set_muted(doc_id, user_id, source, mute)
        waiting = self._mirrored.pop(doc_id, None)
        if waiting is not None:
            waiting.set()
