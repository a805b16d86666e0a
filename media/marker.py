"""A video jitter buffer that hands out a frame when its last packet (the RTP marker) arrives.

aiortc's ``JitterBuffer`` (1.16) reassembles a frame only when it sees a packet of the *next*
frame (another RTP timestamp): every forwarded video frame left the relay one frame interval
late (33 ms at 30 fps), whatever the network. ``MarkerJitterBuffer`` keeps aiortc's buffer and
adds one rule: a frame whose packets are all present, from the one after the previous frame's
marker packet to its own marker packet, with no sequence gap and one timestamp, is released at
once (RFC 7741 4.1 and RFC 3550 5.1: the marker bit is set on the last packet of a VP8 frame).

Everything else is aiortc's: a frame with a missing packet waits for the retransmission its
NACK asks for (the receiver's ``NackGenerator`` is untouched), an overflow or a large reorder
drops and asks for a keyframe (PLI), and a frame whose start is unknown (the first one, or
after a loss of the previous marker) is released as before, when the next frame starts.

Invariant: the buffer's ``_origin`` is the frame start when ``_origin - 1`` is a marker packet
seen recently (``_ends``); only then may the scan from ``_origin`` release a frame early.
Pure: no I/O, no clock. ``media.passthrough.release_at_marker`` puts one into a receiver.
"""

from __future__ import annotations

import collections

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add

__all__ = ["MarkerJitterBuffer"]

_RECENT_ENDS = 16  # marker sequence numbers kept (reordering leaves a few in flight)


class MarkerJitterBuffer(JitterBuffer):
    """aiortc's video jitter buffer, releasing a complete frame at its marker packet."""

    def __init__(self, capacity: int = 512) -> None:
        super().__init__(capacity=capacity, is_video=True)
        self._ends: collections.deque[int] = collections.deque(maxlen=_RECENT_ENDS)
        self.early = 0  # frames released at their marker (the rest: by aiortc's rule)

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli_flag, frame = super().add(packet)
        if packet.marker:
            self._ends.append(packet.sequence_number)
        if frame is None:
            frame = self._complete_frame()
            if frame is not None:
                self.early += 1
        return pli_flag, frame

    def _complete_frame(self) -> JitterFrame | None:
        """The frame at the origin if it is complete up to its marker packet (then removed)."""
        origin = self._origin
        if origin is None or uint16_add(origin, -1) not in self._ends:
            return None
        first = self._packets[origin % self._capacity]
        if first is None:
            return None
        packets: list[RtpPacket] = []
        for count in range(self._capacity):
            packet = self._packets[(origin + count) % self._capacity]
            if (packet is None or packet.timestamp != first.timestamp
                    or packet.sequence_number != uint16_add(origin, count)):
                return None
            packets.append(packet)
            if packet.marker:
                self.remove(count + 1)
                return JitterFrame(
                    data=b"".join(p._data for p in packets),  # type: ignore[attr-defined]
                    timestamp=first.timestamp)
        return None
