"""Recording one publisher's audio and video by remuxing the forwarded packets into WebM.

No decoding, no encoding: the VP8 and Opus packets a ``Forwarder`` hands its outlets are
written into a Matroska/WebM container with PyAV (``WebmRemux``). A ``Recording`` reads one
outlet per recorded source (an outlet waits for a keyframe, and its creation asks the
publisher for one, coalesced, never dropped), and takes a new outlet when the publisher leaves
and publishes again, so one file spans both (the gap stays a gap in the timestamps).

Timestamps: each outlet is a *segment* whose packets carry the publisher's RTP clock from an
arbitrary origin. A packet is placed at ``(pts - segment's first pts)`` plus the wall-clock
time between the recording's start and the segment's first packet, in the track's own clock;
a packet that would not advance its stream is moved one tick past the previous one. Audio and
video therefore line up to within a packet's transit time.

The container header needs the video size, which only the first keyframe carries (RFC 6386
9.1): packets wait in a bounded buffer until it arrives (audio-only recordings start at once).
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

__all__ = ["RecordedFile", "Recording", "WebmRemux", "vp8_size"]

log = logging.getLogger(__name__)

_PENDING_LIMIT = 500  # packets held while waiting for the first keyframe (~5 s of A+V)


@dataclass(frozen=True, slots=True)
class RecordedFile:
    path: Path
    duration: float  # seconds, from the first to the last packet written
    size: int  # bytes
    video: bool


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


class WebmRemux:
    """Writes forwarded packets into a WebM file (synchronous: call from one task).

    Args:
        path: the file to write (created; overwritten).
        video: whether a VP8 track is recorded besides the Opus one.
    """

    def __init__(self, path: Path, *, video: bool) -> None:
        self.path = path
        self.video = video
        self._container: Any = None
        self._streams: dict[str, Any] = {}
        self._pending: list[tuple[str, object, av.Packet[Any], float]] = []
        self._segments: dict[tuple[str, object], _Segment] = {}
        self._last: dict[str, int] = {}
        self._span: dict[str, tuple[float, float]] = {}  # kind -> (first, last) in seconds
        self._start: float | None = None
        self._closed = False
        self.written = {"audio": 0, "video": 0}

    def write(self, kind: str, segment: object, packet: av.Packet[Any], arrival: float) -> None:
        """Add one packet of ``kind`` ("audio"/"video") from ``segment`` (any key naming one
        outlet), which arrived at ``arrival`` (seconds, any monotonic clock). Ignored once
        closed."""
        if self._closed:
            return
        if self._start is None:
            self._start = arrival
        if self._container is None:
            size = vp8_size(bytes(packet)) if kind == "video" else None
            if self.video and size is None:
                if len(self._pending) < _PENDING_LIMIT:
                    self._pending.append((kind, segment, packet, arrival))
                return
            self._open(size)
            pending, self._pending = self._pending, []
            for held in pending:
                self._mux(*held)
        self._mux(kind, segment, packet, arrival)

    def _open(self, size: tuple[int, int] | None) -> None:
        self._container = av.open(str(self.path), mode="w", format="webm")
        audio = self._container.add_stream("libopus", rate=48000)
        audio.layout = "stereo"
        self._streams["audio"] = audio
        if self.video:
            video = self._container.add_stream("vp8", rate=90000)
            video.width, video.height = size or (640, 480)
            self._streams["video"] = video

    def _mux(self, kind: str, segment: object, packet: av.Packet[Any], arrival: float) -> None:
        stream = self._streams.get(kind)
        if stream is None or packet.pts is None or packet.time_base is None:
            return
        clock = packet.time_base.denominator // max(1, packet.time_base.numerator)
        key = (kind, segment)
        seg = self._segments.get(key)
        if seg is None:
            if kind == "video" and not is_keyframe(packet):
                return  # a video segment starts at a keyframe (outlets guarantee it)
            assert self._start is not None
            seg = self._segments[key] = _Segment(
                packet.pts, round((arrival - self._start) * clock))
        pts = packet.pts - seg.first_pts + seg.offset
        last = self._last.get(kind)
        if last is not None and pts <= last:
            pts = last + 1
        self._last[kind] = pts
        out = av.Packet(bytes(packet))  # the packet is shared with other outlets: copy it
        out.pts = out.dts = pts
        out.time_base = Fraction(1, clock)
        out.is_keyframe = is_keyframe(packet)
        out.stream = stream
        self._container.mux(out)
        self.written[kind] += 1
        seconds = pts / clock
        first, _ = self._span.get(kind, (seconds, seconds))
        self._span[kind] = (min(first, seconds), seconds)

    def close(self) -> RecordedFile:
        """Finish the file (idempotent): what was written, for how long."""
        self._closed = True
        if self._container is not None:
            self._container.close()
            self._container = None
        spans = list(self._span.values())
        duration = max(s[1] for s in spans) - min(s[0] for s in spans) if spans else 0.0
        size = self.path.stat().st_size if self.path.exists() else 0
        return RecordedFile(self.path, round(duration, 3), size, self.video)


@dataclass(eq=False)
class Recording:
    """One publisher's audio and video source being recorded (see the module docstring).

    Args:
        user_id: whose media is recorded.
        sources: kind ("audio"/"video") -> the source recorded for it ("audio", "camera",
            "screen").
        remux: the file writer.
        spawn: starts a task in the relay's task group.
    """

    user_id: str
    sources: dict[str, str]
    remux: WebmRemux
    spawn: Callable[[Callable[[], Any]], object]
    _outlets: dict[Outlet, Forwarder] = field(default_factory=dict)

    def follow(self, kind: str, forwarder: Forwarder) -> None:
        """Record ``forwarder``'s packets as ``kind`` from now on (a new segment)."""
        outlet = forwarder.attach()
        self._outlets[outlet] = forwarder

        async def pump() -> None:
            loop = asyncio.get_running_loop()
            while True:
                try:
                    packet = await outlet.recv()
                except MediaStreamError:
                    self._outlets.pop(outlet, None)
                    return
                self.remux.write(kind, outlet, packet, loop.time())

        self.spawn(pump)

    def stop(self) -> RecordedFile:
        """Stop reading and finish the file (idempotent)."""
        for outlet, forwarder in list(self._outlets.items()):
            forwarder.detach(outlet)
        self._outlets.clear()
        return self.remux.close()
