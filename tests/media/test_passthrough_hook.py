"""The private aiortc hook the relay relies on (``media.passthrough``): this file fails loudly
when an aiortc upgrade changes what the hook replaces."""

from __future__ import annotations

import asyncio
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from importlib import metadata
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
import av
import pytest
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media import passthrough


def test_the_installed_aiortc_is_the_pinned_one() -> None:
    assert metadata.version("aiortc") == passthrough.AIORTC_VERSION
    passthrough.check()  # the private shapes are all there


def test_another_aiortc_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passthrough.metadata, "version", lambda name: "1.17.0")
    with pytest.raises(passthrough.HookUnavailable, match=r"aiortc 1\.17\.0 installed"):
        passthrough.check()


def test_a_changed_worker_signature_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def decoder_worker(loop: Any, input_q: Any, output_q: Any) -> None: ...

    monkeypatch.setattr(passthrough, "_original", None)
    monkeypatch.setattr(receiver_module, "decoder_worker", decoder_worker)
    with pytest.raises(passthrough.HookUnavailable, match="decoder_worker"):
        passthrough.check()


@dataclass
class _Codec:
    mimeType: str
    clockRate: int


@dataclass
class _Encoded:
    data: bytes
    timestamp: int


async def _run_worker(output: asyncio.Queue[Any], tasks: list[Any]) -> list[Any]:
    loop = asyncio.get_running_loop()
    inbox: queue.Queue[Any] = queue.Queue()
    for task in [*tasks, None]:
        inbox.put(task)
    worker = threading.Thread(target=receiver_module.decoder_worker,
                              args=(loop, inbox, output, threading.Event()))
    worker.start()
    got = []
    while (item := await asyncio.wait_for(output.get(), 10)) is not None:
        got.append(item)
    await asyncio.to_thread(worker.join)
    return got


async def test_a_marked_receiver_yields_encoded_packets() -> None:
    passthrough.install()
    passthrough.install()  # idempotent
    assert receiver_module.decoder_worker is passthrough._worker
    track = receiver_module.RemoteStreamTrack(kind="video")
    passthrough.forward_encoded(track)
    vp8 = _Codec("video/VP8", 90000)
    got = await _run_worker(track._queue, [
        (vp8, _Encoded(b"\x10\x02\x00\x9d\x01\x2a", 3000)),  # frame tag bit 0 clear: key frame
        (vp8, _Encoded(b"\x11\x02\x00", 6000)),
        (_Codec("audio/opus", 48000), _Encoded(b"\xfc\xff", 960)),
    ])
    assert [type(p) for p in got] == [av.Packet] * 3
    assert [bytes(p) for p in got] == [b"\x10\x02\x00\x9d\x01\x2a", b"\x11\x02\x00", b"\xfc\xff"]
    assert [p.pts for p in got] == [3000, 6000, 960]
    assert [p.time_base.denominator for p in got] == [90000, 90000, 48000]
    assert [passthrough.is_keyframe(p) for p in got] == [True, False, True]


