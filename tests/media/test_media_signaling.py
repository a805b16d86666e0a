"""``media.signaling.parse`` (every action, every malformed field) and ``media.sdp.sections``."""

from __future__ import annotations

from typing import Any

import pytest

from media.sdp import sections
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
    p2p_sends,
    parse,
)

SDP = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = "candidate:1 1 udp 2130706431 198.18.0.2 40000 typ host"


def test_every_action_parses() -> None:
    assert parse("media.config", {}) == Config()
    assert parse("media.publish", {"sdp": SDP, "tracks": [
        {"mid": "0", "source": "audio"}, {"mid": "1", "source": "camera"}]}) == Publish(
        SDP, {"0": "audio", "1": "camera"})
    assert parse("media.unpublish", {"source": "screen"}) == Unpublish("screen")
    assert parse("media.subscribe", {"sdp": SDP, "tracks": [
        {"mid": "a", "userId": "u1", "source": "camera"}]}) == Subscribe(
        SDP, {"a": ("u1", "camera")})
    assert parse("media.ice", {"pc": "publish", "candidate": CANDIDATE, "sdpMid": "0"}) == Ice(
        "publish", CANDIDATE.removeprefix("candidate:"), "0")
    assert parse("media.mute", {"source": "audio", "muted": True}) == Mute("audio", True)
    assert parse("media.mute", {"source": "camera", "muted": True, "userId": "u2"}) == Mute(
        "camera", True, "u2")
    assert parse("media.leave", {}) == Leave()
    assert parse("media.record", {"on": True}) == Record(True, None)
    assert parse("media.record", {"on": False, "userId": "u"}) == Record(False, "u")


@pytest.mark.parametrize(("action", "fields", "field"), [
    ("media.publish", {"tracks": []}, "sdp"),
    ("media.publish", {"sdp": "hello", "tracks": []}, "sdp"),
    ("media.publish", {"sdp": SDP + "a" * 30_000, "tracks": []}, "sdp"),
    ("media.publish", {"sdp": SDP}, "tracks"),
    ("media.publish", {"sdp": SDP, "tracks": [{"mid": "0", "source": "audio"}] * 2}, "tracks"),
    ("media.publish", {"sdp": SDP, "tracks": [{"mid": "0", "source": "a"},
                                              {"mid": "1", "source": "a"}]}, "source"),
    ("media.publish", {"sdp": SDP, "tracks": [{"mid": "0", "source": "audio"},
                                              {"mid": "1", "source": "audio"}]}, "tracks"),
    ("media.publish", {"sdp": SDP, "tracks": [{"mid": "x y", "source": "audio"}]}, "tracks.mid"),
    ("media.publish", {"sdp": SDP, "tracks": ["0"]}, "tracks"),
    ("media.publish", {"sdp": SDP, "tracks": [{"mid": "0", "source": "mic"}]}, "source"),
    ("media.subscribe", {"sdp": SDP, "tracks": [{"mid": "0", "source": "audio"}]},
     "tracks.userId"),
    ("media.subscribe", {"sdp": SDP, "tracks": [{"mid": str(i), "userId": "u",
                                                 "source": "audio"} for i in range(65)]},
     "tracks"),
    ("media.unpublish", {}, "source"),
    ("media.ice", {"pc": "both", "candidate": CANDIDATE, "sdpMid": "0"}, "pc"),
    ("media.ice", {"pc": "publish", "candidate": "a=x", "sdpMid": "0"}, "candidate"),
    ("media.ice", {"pc": "publish", "candidate": CANDIDATE}, "sdpMid"),
    ("media.mute", {"source": "audio", "muted": "yes"}, "muted"),
    ("media.mute", {"source": "audio", "muted": True, "userId": 7}, "userId"),
    ("media.record", {}, "on"),
    ("media.record", {"on": True, "userId": ""}, "userId"),
    ("media.stream", {}, "action"),
])
def test_malformed_messages_name_the_field(action: str, fields: dict[str, Any],
                                           field: str) -> None:
    with pytest.raises(SignalingError) as caught:
        parse(action, fields)
    assert caught.value.field == field


