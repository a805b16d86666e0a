"""Counting frames and losses from RTP packets alone (pure: bytes and times in, counts out).

The light subscribers of the media benchmark (``sink.py``) do not run aiortc's receiver; they
hand each unprotected RTP packet to a ``StreamTally`` for its SSRC. Invariants:

* packets are taken in arrival order; a sequence gap counts its missing packets as lost, a
  packet behind the highest sequence is counted ``late`` and otherwise ignored;
* a video frame is one RTP timestamp (RFC 3550 5.1, RFC 7741 4.1: every packet of a VP8 frame
  carries the frame's timestamp). It is *complete* when its first packet starts the picture
  (VP8 payload descriptor S=1, PID=0), its last carries the marker bit and no sequence number
  is missing in between; a complete frame is counted once, with the arrival time of its first
  packet;
* ``FrameClock`` turns a timestamp into the publisher's frame index only from an anchor (one
  decoded keyframe showing its index) and a whole number of ``FRAME_TICKS`` from it, give or
  take ``SLACK`` ticks; anything further off has no index (the caller counts it), and a later
  keyframe whose decoded index differs from the prediction counts a ``mismatch``. (aiortc's
  VP8 encoder stamps frame k at 3000k or 3000k - 1: it reads the pts after PyAV rescaled it
  to microseconds, and truncates. The relay adds one constant per subscriber.)
"""

from __future__ import annotations

import struct

from aiortc.codecs.vpx import VpxPayloadDescriptor

__all__ = ["FRAME_TICKS", "FrameClock", "StreamTally", "parse_header", "vp8_picture_start"]

FRAME_TICKS = 3000  # 90 kHz / 30 fps
SLACK = 2  # ticks either side of a whole number of frames (a frame is 3000: no ambiguity)
INDEX_MODULO = 1 << 16  # the publisher draws 16 bits of its frame index
_HEADER = struct.Struct("!BBHII")
_EXTENSION_WORDS = struct.Struct("!H")

Header = tuple[int, bool, int, int, int, int, int]


def parse_header(packet: bytes) -> Header | None:
    """``(payload_type, marker, sequence, timestamp, ssrc, payload_start, payload_end)`` of an
    RTP packet (RFC 3550 5.1: CSRCs, a header extension and padding skipped), or ``None`` when
    it is not one."""
    size = len(packet)
    if size < 12:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(packet)
    if first >> 6 != 2:
        return None
    start = 12 + 4 * (first & 0x0F)
    if first & 0x10:
        if size < start + 4:
            return None
        start += 4 + 4 * _EXTENSION_WORDS.unpack_from(packet, start + 2)[0]
    end = size - packet[-1] if first & 0x20 else size
    if start > end:
        return None
    return second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, start, end


def vp8_picture_start(payload: bytes) -> tuple[bool, bool]:
    """Whether a VP8 RTP payload starts a picture, and whether that picture is a keyframe
    (RFC 7741 4.2 descriptor S=1 and PID=0; RFC 6386 9.1: bit 0 of the frame tag is 0 for a
    keyframe)."""
    try:
        descriptor, data = VpxPayloadDescriptor.parse(payload)
    except ValueError:
        return False, False
    if not descriptor.partition_start or descriptor.partition_id != 0 or not data:
        return False, False
    return True, not data[0] & 0x01


class StreamTally:
    """The packets of one SSRC, in arrival order (see the module docstring).

    Args:
        video: count frames (VP8) as well as packets.
        keep: complete frames remembered with their arrival time (the oldest are forgotten).
    """

    __slots__ = (
        "_last",
        "_parts",
        "captured",
        "complete",
        "completed",
        "cycles",
        "duplicates",
        "frame_arrival",
        "frame_ok",
        "frame_ts",
        "frames",
        "keep",
        "late",
        "lost",
        "packets",
        "video",
        "want_keyframe",
    )

    def __init__(self, video: bool, keep: int = 4096) -> None:
        self.video = video
        self.keep = keep
        self.packets = self.lost = self.late = self.duplicates = self.cycles = 0
        self.frames = self.complete = 0
        self._last: int | None = None
        self.frame_ts: int | None = None
        self.frame_ok = False
        self.frame_arrival = 0.0
        self.completed: dict[int, float] = {}  # timestamp -> first packet's arrival
        # Set by the owner to collect the next complete keyframe into ``captured``.
        self.want_keyframe = False
        self.captured: list[tuple[int, bytes]] = []
        self._parts: list[bytes] | None = None

    @property
    def highest_sequence(self) -> int:
        """The extended highest sequence number (RFC 3550 6.4.1), 0 before any packet."""
        return (self.cycles << 16) | (self._last or 0)

    def add(self, packet: bytes, header: Header, now: float) -> None:
        """Count one unprotected RTP packet (``header`` is ``parse_header(packet)``)."""
        _, marker, sequence, timestamp, _, start, end = header
        if self._last is None:
            contiguous = False
        else:
            delta = (sequence - self._last) & 0xFFFF
            if delta == 0:
                self.duplicates += 1
                return
            if delta >= 0x8000:
                self.late += 1
                return
            self.lost += delta - 1
            contiguous = delta == 1
            if sequence < self._last:
                self.cycles += 1
        self._last = sequence
        self.packets += 1
        if not self.video:
            return
        if timestamp != self.frame_ts:
            self.frames += 1
            self.frame_ts = timestamp
            self.frame_arrival = now
            head, keyframe = vp8_picture_start(packet[start:end])
            self.frame_ok = head
            self._parts = [packet[start:end]] if keyframe and self.want_keyframe else None
        else:
            if not contiguous:
                self.frame_ok = False
            if self._parts is not None:
                self._parts.append(packet[start:end])
        if marker:
            if self.frame_ok:
                self._completed(timestamp)
            self.frame_ok = False
            self._parts = None

    def _completed(self, timestamp: int) -> None:
        self.complete += 1
        self.completed[timestamp] = self.frame_arrival
        if len(self.completed) > self.keep:
            del self.completed[next(iter(self.completed))]
        if self._parts is not None:
            data = b"".join(VpxPayloadDescriptor.parse(part)[1] for part in self._parts)
            self.captured.append((timestamp, data))
            self.want_keyframe = False


class FrameClock:
    """RTP timestamp -> publisher frame index, exact or not at all (see the module docstring)."""

    __slots__ = ("anchor", "checks", "mismatches", "observed")

    def __init__(self) -> None:
        self.anchor: tuple[int, int] | None = None  # (timestamp, index)
        self.checks = self.mismatches = 0
        self.observed: list[tuple[int, int]] = []  # the first few, to read a mismatch by

    def observe(self, timestamp: int, index: int) -> None:
        """A decoded keyframe: the first anchors the clock, later ones check it."""
        if len(self.observed) < 8:
            self.observed.append((timestamp, index))
        if self.anchor is None:
            self.anchor = (timestamp, index % INDEX_MODULO)
            return
        self.checks += 1
        if self.index(timestamp) != index % INDEX_MODULO:
            self.mismatches += 1

    def index(self, timestamp: int) -> int | None:
        """The frame index of ``timestamp`` (modulo 2**16), ``None`` before the anchor or when
        the step from it is more than ``SLACK`` ticks off a whole number of frames."""
        if self.anchor is None:
            return None
        ticks = (timestamp - self.anchor[0]) & 0xFFFFFFFF
        if ticks >= 1 << 31:
            ticks -= 1 << 32
        frames, rest = divmod(ticks + SLACK, FRAME_TICKS)
        if rest > 2 * SLACK:
            return None
        return (self.anchor[1] + frames) % INDEX_MODULO
