"""The relay: per room, publishers' tracks forwarded encoded to subscribers (docs/media.md).

The bookkeeping (members, connections, unpublishing) is in ``media.members``.

Two aiortc peer connections per participant, both offered by the client: the *publish*
connection receives the participant's sources (``audio``, ``camera``, ``screen``), the
*subscribe* connection sends them what they subscribed to. Every published track gets one
``Forwarder``; every subscription one ``Outlet`` that a subscriber's sender re-packetizes
(``media.passthrough``: no decode, no encode). Video is VP8 and audio Opus on both connections,
so the publisher's bitstream can go out unchanged.

``MediaRelay`` is an async context manager owning a task group: the forwarders and the
connection watchdogs run in it and end with it. Calls for one participant are serialised (one
lock each), so two offers of the same participant never interleave.

aiortc (and PyAV with it, about 40 MiB resident together) is imported when the first peer
connection is made, not when the relay starts: a process whose rooms never use media does not
pay for it (``tests/test_startup_imports.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from media.config import IceServer, MediaRefused, RelayLimits
from media.members import (
    Member,
    Publication,
    RelayCore,
    Subscription,
    prefer_relayed_codecs,
    subscription_changed,
)
from media.sdp import cap_bandwidth, sections
from media.signaling import KIND_OF

if TYPE_CHECKING:  # aiortc and PyAV are imported on the first peer connection (below)
    from media.recording import RecordedFile, Recording

__all__ = ["IceServer", "MediaRefused", "MediaRelay", "RelayLimits"]

log = logging.getLogger(__name__)


class MediaRelay(RelayCore):
    """Rooms of publishers and subscribers, forwarding encoded media.

    Args:
        limits: admission limits.
        ice_servers: the servers aiortc itself uses (empty: host candidates only; never a
            third-party default).
        client_ice_servers: what ``media.config`` hands to clients (TURN for strict NATs).

    ``changes`` yields the id of a room whose publications changed on their own (a publisher's
    connection failed, closed or never connected), for the room layer to mirror; changes a
    caller made are not reported. It holds 256 ids; past that, ids are dropped (the consumer
    fell behind by that many failures, and the next change reports the room again).
    """

    def __init__(
        self,
        limits: RelayLimits | None = None,
        *,
        ice_servers: Sequence[IceServer] = (),
        client_ice_servers: Sequence[IceServer] = (),
    ) -> None:
        super().__init__(limits, ice_servers=ice_servers, client_ice_servers=client_ice_servers)
        self._recordings: dict[str, Recording] = {}

    async def __aenter__(self) -> MediaRelay:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(self._evaluate_speakers)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        if tg is None:
            return None
        try:
            for recording in self._recordings.values():
                recording.stop()  # parts stay in the scratch folder: nobody stores them
            self._recordings.clear()
            for room_id in list(self._rooms):
                for user_id in list(self._rooms.get(room_id, {})):
                    await self.leave(room_id, user_id)
        finally:
            self._changed.close()
            self._spoke.close()
            tg.cancel_scope.cancel()
            await tg.__aexit__(exc_type, exc, tb)
        return None

    # -- queries ---------------------------------------------------------------------------

    def publications(self, room_id: str) -> dict[str, list[str]]:
        """user id -> the sources that user publishes in the room."""
        return {
            user_id: sorted(member.publications)
            for user_id, member in self._rooms.get(room_id, {}).items()
            if member.publications
        }

    def stats(self) -> dict[str, int]:
        return {"rooms": len(self._rooms), "connections": self._connections,
                "subscriptions": self._subscriptions}

    # -- publishing ------------------------------------------------------------------------

    async def publish(self, room_id: str, user_id: str, offer: str,
                      tracks: Mapping[str, str]) -> str:
        """Answer a publish offer; start forwarding its new sources, stop the missing ones.

        Args:
            tracks: mid -> source, for every source the offer sends.

        Returns:
            the answer SDP (with every server candidate: aiortc does not trickle its own).

        Raises:
            MediaRefused: media_limit, invalid (a listed mid is not a sending section of the
                right kind), media_unavailable; nothing changed.
        """
        found = {s.mid: s for s in sections(offer) if s.mid is not None}
        for mid, source in tracks.items():
            section = found.get(mid)
            if section is None or section.kind != KIND_OF[source] or not section.sends:
                raise MediaRefused("invalid", f"tracks: mid {mid} does not send {source}")
        async with self._locked(room_id, user_id) as member:
            await self._replace_if_new(room_id, member, "publish", offer)
            new_pc = member.publish_pc is None
            publishing = {u for u, m in self._rooms[room_id].items() if m.publications}
            if tracks and user_id not in publishing and (
                len(publishing) >= self.limits.publishers_per_room
            ):
                self._forget(room_id, member)
                raise MediaRefused("media_limit", "publishers per room")
            pc = member.publish_pc or self._connection(room_id, user_id, "publish")
            from aiortc import RTCSessionDescription

            from media import passthrough

            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                started: list[Publication] = []
                for transceiver in pc.getTransceivers():
                    prefer_relayed_codecs(transceiver)
                    line = transceiver.mid
                    sent = tracks.get(line) if line is not None else None
                    if line is None or sent is None:
                        continue
                    if line in member.limited:  # stopped over its cap: answered inactive
                        transceiver.direction = "inactive"
                        continue
                    current = member.publications.get(sent)
                    if current is not None and current.mid == line:
                        continue
                    if current is not None:  # the source moved to another m-line
                        await self._unpublish(room_id, member, sent)
                    # Marked before the connection is up: receive() starts the worker later.
                    passthrough.forward_encoded(transceiver.receiver.track)
                    if KIND_OF[sent] == "video":  # a frame leaves at its last packet
                        passthrough.release_at_marker(transceiver.receiver)
                    started.append(self._publication(
                        room_id, user_id, sent, line, transceiver.receiver, found[line]
                    ))
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                if new_pc:
                    await self._drop_connection(member, "publish")
                    self._forget(room_id, member)
                log.warning("publish offer of %s in %s failed: %s", user_id, room_id, exc)
                raise MediaRefused("media_unavailable", "the offer could not be answered") \
                    from exc
            recording = self._recordings.get(room_id)
            for publication in started:
                member.publications[publication.source] = publication
                publication.forwarder.set_muted(publication.source in member.muted)
                if publication.source == "audio":
                    self._measure(room_id, publication)
                self._start(publication)
                if recording is not None:
                    recording.consider(user_id, publication.source, publication.forwarder)
            for source in [s for s in member.publications if s not in tracks.values()]:
                await self._unpublish(room_id, member, source)
            # the browser sends each video at most at the cap the answer states
            return cap_bandwidth(str(pc.localDescription.sdp), "video",
                                 self.limits.max_video_bitrate)

    def set_muted(self, room_id: str, user_id: str, source: str, muted: bool) -> bool:
        """Stop (or resume) forwarding ``user_id``'s ``source`` to its subscribers and to a
        recording, whatever the client sends; a resumed video starts at its next keyframe
        (requested). The state outlives a republication of the source on this connection.

        Returns:
            whether the source is published here.
        """
        member = self._rooms.get(room_id, {}).get(user_id)
        publication = None if member is None else member.publications.get(source)
        if member is None or publication is None:
            return False
        if muted:
            member.muted.add(source)
        else:
            member.muted.discard(source)
        publication.forwarder.set_muted(muted)
        return True

    async def unpublish(self, room_id: str, user_id: str, source: str) -> bool:
        """Stop forwarding one source; every subscriber's track of it ends (RTCP BYE).

        Returns:
            whether it was published (idempotent).
        """
        member = self._rooms.get(room_id, {}).get(user_id)
        if member is None:
            return False
        async with member.lock:
            return await self._unpublish(room_id, member, source)

    # -- subscribing -----------------------------------------------------------------------

    async def subscribe(self, room_id: str, user_id: str, offer: str,
                        wanted: Mapping[str, tuple[str, str]]) -> str:
        """Answer a subscribe offer: each listed recvonly m-line gets that publication.

        Args:
            wanted: mid -> (publisher's user id, source). A mid subscribed before and missing
                now stops (its sender is stopped; the client must not reuse that m-line).

        Returns:
            the answer SDP.

        Raises:
            MediaRefused: not_found (no such publication), invalid, media_limit,
                media_unavailable; nothing changed.
        """
        room = self._rooms.get(room_id, {})
        found = {s.mid: s for s in sections(offer) if s.mid is not None}
        targets: dict[str, Publication] = {}
        for mid, (publisher, source) in wanted.items():
            section = found.get(mid)
            if section is None or section.kind != KIND_OF[source] or not section.receives:
                raise MediaRefused("invalid", f"tracks: mid {mid} does not receive {source}")
            publication = room.get(publisher, Member(publisher)).publications.get(source)
            if publication is None:
                raise MediaRefused("not_found", f"{publisher} does not publish {source}")
            targets[mid] = publication
        async with self._locked(room_id, user_id) as member:
            await self._replace_if_new(room_id, member, "subscribe", offer)
            if member.subscribe_pc is None:
                subscribers = sum(1 for m in self._rooms[room_id].values()
                                  if m.subscribe_pc is not None)
                if subscribers >= self.limits.subscribers_per_room:
                    self._forget(room_id, member)
                    raise MediaRefused("media_limit", "subscribers per room")
            if any(mid in member.spent_mids for mid in targets):
                raise MediaRefused("invalid", "tracks: an ended m-line cannot be reused")
            added = [m for m, p in targets.items()
                     if subscription_changed(member.subscriptions.get(m), p)]
            if self._subscriptions + len(added) > self.limits.subscriptions_per_process:
                self._forget(room_id, member)
                raise MediaRefused("media_limit", "forwarded tracks per process")
            new_pc = member.subscribe_pc is None
            pc = member.subscribe_pc or self._connection(room_id, user_id, "subscribe")
            from aiortc import RTCSessionDescription

            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
                for transceiver in pc.getTransceivers():
                    prefer_relayed_codecs(transceiver)
                    line = transceiver.mid
                    if line is None or line in member.spent_mids:
                        continue
                    current = member.subscriptions.get(line)
                    target = targets.get(line)
                    if current is not None and current.publication is target:
                        continue
                    if current is not None:
                        self._end_subscription(member, line)
                    if target is None:
                        transceiver.sender.replaceTrack(None)
                        transceiver.direction = "inactive"
                        continue
                    outlet = target.forwarder.attach()
                    transceiver.sender.replaceTrack(outlet)
                    transceiver.direction = "sendonly"
                    # A subscriber's PLI/FIR goes to the publisher (throttled), not to an
                    # encoder of our own: there is none. (Private: see media.passthrough.)
                    transceiver.sender._send_keyframe = (  # type: ignore[method-assign]
                        target.forwarder.request_keyframe
                    )
                    member.subscriptions[line] = Subscription(target, outlet, transceiver.sender)
                    self._subscriptions += 1
                await pc.setLocalDescription(await pc.createAnswer())
            except Exception as exc:
                if new_pc:
                    await self._drop_connection(member, "subscribe")
                    self._forget(room_id, member)
                log.warning("subscribe offer of %s in %s failed: %s", user_id, room_id, exc)
                raise MediaRefused("media_unavailable", "the offer could not be answered") \
                    from exc
            return str(pc.localDescription.sdp)

    async def add_candidate(self, room_id: str, user_id: str, pc_name: str, candidate: str,
                            sdp_mid: str) -> bool:
        """Add one trickled remote ICE candidate (RFC 8838); False without that connection."""
        member = self._rooms.get(room_id, {}).get(user_id)
        pc = None if member is None else (
            member.publish_pc if pc_name == "publish" else member.subscribe_pc
        )
        if pc is None or pc.remoteDescription is None:
            return False
        from aiortc.sdp import candidate_from_sdp

        try:
            parsed = candidate_from_sdp(candidate)
        except (ValueError, IndexError):
            raise MediaRefused("invalid", "candidate") from None
        parsed.sdpMid = sdp_mid
        await pc.addIceCandidate(parsed)
        return True

    async def leave(self, room_id: str, user_id: str) -> None:
        """Close both of a participant's connections and end their publications (idempotent)."""
        member = self._rooms.get(room_id, {}).get(user_id)
        if member is None:
            return
        async with member.lock:
            await self._drop_connection(member, "publish", room_id)
            await self._drop_connection(member, "subscribe", room_id)
        self._forget(room_id, member)

    async def close_room(self, room_id: str) -> None:
        """Every participant of the room leaves (the session ended); idempotent."""
        for user_id in list(self._rooms.get(room_id, {})):
            await self.leave(room_id, user_id)
        self._stopped.pop(room_id, None)

    # -- recording -------------------------------------------------------------------------

    def start_recording(self, room_id: str, user_id: str, path: Path) -> None:
        """Record the room's voices and ``user_id``'s video (their screen while shared, else
        their camera, switching at a keyframe) to ``path``, each as it is published, until
        ``stop_recording``.

        Every audio publication is recorded, those that start later too; a publisher who
        leaves and publishes again continues their part.

        Raises:
            MediaRefused: not_found (nothing in the room to record), recording_active.
        """
        if room_id in self._recordings:
            raise MediaRefused("recording_active")
        from media.recording import Recording

        assert self._tg is not None
        tg = self._tg
        recording = Recording(user_id, path, lambda run: tg.start_soon(run),
                              asyncio.get_running_loop().time())
        wanted = [(m.user_id, p) for m in self._rooms.get(room_id, {}).values()
                  for p in m.publications.values() if recording.wants(m.user_id, p.source)]
        if not wanted:
            raise MediaRefused("not_found", "nothing in the room to record")
        for member_id, publication in wanted:
            recording.consider(member_id, publication.source, publication.forwarder)
        self._recordings[room_id] = recording

    async def stop_recording(self, room_id: str) -> RecordedFile | None:
        """Finish the room's recording: the file written, or None when none ran.

        The parts are made into the stored file (``media.mixdown``: the voices mixed) in a
        worker process (anyio's pool): forwarding goes on meanwhile, and the decoding and
        encoding do not compete with it for this process's GIL (in a thread they delayed the
        event loop by up to 80 ms on two cores; docs/media.md, "Recording").
        """
        recording = self._recordings.pop(room_id, None)
        if recording is None:
            return None
        parts = recording.stop()
        from media.mixdown import finish
        from media.recording import RecordedFile

        if not parts:
            return RecordedFile(recording.path, 0.0, 0, False)
        return await anyio.to_process.run_sync(finish, parts, recording.path)
