"""Light subscribers for the media benchmark: real connections, media counted from RTP headers.

A ``Sink`` is an aiortc ``RTCPeerConnection`` that negotiates, completes ICE and DTLS and keys
SRTP like any subscriber, so the server encrypts and sends to it exactly as to a browser. Only
its receiving path differs: aiortc parses every packet in Python, feeds a jitter buffer, NACK and
bandwidth estimators and a decoder thread (~1.2 cores for 50 subscribers on the bench machine
even without decoding). A sink instead takes the datagrams in the SRTP range straight from the
aioice connection, unprotects each with the DTLS transport's SRTP session (libsrtp, so a forged
or corrupt packet fails its authentication and is counted, not tallied) and counts it with a
``rtpcount.StreamTally`` per SSRC. Everything else keeps aiortc's path: STUN (aioice answers
the server's consent checks, RFC 7675, so the server keeps the connection) and DTLS records.
Once a second a sink sends an RTCP receiver report per SSRC (RFC 3550 6.4.2) with its counts.

Frame indices: one complete keyframe is decoded (``read_keyframe``) to anchor a
``rtpcount.FrameClock``; later keyframes, at most one per ``check_interval``, check it.

This replaces private aiortc and aioice attributes (pinned versions): ``check`` verifies them
and ``Sink.start`` refuses anything else.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import pylibsrtp
from aiortc import RTCPeerConnection
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, is_rtcp

from bench.media.rtpcount import FrameClock, StreamTally, parse_header

__all__ = ["VERSIONS", "Sink", "SinkUnavailable", "check"]

VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0"}  # whose private shapes this module uses


class SinkUnavailable(RuntimeError):
    """The installed aiortc/aioice lack a shape this module relies on (the message says which)."""


def check(pc: RTCPeerConnection) -> None:
    """Verify the private attributes a sink uses on a negotiated connection.

    Raises:
        SinkUnavailable: naming the version or attribute that differs.
    """
    for name, version in VERSIONS.items():
        if metadata.version(name) != version:
            raise SinkUnavailable(f"{name} {metadata.version(name)} installed, the benchmark "
                                  f"sink needs {version} (bench/media/sink.py)")
    for transceiver in pc.getTransceivers():
        dtls = transceiver.receiver.transport
        connection = getattr(dtls.transport, "_connection", None)
        for owner, attribute in ((transceiver, "_codecs"), (transceiver.sender, "_ssrc"),
                                 (dtls, "_rx_srtp"), (dtls, "_send_rtp"),
                                 (connection, "data_received")):
            if not hasattr(owner, attribute):
                raise SinkUnavailable(f"{type(owner).__name__} has no {attribute}")


class Sink:
    """Counts what the server sends one subscriber connection (see the module docstring).

    Args:
        pc: the subscriber's connection, its answer applied (``setRemoteDescription``).
        read_keyframe: decodes one VP8 keyframe and reads the publisher's drawn index
            (``None`` if unreadable); called at most once per ``check_interval``.
        check_interval: seconds between decoded keyframes after the anchor.
    """

    def __init__(self, pc: RTCPeerConnection, read_keyframe: Callable[[bytes], int | None],
                 check_interval: float = 2.0) -> None:
        self.pc = pc
        self._read_keyframe = read_keyframe
        self._check_interval = check_interval
        self._last_decode = 0.0
        self.kinds: dict[int, str] = {}  # payload type -> "video" | "audio" | "rtx"
        self.tallies: dict[int, StreamTally] = {}
        self.clock = FrameClock()
        self.srtp_failures = self.rtcp_packets = self.rtx_packets = 0
        self.foreign = self.unreadable = 0
        self._rtcp_ssrc = 0
        self._dtls: list[Any] = []

    def start(self) -> None:
        """Take over the receiving path of every transport of ``pc`` (call once, after the
        answer and before media flows: earlier packets go nowhere).

        Raises:
            SinkUnavailable: see ``check``.
        """
        check(self.pc)
        for transceiver in self.pc.getTransceivers():
            self._rtcp_ssrc = self._rtcp_ssrc or transceiver.sender._ssrc
            for codec in transceiver._codecs:
                mime = codec.mimeType.lower()
                if codec.payloadType is not None:
                    self.kinds[codec.payloadType] = "rtx" if mime.endswith("/rtx") else \
                        mime.split("/")[0]
            dtls = transceiver.receiver.transport
            if dtls not in self._dtls:
                self._dtls.append(dtls)
                self._intercept(dtls)

    def _intercept(self, dtls: Any) -> None:
        connection = dtls.transport._connection
        aiortc_path = connection.data_received

        def data_received(data: bytes, component: int) -> None:
            # RFC 7983 5: 128-191 is RTP/RTCP; STUN (0-3) and DTLS (20-63) keep aiortc's path.
            if data and 127 < data[0] < 192:
                self._packet(dtls, data)
            else:
                aiortc_path(data, component)

        connection.data_received = data_received

    def _packet(self, dtls: Any, data: bytes) -> None:
        now = time.monotonic()
        session = dtls._rx_srtp
        if session is None:  # keys not derived yet: aiortc drops these too
            return
        try:
            if is_rtcp(data):
                session.unprotect_rtcp(data)
                self.rtcp_packets += 1
                return
            packet = session.unprotect(data)
        except pylibsrtp.Error:
            self.srtp_failures += 1
            return
        header = parse_header(packet)
        if header is None:
            self.unreadable += 1
            return
        kind = self.kinds.get(header[0])
        if kind is None or kind == "rtx":  # (no NACK is sent, so no retransmission is due)
            self.foreign += kind is None
            self.rtx_packets += kind == "rtx"
            return
        tally = self.tallies.get(header[4])
        if tally is None:
            tally = self.tallies[header[4]] = StreamTally(video=kind == "video")
            tally.want_keyframe = tally.video
        tally.add(packet, header, now)
        if tally.captured:
            self._decode(tally)

    def _decode(self, tally: StreamTally) -> None:
        for timestamp, data in tally.captured:
            index = self._read_keyframe(data)
            if index is not None:
                self.clock.observe(timestamp, index)
        tally.captured.clear()
        self._last_decode = time.monotonic()

    async def send_report(self) -> None:
        """One RTCP receiver report for every SSRC heard; re-arms the keyframe check."""
        if time.monotonic() - self._last_decode >= self._check_interval:
            for tally in self.tallies.values():
                tally.want_keyframe = tally.video
        reports = [RtcpReceiverInfo(ssrc=ssrc, fraction_lost=0,
                                    packets_lost=min(tally.lost, 0x7FFFFF),
                                    highest_sequence=tally.highest_sequence, jitter=0, lsr=0,
                                    dlsr=0)
                   for ssrc, tally in self.tallies.items()]
        if not reports or not self._dtls:
            return
        with contextlib.suppress(ConnectionError):
            await self._dtls[0]._send_rtp(bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc,
                                                             reports=reports)))

    def report(self, since: int) -> dict[str, Any]:
        """Counts so far, and the arrival of every complete video frame whose index follows
        ``since`` (within half the index space), keyed by index."""
        video = [t for t in self.tallies.values() if t.video]
        audio = [t for t in self.tallies.values() if not t.video]
        times: dict[str, float] = {}
        unaligned = 0
        for tally in video:
            for timestamp, arrival in tally.completed.items():
                index = self.clock.index(timestamp)
                if index is None:
                    unaligned += self.clock.anchor is not None
                elif 0 < (index - since) % 65536 < 32768:
                    times[str(index)] = arrival
        # Indices only when the mapping is exact over every remembered frame.
        exact = self.clock.anchor is not None and not self.clock.mismatches and not unaligned
        return {
            "kind": "sink",
            "frames": sum(t.frames for t in video), "complete": sum(t.complete for t in video),
            "video_packets": sum(t.packets for t in video),
            "video_lost": sum(t.lost for t in video), "late": sum(t.late for t in video),
            "audio_packets": sum(t.packets for t in audio),
            "audio_lost": sum(t.lost for t in audio),
            "srtp_failures": self.srtp_failures, "rtcp_packets": self.rtcp_packets,
            "foreign": self.foreign + self.unreadable,
            "rtx_packets": self.rtx_packets,
            "anchored": self.clock.anchor is not None, "exact": exact,
            "keyframe_checks": self.clock.checks, "mismatches": self.clock.mismatches,
            "unaligned": unaligned, "keyframes": self.clock.observed,
            "times": times if exact else {},
        }
