"""The media benchmark's RTP counting (``bench/media/rtpcount.py``): headers, frames, losses and
the timestamp-to-index clock, on packets built here (the sinks' end-to-end test is
``test_bench_sink_netns.py``)."""

from __future__ import annotations

from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket

from bench.media.rtpcount import FrameClock, StreamTally, parse_header, vp8_picture_start

VP8 = 97
MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def _extensions() -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(RTCRtpParameters(headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri=MID),
        RTCRtpHeaderExtensionParameters(id=2, uri=ABS_SEND_TIME)]))
    return extensions


def _frame(seq: int, timestamp: int, keyframe: bool, size: int = 3000) -> list[bytes]:
    """One VP8 frame as aiortc's sender packetizes it (descriptor, marker on the last)."""
    body = bytes([0x10 if keyframe else 0x11]) + bytes(size - 1)  # frame tag bit 0: key=0
    payloads = Vp8Encoder._packetize(body, picture_id=7)
    packets = []
    for i, payload in enumerate(payloads):
        packet = RtpPacket(payload_type=VP8, marker=int(i == len(payloads) - 1),
                           sequence_number=(seq + i) & 0xFFFF, timestamp=timestamp, ssrc=42,
                           payload=payload)
        packet.extensions.mid = "1"
        packet.extensions.abs_send_time = 0x123456
        packets.append(packet.serialize(_extensions()))
    return packets


def _feed(tally: StreamTally, packets: list[bytes], now: float = 0.0) -> None:
    for packet in packets:
        header = parse_header(packet)
        assert header is not None
        tally.add(packet, header, now)


def test_header_matches_aiortc_parser_with_extensions_and_padding() -> None:
    packet = RtpPacket(payload_type=VP8, marker=1, sequence_number=65535,
                       timestamp=0xFFFFFFF0, ssrc=0xDEADBEEF, payload=b"\x10payload")
    packet.csrc = [1, 2]
    packet.extensions.mid = "video"
    packet.extensions.abs_send_time = 0x654321
    packet.padding_size = 5
    data = packet.serialize(_extensions())

    pt, marker, seq, ts, ssrc, start, end = parse_header(data) or (0, False, 0, 0, 0, 0, 0)
    parsed = RtpPacket.parse(data, _extensions())
    assert (pt, marker, seq, ts, ssrc) == (VP8, True, 65535, 0xFFFFFFF0, 0xDEADBEEF)
    assert data[start:end] == parsed.payload == b"\x10payload"


def test_header_rejects_what_is_not_rtp() -> None:
    assert parse_header(b"\x80\x61\x00") is None  # too short
    assert parse_header(bytes([0x40]) + bytes(15)) is None  # version 1
    assert parse_header(bytes([0x90]) + bytes(13)) is None  # extension past the end


def test_picture_start_and_keyframe_from_the_descriptor() -> None:
    key, inter = _frame(0, 0, keyframe=True), _frame(10, 3000, keyframe=False)
    for packets, is_key in ((key, True), (inter, False)):
        starts = []
        for packet in packets:
            header = parse_header(packet)
            assert header is not None
            starts.append(vp8_picture_start(packet[header[5]:header[6]]))
        assert starts[0] == (True, is_key)
        assert all(start == (False, False) for start in starts[1:])
    assert vp8_picture_start(b"") == (False, False)


def test_complete_frames_losses_and_the_arrival_of_each_frame() -> None:
    tally = StreamTally(video=True)
    frames = [_frame(100 + 3 * k, 9000 + 3000 * k, keyframe=k == 0) for k in range(6)]
    assert all(len(f) == 3 for f in frames)
    _feed(tally, frames[0], now=1.0)
    _feed(tally, frames[1][:1] + frames[1][2:], now=2.0)  # middle packet lost
    _feed(tally, frames[2][:2], now=3.0)  # marker packet lost...
    _feed(tally, frames[3][1:], now=4.0)  # ...and the next frame's head
    _feed(tally, frames[4], now=5.0)
    _feed(tally, frames[5][1:2], now=6.0)  # a frame without its head
    _feed(tally, frames[4][1:2], now=7.0)  # a late duplicate of frame 4's: ignored
    assert tally.frames == 6  # timestamps seen
    assert tally.complete == 2
    assert tally.completed == {9000: 1.0, 9000 + 12000: 5.0}
    assert tally.lost == 1 + 2 + 1  # seq 104; 108 and 109; 115
    assert tally.late == 1
    assert tally.packets == 3 + 2 + 2 + 2 + 3 + 1


def test_sequence_wrap_and_duplicates() -> None:
    tally = StreamTally(video=True)
    _feed(tally, _frame(65534, 0, keyframe=True))  # 65534, 65535, 0
    _feed(tally, _frame(1, 3000, keyframe=False))
    _feed(tally, _frame(1, 3000, keyframe=False)[-1:])  # the last packet again
    assert (tally.complete, tally.lost, tally.duplicates, tally.cycles) == (2, 0, 1, 1)
    assert tally.highest_sequence == (1 << 16) | 3


def test_audio_counts_packets_only() -> None:
    tally = StreamTally(video=False)
    for seq in (5, 6, 8):
        packet = RtpPacket(payload_type=111, sequence_number=seq, timestamp=960 * seq,
                           payload=b"\xfc").serialize()
        _feed(tally, [packet])
    assert (tally.packets, tally.lost, tally.frames, tally.complete) == (3, 1, 0, 0)


def test_a_wanted_keyframe_is_captured_whole_once() -> None:
    tally = StreamTally(video=True)
    tally.want_keyframe = True
    _feed(tally, _frame(0, 0, keyframe=False))
    assert tally.captured == []
    broken = _frame(3, 3000, keyframe=True)
    _feed(tally, broken[:1] + broken[2:])
    assert tally.captured == []
    _feed(tally, _frame(6, 6000, keyframe=True))
    assert [(ts, len(data), data[:1]) for ts, data in tally.captured] == [(6000, 3000, b"\x10")]
    assert not tally.want_keyframe
    _feed(tally, _frame(9, 9000, keyframe=True))
    assert len(tally.captured) == 1


def test_frame_clock_is_exact_or_silent() -> None:
    clock = FrameClock()
    assert clock.index(123) is None
    origin = 0xFFFFF000  # the index wraps at 2**16, the timestamp at 2**32
    clock.observe(origin, 65535)
    assert clock.index(origin) == 65535
    assert clock.index((origin + 3000) & 0xFFFFFFFF) == 0
    assert clock.index((origin + 2 * 3000 - 1) & 0xFFFFFFFF) == 1  # the publisher's 2999 steps
    assert clock.index((origin + 3000 + 1500) & 0xFFFFFFFF) is None  # half a frame: no index
    assert clock.index(origin - 3000) == 65534
    clock.observe((origin + 9000) & 0xFFFFFFFF, 2)
    assert (clock.checks, clock.mismatches) == (1, 0)
    clock.observe((origin + 12000) & 0xFFFFFFFF, 9)  # a picture the clock did not predict
    assert (clock.checks, clock.mismatches) == (2, 1)
