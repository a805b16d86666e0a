"""The relay's bookkeeping: rooms of members, their two peer connections, publications and
subscriptions, and the limits counted across them (docs/media.md).

``RelayCore`` holds the state and the steps that keep it consistent; ``media.relay.MediaRelay``
adds the public operations (publish, subscribe, leave, recording) on top. Invariants:

* a member exists while it has a publish or a subscribe connection, or while one of its calls
  runs (``_forget`` drops it otherwise; a room without members is dropped);
* ``_connections`` counts open peer connections and ``_subscriptions`` forwarded tracks of the
  whole process; every path that closes one decrements it exactly once
  (``_drop_connection``, ``_end_subscription``);
* a room's speaker meter exists while someone's audio level was seen within its ``stale``
  time; ``speaker_changes`` reports a room whose speakers changed, at most every
  ``SPEAKER_PERIOD``;
* a publication's forwarder runs in the relay's task group under its own cancel scope, and
  ends (with every subscriber's track of it) when it is unpublished;
* a publication above its bitrate cap for a whole window (``media.bitrate``) is unpublished by
  the relay (``_over_limit``), reported on ``changes``, and its m-line is *limited*: its
  receiver discards packets (aiortc's ``_enabled``) and a later offer listing it is answered
  ``inactive`` (which keeps it so); a new publish connection (a new m-line) may publish again.
  Its publisher is told why: the ``Stopped`` waits in ``take_stopped`` until the room side
  takes it on the room's ``changes`` report (or the room is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio

from media.config import IceServer, MediaRefused, RelayLimits, Stopped
from media.sdp import Section, ice_ufrag
from media.signaling import KIND_OF
from media.speaker import SpeakerMeter, Speakers

if TYPE_CHECKING:  # aiortc and PyAV are imported on the first peer connection
    from aiortc import RTCPeerConnection, RTCRtpSender

    from media.bitrate import BitrateMeter
    from media.forward import Forwarder, Outlet

__all__ = ["Member", "Publication", "RelayCore", "Subscription", "prefer_relayed_codecs",
           "subscription_changed"]

log = logging.getLogger(__name__)

SPEAKER_PERIOD = 0.25  # seconds between evaluations of a room's speakers (at most 4 changes/s)

@dataclass(eq=False, slots=True)
class Publication:
    user_id: str
    source: str
    mid: str
    forwarder: Forwarder
    receiver: Any = None  # the aiortc RTCRtpReceiver it comes from
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    meter: BitrateMeter | None = None  # its incoming bitrate (media.bitrate)


@dataclass(eq=False, slots=True)
class Subscription:
    publication: Publication
    outlet: Outlet
    sender: RTCRtpSender


@dataclass(eq=False, slots=True)
class Member:
    user_id: str
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    publish_pc: RTCPeerConnection | None = None
    subscribe_pc: RTCPeerConnection | None = None
    publications: dict[str, Publication] = field(default_factory=dict)  # source ->
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # mid ->
    spent_mids: set[str] = field(default_factory=set)  # subscribe m-lines whose sender stopped
    muted: set[str] = field(default_factory=set)  # sources not forwarded (``set_muted``)
    limited: dict[str, Any] = field(default_factory=dict)  # mid -> receiver stopped over its cap



class RelayCore:
    """State of every room of the relay and the steps that keep it consistent (see the module
    docstring); ``MediaRelay`` is the class to use."""

    def __init__(
        self,
        limits: RelayLimits | None = None,
        *,
        ice_servers: Sequence[IceServer] = (),
        client_ice_servers: Sequence[IceServer] = (),
    ) -> None:
        self.limits = limits or RelayLimits()
        self.client_ice_servers = tuple(client_ice_servers)
        self._ice_servers = tuple(ice_servers)
        self._changed, self.changes = anyio.create_memory_object_stream[str](256)
        self._stopped: dict[str, list[Stopped]] = {}  # room -> stopped, not yet taken
        self._rooms: dict[str, dict[str, Member]] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._connections = 0
        self._subscriptions = 0
        self._meters: dict[str, SpeakerMeter] = {}
        self._speakers: dict[str, Speakers] = {}
        self._spoke, self.speaker_changes = anyio.create_memory_object_stream[str](256)

    def speakers(self, room_id: str) -> Speakers:
        """Who speaks in the room now, as last reported on ``speaker_changes``."""
        return self._speakers.get(room_id, Speakers())

    def _measure(self, room_id: str, publication: Publication) -> None:
        """Feed the room's speaker meter with the audio level of ``publication``'s packets
        (not while muted: a muted voice is not heard)."""
        from media import passthrough

        forwarder, user_id = publication.forwarder, publication.user_id
        loop = asyncio.get_running_loop()

        def observe(level: int) -> None:
            if not forwarder.muted and not forwarder.ended.is_set():
                meter = self._meters.get(room_id)
                if meter is None:
                    meter = self._meters[room_id] = SpeakerMeter()
                meter.observe(user_id, level, loop.time())

        passthrough.tap_audio_level(publication.receiver, observe)

    async def _evaluate_speakers(self) -> None:
        """Every ``SPEAKER_PERIOD``: each metered room's speakers; a change is reported on
        ``speaker_changes`` (dropped when the consumer is 256 rooms behind)."""
        loop = asyncio.get_running_loop()
        while True:
            await anyio.sleep(SPEAKER_PERIOD)
            for room_id, meter in list(self._meters.items()):
                current = meter.evaluate(loop.time())
                if current != self._speakers.get(room_id, Speakers()):
                    if current == Speakers():
                        self._speakers.pop(room_id, None)
                    else:
                        self._speakers[room_id] = current
                    with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                        self._spoke.send_nowait(room_id)
                if meter.idle:
                    del self._meters[room_id]

    def _member(self, room_id: str, user_id: str) -> Member:
        if self._tg is None:
            raise MediaRefused("media_unavailable", "the relay is not running")
        room = self._rooms.setdefault(room_id, {})
        member = room.get(user_id)
        if member is None:
            member = room[user_id] = Member(user_id)
        return member

    @contextlib.asynccontextmanager
    async def _locked(self, room_id: str, user_id: str) -> AsyncIterator[Member]:
        """The room's member for ``user_id`` (made if absent) with its lock held. A member
        forgotten while this waited for its lock (another call of the same user ended with
        no connection: ``_forget``) is not the room's any more: wait for the current one."""
        while True:
            member = self._member(room_id, user_id)
            async with member.lock:
                if self._rooms.get(room_id, {}).get(user_id) is member:
                    yield member
                    return

    def _forget(self, room_id: str, member: Member) -> None:
        room = self._rooms.get(room_id, {})
        if (room.get(member.user_id) is member and member.publish_pc is None
                and member.subscribe_pc is None):
            del room[member.user_id]
        if not room:
            self._rooms.pop(room_id, None)

    def _connection(self, room_id: str, user_id: str, name: str) -> RTCPeerConnection:
        member = self._rooms[room_id][user_id]
        if self._connections >= self.limits.connections_per_process:
            self._forget(room_id, member)
            raise MediaRefused("media_limit", "peer connections per process")
        from aiortc import RTCBundlePolicy, RTCConfiguration, RTCIceServer, RTCPeerConnection

        from media import passthrough

        try:
            passthrough.install()  # idempotent
        except passthrough.HookUnavailable as exc:  # another aiortc: no forwarding at all
            log.error("media relay unavailable: %s", exc)
            self._forget(room_id, member)
            raise MediaRefused("media_unavailable", "the media relay cannot run here") from exc
        # max-bundle: with aiortc's default ("balanced"), a second m-line of a kind that is
        # not first in the offer keeps a transport that bundling then stops, and its media
        # never flows (audio + camera + screen in one offer: the screen is lost; 1.16).
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in self._ice_servers
        ], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._connections += 1
        if name == "publish":
            member.publish_pc = pc
        else:
            member.subscribe_pc = pc
        connected = asyncio.Event()

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected":
                connected.set()
            elif pc.connectionState in ("failed", "closed"):
                await self._lost(room_id, user_id, pc)

        async def watchdog() -> None:
            with anyio.move_on_after(self.limits.connect_timeout):
                await connected.wait()
                return
            log.info("%s connection of %s in %s never connected", name, user_id, room_id)
            await self._lost(room_id, user_id, pc)

        assert self._tg is not None
        self._tg.start_soon(watchdog)
        return pc

    async def _lost(self, room_id: str, user_id: str, pc: RTCPeerConnection) -> None:
        member = self._rooms.get(room_id, {}).get(user_id)
        if member is None:
            return
        changed = False
        async with member.lock:
            if member.publish_pc is pc:
                changed = bool(member.publications)
                await self._drop_connection(member, "publish", room_id)
            elif member.subscribe_pc is pc:
                await self._drop_connection(member, "subscribe", room_id)
        self._forget(room_id, member)
        if changed:
            with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                self._changed.send_nowait(room_id)

    async def _replace_if_new(self, room_id: str, member: Member, name: str,
                              offer: str) -> None:
        """An offer from another connection (a reloaded page, a second tab, a client that
        recovers from a failed one: aiortc has no ICE restart) replaces the current one."""
        pc = member.publish_pc if name == "publish" else member.subscribe_pc
        current = None if pc is None or pc.remoteDescription is None else ice_ufrag(
            pc.remoteDescription.sdp)
        if current is not None and current != ice_ufrag(offer):
            await self._drop_connection(member, name, room_id)

    async def _drop_connection(self, member: Member, name: str, room_id: str = "") -> None:
        if name == "publish":
            pc, member.publish_pc = member.publish_pc, None
            member.limited.clear()
            for source in list(member.publications):
                await self._unpublish(room_id, member, source)
        else:
            pc, member.subscribe_pc = member.subscribe_pc, None
            for mid in list(member.subscriptions):
                self._end_subscription(member, mid)
            member.spent_mids.clear()
        if pc is not None:
            self._connections -= 1
            await pc.close()

    def _publication(self, room_id: str, user_id: str, source: str, mid: str,
                     receiver: Any, section: Section) -> Publication:
        ssrcs = list(section.ssrcs)

        async def request_keyframe() -> None:
            targets = ssrcs or [s.source for s in receiver.getSynchronizationSources()]
            for ssrc in targets:
                await receiver._send_rtcp_pli(ssrc)  # private: see media.passthrough

        from media.bitrate import BitrateMeter
        from media.forward import Forwarder

        video = KIND_OF[source] == "video"
        meter = BitrateMeter(
            self.limits.max_video_bitrate * self.limits.bitrate_margin if video
            else self.limits.max_audio_bitrate, self.limits.bitrate_window)
        loop = asyncio.get_running_loop()
        made: list[Publication] = []

        def observe(packet: Any) -> None:
            now = loop.time()
            meter.add(packet.size, now)
            if made and meter.over(now) and self._tg is not None:
                self._tg.start_soon(self._over_limit, room_id, made.pop(), meter.rate(now))

        limit = self.limits.video_queue if video else self.limits.audio_queue
        forwarder = Forwarder(receiver.track, request_keyframe, queue_limit=limit,
                              keyframe_interval=self.limits.keyframe_interval, observe=observe)
        made.append(Publication(user_id, source, mid, forwarder, receiver, meter=meter))
        return made[0]

    async def _over_limit(self, room_id: str, publication: Publication, rate: float) -> None:
        """Stop a publication that sent above its cap for a whole window (media_limit)."""
        member = self._rooms.get(room_id, {}).get(publication.user_id)
        if member is None:
            return
        async with member.lock:
            if member.publications.get(publication.source) is not publication:
                return
            log.warning("%s of %s in %s stopped: %.0f kbit/s over its cap (media_limit)",
                        publication.source, publication.user_id, room_id, rate / 1000)
            await self._unpublish(room_id, member, publication.source)
            member.limited[publication.mid] = publication.receiver
            publication.receiver._enabled = False  # private: see media.passthrough
            limit = publication.meter.threshold if publication.meter else 0.0
            self._stopped.setdefault(room_id, []).append(
                Stopped(publication.user_id, publication.source, "bitrate", rate, limit))
        with contextlib.suppress(anyio.WouldBlock, anyio.ClosedResourceError):
            self._changed.send_nowait(room_id)

    def take_stopped(self, room_id: str) -> list[Stopped]:
        """The publications of the room stopped by the relay since the last call."""
        return self._stopped.pop(room_id, [])

    def _start(self, publication: Publication) -> None:
        async def run() -> None:
            with publication.scope:
                await publication.forwarder.run()

        assert self._tg is not None
        self._tg.start_soon(run)

    async def _unpublish(self, room_id: str, member: Member, source: str) -> bool:
        publication = member.publications.pop(source, None)
        if publication is None:
            return False
        publication.scope.cancel()
        publication.forwarder.close()
        for subscriber in list(self._rooms.get(room_id, {}).values()):
            for mid, sub in list(subscriber.subscriptions.items()):
                if sub.publication is publication:
                    self._end_subscription(subscriber, mid)
                    subscriber.spent_mids.add(mid)
                    # RTCP BYE: the subscriber's receiver ends its track (RFC 3550 6.6).
                    await sub.sender.stop()
        return True

    def _end_subscription(self, member: Member, mid: str) -> None:
        sub = member.subscriptions.pop(mid, None)
        if sub is not None:
            sub.publication.forwarder.detach(sub.outlet)
            self._subscriptions -= 1


def subscription_changed(current: Subscription | None, target: Publication) -> bool:
    return current is None or current.publication is not target


def prefer_relayed_codecs(transceiver: Any) -> None:
    """VP8 (with RTX) for video, Opus for audio: what a forwarded bitstream can be re-sent as."""
    from aiortc import RTCRtpSender

    wanted = {"video": ("video/vp8", "video/rtx"), "audio": ("audio/opus",)}[transceiver.kind]
    capabilities = RTCRtpSender.getCapabilities(transceiver.kind).codecs
    transceiver.setCodecPreferences(
        [c for c in capabilities if c.mimeType.lower() in wanted]
    )