def test_sections_give_mid_direction_and_media_ssrc() -> None:
    offer = SDP + (
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n"
        "a=ssrc:111 cname:x\r\na=ssrc:111 msid:a b\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\na=sendrecv\r\n"
        "a=ssrc-group:FID 222 333\r\na=ssrc:222 cname:x\r\na=ssrc:333 cname:x\r\n"
        "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendonly\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:3\r\n"
    )
    found = sections(offer)
    assert [(s.kind, s.mid, s.direction, s.ssrcs) for s in found] == [
        ("audio", "0", "sendonly", [111]), ("video", "1", "sendrecv", [222]),
        ("video", "2", "sendonly", []), ("application", "3", "sendrecv", []),
    ]
    assert [s.sends for s in found] == [True, True, False, True]
    assert [s.receives for s in found] == [False, True, False, True]


def test_the_p2p_actions_parse() -> None:
    assert parse("media.p2p.publish", {"sources": ["camera", "audio"]}) == P2pPublish(
        ("audio", "camera"))
    assert parse("media.p2p.publish", {"sources": []}) == P2pPublish(())
    assert parse("media.p2p.offer", {"to": "u2", "cid": "c-1", "sdp": SDP, "tracks": [
        {"mid": "0", "source": "audio"}, {"mid": "1", "source": "screen"}]}) == P2pSignal(
        "offer", "u2", "c-1", SDP, {"0": "audio", "1": "screen"})
    assert parse("media.p2p.answer", {"to": "u2", "cid": "c-1", "sdp": SDP}) == P2pSignal(
        "answer", "u2", "c-1", SDP)
    assert parse("media.p2p.ice", {"to": "u2", "cid": "c", "candidate": CANDIDATE,
                                   "sdpMid": "0"}) == P2pIce("u2", "c", CANDIDATE, "0")
    assert parse("media.p2p.failed", {}) == P2pFailed(None)
    assert parse("media.p2p.failed", {"with": "u2"}) == P2pFailed("u2")


@pytest.mark.parametrize(("action", "fields", "field"), [
    ("media.p2p.publish", {}, "sources"),
    ("media.p2p.publish", {"sources": ["audio", "audio"]}, "sources"),
    ("media.p2p.publish", {"sources": ["mic"]}, "source"),
    ("media.p2p.publish", {"sources": ["audio", "camera", "screen", "audio"]}, "sources"),
    ("media.p2p.offer", {"cid": "c", "sdp": SDP}, "to"),
    ("media.p2p.offer", {"to": "u", "cid": "c", "sdp": SDP}, "tracks"),
    ("media.p2p.offer", {"to": "u", "cid": "c", "sdp": SDP, "tracks": [
        {"mid": "0", "source": "audio"}, {"mid": "1", "source": "audio"}]}, "tracks"),
    ("media.p2p.offer", {"to": "", "cid": "c", "sdp": SDP}, "to"),
    ("media.p2p.offer", {"to": "u" * 65, "cid": "c", "sdp": SDP}, "to"),
    ("media.p2p.offer", {"to": "u", "sdp": SDP, "tracks": []}, "cid"),
    ("media.p2p.offer", {"to": "u", "cid": "a b", "sdp": SDP, "tracks": []}, "cid"),
    ("media.p2p.answer", {"to": "u", "cid": "c", "sdp": "hello"}, "sdp"),
    ("media.p2p.answer", {"to": "u", "cid": "c"}, "sdp"),
    ("media.p2p.ice", {"to": "u", "cid": "c", "candidate": "x", "sdpMid": "0"}, "candidate"),
    ("media.p2p.ice", {"to": "u", "cid": "c", "candidate": CANDIDATE}, "sdpMid"),
    ("media.p2p.failed", {"with": 7}, "with"),
    ("media.p2p.nope", {}, "action"),
])
def test_malformed_p2p_actions_name_the_field(action: str, fields: dict[str, Any],
                                              field: str) -> None:
    with pytest.raises(SignalingError) as raised:
        parse(action, fields)
    assert raised.value.field == field


def test_what_a_p2p_description_sends() -> None:
    body = ("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=sendonly\r\n"
            "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=recvonly\r\n"
            "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=sendonly\r\n")
    assert p2p_sends(SDP + body) == {"audio"}  # (a rejected section, port 0, sends nothing)
    assert p2p_sends(SDP + body.replace("recvonly", "sendrecv")) == {"audio", "video"}
    assert p2p_sends(SDP + "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n") == {
        "application"}