async def test_an_unmarked_receiver_still_decodes() -> None:
    passthrough.install()
    track = receiver_module.RemoteStreamTrack(kind="audio")
    opus = RTCRtpCodecParameters(
        mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    silence = av.AudioFrame(format="s16", layout="stereo", samples=960)
    for plane in silence.planes:
        plane.update(bytes(plane.buffer_size))
    silence.sample_rate, silence.pts = 48000, 0
    silence.time_base = Fraction(1, 48000)
    payloads, _ = get_encoder(opus).encode(silence)
    got = await _run_worker(track._queue, [(opus, JitterFrame(data=payloads[0], timestamp=0))])
    assert got and all(isinstance(f, av.AudioFrame) for f in got)


def test_a_changed_packet_handler_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _handle_rtp_packet(self: Any, packet: Any) -> None: ...

    monkeypatch.setattr(receiver_module.RTCRtpReceiver, "_handle_rtp_packet",
                        _handle_rtp_packet)
    with pytest.raises(passthrough.HookUnavailable, match="_handle_rtp_packet"):
        passthrough.check()


async def test_the_audio_level_is_read_from_the_packet_header() -> None:
    """A real RTP packet with the RFC 6464 extension, parsed by aiortc's header-extension map
    as its transport does, reaches the tap's observer and then the receiver's own handler."""
    from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
    from aiortc.rtp import HeaderExtensionsMap, RtpPacket

    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=[RTCRtpHeaderExtensionParameters(
        id=2, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level")]))
    sent = RtpPacket(payload_type=111, sequence_number=1, timestamp=960, ssrc=5,
                     payload=b"\xf8opus")
    sent.extensions.audio_level = (True, 23)
    received = RtpPacket.parse(sent.serialize(extensions), extensions)
    silent = RtpPacket.parse(RtpPacket(payload_type=111, sequence_number=2, timestamp=1920,
                                       ssrc=5, payload=b"\xf8").serialize(extensions),
                             extensions)

    handled: list[tuple[int, int]] = []

    class Receiver:
        async def _handle_rtp_packet(self, packet: Any, arrival_time_ms: int) -> None:
            handled.append((packet.sequence_number, arrival_time_ms))

    receiver, levels = Receiver(), []
    passthrough.tap_audio_level(receiver, levels.append)
    await receiver._handle_rtp_packet(received, arrival_time_ms=7)
    await receiver._handle_rtp_packet(silent, arrival_time_ms=8)  # no extension: no level
    assert levels == [23] and handled == [(1, 7), (2, 8)]


# -- the marker jitter buffer (media.marker) and the receiver attribute it replaces --------


def _rtp(seq: int, timestamp: int, data: bytes, marker: bool = False) -> Any:
    from aiortc.rtp import RtpPacket

    packet = RtpPacket(payload_type=96, sequence_number=seq % 65536, timestamp=timestamp,
                       marker=int(marker))
    packet._data = data  # type: ignore[attr-defined]  # what the receiver's depayload sets
    return packet


def _frames(buffer: Any, packets: list[Any]) -> list[tuple[int, bytes] | None]:
    """What ``add`` releases after each packet: (timestamp, data) or None."""
    out: list[tuple[int, bytes] | None] = []
    for packet in packets:
        _, frame = buffer.add(packet)
        out.append(None if frame is None else (frame.timestamp, frame.data))
    return out


def _two_frames_then_a_third(first_seq: int = 65533) -> list[Any]:
    return [
        _rtp(first_seq, 0, b"a1"), _rtp(first_seq + 1, 0, b"a2", marker=True),  # frame A
        _rtp(first_seq + 2, 3000, b"b1"), _rtp(first_seq + 3, 3000, b"b2"),
        _rtp(first_seq + 4, 3000, b"b3", marker=True),  # frame B
        _rtp(first_seq + 5, 6000, b"c1"),  # frame C starts
    ]


def test_aiortc_releases_a_frame_only_when_the_next_one_starts() -> None:
    """Why ``media.marker`` exists: the stock buffer holds every frame one frame interval."""
    from aiortc.jitterbuffer import JitterBuffer

    got = _frames(JitterBuffer(capacity=512, is_video=True), _two_frames_then_a_third())
    assert got == [None, None, (0, b"a1a2"), None, None, (3000, b"b1b2b3")]


def test_the_marker_buffer_releases_a_complete_frame_at_its_marker() -> None:
    from media.marker import MarkerJitterBuffer

    buffer = MarkerJitterBuffer()
    got = _frames(buffer, _two_frames_then_a_third())  # sequence numbers wrap at 65536
    # A's start is unknown (the first packet seen): released as aiortc does, when B starts;
    # B follows A's marker, so it leaves with its own marker packet
    assert got == [None, None, (0, b"a1a2"), None, (3000, b"b1b2b3"), None]
    assert buffer.early == 1


def test_a_frame_with_a_gap_waits_for_the_missing_packet() -> None:
    from media.marker import MarkerJitterBuffer

    buffer = MarkerJitterBuffer()
    got = _frames(buffer, [
        _rtp(9, 0, b"a0"), _rtp(10, 0, b"a", marker=True),  # start unknown
        _rtp(11, 3000, b"b1"),  # A released (aiortc's rule)
        _rtp(12, 3000, b"b2", marker=True),  # B released at its marker
        _rtp(13, 6000, b"c1"), _rtp(15, 6000, b"c3", marker=True),  # c2 lost: C held
        _rtp(16, 9000, b"d1"), _rtp(17, 9000, b"d2", marker=True),  # D held behind C
        _rtp(14, 6000, b"c2"),  # the retransmission (NACK) completes C
        _rtp(18, 12000, b"e1"),  # one frame per add: D leaves with the next packet
        _rtp(19, 12000, b"e2", marker=True),  # caught up: E at its marker
    ])
    assert got == [None, None, (0, b"a0a"), (3000, b"b1b2"), None, None, None, None,
                   (6000, b"c1c2c3"), (9000, b"d1d2"), (12000, b"e1e2")]
    assert buffer.add(_rtp(13, 6000, b"c1"))[1] is None  # a late duplicate is ignored
    assert buffer.early == 2


def test_frames_without_a_marker_are_released_as_aiortc_does() -> None:
    """A sender that sets no marker bit (or a frame whose end is unknown) loses nothing."""
    from aiortc.jitterbuffer import JitterBuffer

    from media.marker import MarkerJitterBuffer

    packets = [_rtp(seq, (seq // 2) * 3000, bytes([seq])) for seq in range(100, 108)]
    stock = _frames(JitterBuffer(capacity=512, is_video=True), packets)
    ours = _frames(MarkerJitterBuffer(), [
        _rtp(p.sequence_number, p.timestamp, p._data) for p in packets])
    assert ours == stock and sum(f is not None for f in ours) == 3


def test_release_at_marker_replaces_the_video_receiver_s_buffer() -> None:
    from media.marker import MarkerJitterBuffer

    class Transport:
        state = "new"

    receiver = receiver_module.RTCRtpReceiver("video", Transport())
    receiver._track = receiver_module.RemoteStreamTrack(kind="video")
    passthrough.release_at_marker(receiver)
    assert type(receiver._RTCRtpReceiver__jitter_buffer) is MarkerJitterBuffer  # type: ignore[attr-defined]
    audio = receiver_module.RTCRtpReceiver("audio", Transport())
    audio._track = receiver_module.RemoteStreamTrack(kind="audio")
    with pytest.raises(passthrough.HookUnavailable):
        passthrough.release_at_marker(audio)


def test_a_receiver_without_the_buffer_attribute_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async def _handle_rtp_packet(self: Any, packet: Any, arrival_time_ms: int) -> None:
        self.buffer.add(packet)  # renamed: the replaced buffer would never be fed

    monkeypatch.setattr(receiver_module.RTCRtpReceiver, "_handle_rtp_packet",
                        _handle_rtp_packet)
    with pytest.raises(passthrough.HookUnavailable, match="__jitter_buffer"):
        passthrough.check()
