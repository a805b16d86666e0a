"""Recording a room by remuxing the forwarded packets into WebM files, one per track.

No decoding, no encoding on the live path: the VP8 and Opus packets a ``Forwarder`` hands its
outlets are written into Matroska/WebM files with PyAV (``TrackRemux``, one track each). A
``Recording`` follows every audio publication of the room (those that start after it too: each
user's voice is one file) and the presenter's video: their screen while they share it, else
their camera, in one video file. It reads one outlet per followed publication (an outlet waits
for a keyframe, and its creation asks the publisher for one, coalesced, never dropped), and
takes a new outlet when a publisher leaves and publishes again, so one file spans both (the gap
stays a gap in the timestamps). When the presenter's preferred video changes (a screen shared
or stopped), an outlet of the new source is taken and the old one is written until the new
one's first packet, a keyframe: the switch is at a keyframe, without a gap when both run.

Stopping gives the parts (``RecordedPart``); ``media.mixdown.finish`` then makes the stored file
out of them once, off the live path (browsers play only a file's first audio track, so it mixes
the voices into one).

Timestamps: each outlet is a *segment* whose packets carry the publisher's RTP clock from an
arbitrary origin. A packet is placed at ``(pts - segment's first pts)`` plus the wall-clock
time between the recording's start (shared by every part) and the segment's first packet, in
the track's own clock; a packet that would not advance its stream is moved one tick past the
previous one. Every part therefore lines up with the others to within a packet's transit time.

The container header needs the video size, which only the first keyframe carries (RFC 6386
9.1): a video part opens on its first keyframe (outlets start at one). A later source may have
another size: VP8 carries the size in every keyframe, and the switch is at one, so decoders
(libvpx, FFmpeg, Chromium's and Firefox's players) follow it in band while the header keeps
the first size (docs/media.md, "Recording").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError

from media.forward import Forwarder, Outlet
from media.passthrough import is_keyframe

__all__ = ["RecordedFile", "RecordedPart", "Recording", "TrackRemux", "vp8_size"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordedFile:
    path: Path
    duration: float  # seconds, from the first to the last packet written
    size: int  # bytes
    video: bool
    voices: int = 0  # audio tracks besides the mix (one per user heard)


@dataclass(frozen=True, slots=True)
class RecordedPart:
    """One track's file: ``kind`` "audio" or "video", whose media, and when it ran (seconds
    from the recording's start)."""

    kind: str
    user_id: str
    path: Path
    first: float
    last: float
    packets: int


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height of a VP8 key frame (RFC 6386 9.1), None for anything else."""
    if len(frame) < 10 or frame[0] & 0x01 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


@dataclass(slots=True)
class _Segment:
    first_pts: int
    offset: int  # ticks of the track's clock from the recording's start to the segment's start


class TrackRemux:
    """Writes one track's forwarded packets into a WebM file of its own (synchronous: call
    from one task).

    Args:
        path: the file to write (created on the first packet written; overwritten).
        kind: "audio" (Opus) or "video" (VP8).
        start: the recording's start on the clock ``write`` gets its arrivals from.
    """

    def __init__(self, path: Path, kind: str, start: float) -> None:
        self.path = path
        self.kind = kind
        self._start = start
        self._container: Any = None
        self._stream: Any = None
        self._segments: dict[object, _Segment] = {}
        self._last: int | None = None
        self._span: tuple[float, float] | None = None  # (first, last) in seconds
        self._closed = False
        self.written = 0

    def write(self, segment: object, packet: av.Packet[Any], arrival: float) -> None:
        """Add one packet from ``segment`` (any key naming one outlet), which arrived at
        ``arrival`` (seconds). Ignored once closed, and for video before a keyframe."""
        if self._closed or packet.pts is None or packet.time_base is None:
            return
        if self._container is None:
            size = vp8_size(bytes(packet)) if self.kind == "video" else None
            if self.kind == "video" and size is None:
                return
            self._open(size)
        clock = packet.time_base.denominator // max(1, packet.time_base.numerator)
        seg = self._segments.get(segment)
        if seg is None:
            if self.kind == "video" and not is_keyframe(packet):
                return  # a video segment starts at a keyframe (outlets guarantee it)
            seg = self._segments[segment] = _Segment(
                packet.pts, round((arrival - self._start) * clock))
        pts = packet.pts - seg.first_pts + seg.offset
        if self._last is not None and pts <= self._last:
            pts = self._last + 1
        self._last = pts
        out = av.Packet(bytes(packet))  # the packet is shared with other outlets: copy it
        out.pts = out.dts = pts
        out.time_base = Fraction(1, clock)
        out.is_keyframe = is_keyframe(packet)
        out.stream = self._stream
        self._container.mux(out)
        self.written += 1
        seconds = pts / clock
        first = seconds if self._span is None else self._span[0]
        self._span = (min(first, seconds), seconds)

    def _open(self, size: tuple[int, int] | None) -> None:
        self._container = av.open(str(self.path), mode="w", format="webm")
        if self.kind == "audio":
            self._stream = self._container.add_stream("libopus", rate=48000)
            self._stream.layout = "stereo"
        else:
            self._stream = self._container.add_stream("vp8", rate=90000)
            self._stream.width, self._stream.height = size or (640, 480)

    def close(self) -> tuple[float, float] | None:
        """Finish the file (idempotent): the span written in seconds, None if nothing was."""
        self._closed = True
        if self._container is not None:
            self._container.close()
            self._container = None
        return self._span


VIDEO_SOURCES = ("screen", "camera")  # the presenter's, in order of preference


@dataclass(eq=False)
class Recording:
    """A room being recorded (see the module docstring).

    Args:
        presenter: whose video is recorded (their screen while shared, else their camera).
        path: the finished file's path; parts are written beside it.
        spawn: starts a task in the relay's task group.
        start: the recording's start on the event loop's clock.
    """

    presenter: str
    path: Path
    spawn: Callable[[Callable[[], Any]], object]
    start: float
    _parts: dict[tuple[str, str], TrackRemux] = field(default_factory=dict)
    _outlets: dict[Outlet, Forwarder] = field(default_factory=dict)
    _video_sources: dict[str, Forwarder] = field(default_factory=dict)  # presenter's, by source
    _video_now: Outlet | None = None  # the outlet the video part is written from
    _video_next: Outlet | None = None  # the one taking over at its first packet (a keyframe)
    _stopped: bool = False

    def wants(self, user_id: str, source: str) -> str | None:
        """The kind this recording records ``user_id``'s ``source`` as, or None."""
        if source == "audio":
            return "audio"
        if user_id == self.presenter and source in VIDEO_SOURCES:
            return "video"
        return None

    @property
    def video_source(self) -> str | None:
        """The presenter's source being written now (or about to be), None without one."""
        outlet = self._video_next or self._video_now
        forwarder = None if outlet is None else self._outlets.get(outlet)
        return next((s for s, f in self._video_sources.items() if f is forwarder), None)

    def consider(self, user_id: str, source: str, forwarder: Forwarder) -> None:
        """A publication started: record it from now on (a new segment) if it is wanted."""
        kind = self.wants(user_id, source)
        if kind is None or self._stopped:
            return
        if kind == "video":
            self._video_sources[source] = forwarder
            self._follow()
        else:
            self._read(kind, user_id, forwarder)

    def _part(self, kind: str, user_id: str) -> TrackRemux:
        part = self._parts.get((kind, user_id))
        if part is None:
            name = f"{self.path.stem}.{kind}.{len(self._parts)}.part.webm"
            part = self._parts[(kind, user_id)] = TrackRemux(
                self.path.with_name(name), kind, self.start)
        return part

    def _follow(self) -> None:
        """Take the presenter's preferred live video source: an outlet of it (which waits for
        a keyframe and asks for one) replaces the current one at its first packet, so the
        part switches at a keyframe and keeps the old source until then."""
        live = {s: f for s, f in self._video_sources.items() if not f.ended.is_set()}
        source = next((s for s in VIDEO_SOURCES if s in live), None)
        if source is None or self._stopped:
            return
        forwarder = live[source]
        taking = self._video_next or self._video_now
        if taking is not None and self._outlets.get(taking) is forwarder:
            return
        if self._video_next is not None:  # a switch to a source that is not preferred now
            self._drop(self._video_next)
        self._video_next = self._read("video", self.presenter, forwarder)

    def _drop(self, outlet: Outlet) -> None:
        forwarder = self._outlets.pop(outlet, None)
        if forwarder is not None:
            forwarder.detach(outlet)

    def _read(self, kind: str, user_id: str, forwarder: Forwarder) -> Outlet:
        part = self._part(kind, user_id)
        outlet = forwarder.attach()
        self._outlets[outlet] = forwarder

        async def pump() -> None:
            loop = asyncio.get_running_loop()
            while True:
                try:
                    packet = await outlet.recv()
                except MediaStreamError:
                    self._outlets.pop(outlet, None)
                    if kind == "video":
                        self._video_ended(outlet, forwarder)
                    return
                if kind == "video" and outlet is self._video_next:
                    # an outlet's first packet is a keyframe (media.forward): switch here
                    old, self._video_now, self._video_next = self._video_now, outlet, None
                    if old is not None:
                        self._drop(old)
                if kind == "audio" or outlet is self._video_now:
                    part.write(outlet, packet, loop.time())

        self.spawn(pump)
        return outlet

    def _video_ended(self, outlet: Outlet, forwarder: Forwarder) -> None:
        if outlet is self._video_now:
            self._video_now = None
        if outlet is self._video_next:
            self._video_next = None
        if forwarder.ended.is_set():  # the source was unpublished: fall back to another
            self._follow()

    def written(self, kind: str) -> int:
        """Packets of ``kind`` written so far, over every part."""
        return sum(p.written for (k, _), p in self._parts.items() if k == kind)

    def stop(self) -> list[RecordedPart]:
        """Stop reading and close every part (idempotent): the parts that hold packets."""
        self._stopped = True
        for outlet, forwarder in list(self._outlets.items()):
            forwarder.detach(outlet)
        self._outlets.clear()
        parts = []
        for (kind, user_id), remux in self._parts.items():
            span = remux.close()
            if span is not None:
                parts.append(RecordedPart(kind, user_id, remux.path, span[0], span[1],
                                          remux.written))
        return parts
