"""``media.sdp.cap_bandwidth``: the relay's answer caps what a publisher sends per section."""

from __future__ import annotations

from media.sdp import cap_bandwidth, sections

OFFER = "\r\n".join([
    "v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "b=AS:8000", "a=mid:1", "a=sendonly",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "a=mid:2", "a=sendonly",
]) + "\r\n"


def _section_lines(sdp: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            blocks.append([])
        if blocks:
            blocks[-1].append(line)
    return blocks


def test_every_video_section_is_capped_and_audio_left_alone() -> None:
    capped = cap_bandwidth(OFFER, "video", 1_500_000)
    audio, camera, screen = _section_lines(capped)
    assert not any(line.startswith("b=") for line in audio)
    for block in (camera, screen):
        assert [line for line in block if line.startswith("b=")] == ["b=AS:1500", "b=TIAS:1500000"]
    # the browser's 8 Mbit/s ask is replaced, not kept beside the cap
    assert "b=AS:8000" not in capped


def test_bandwidth_lines_sit_after_the_connection_line_and_before_attributes() -> None:
    _, camera, screen = _section_lines(cap_bandwidth(OFFER, "video", 300_000))
    assert camera[1].startswith("c=") and camera[2:4] == ["b=AS:300", "b=TIAS:300000"]
    assert screen[1:3] == ["b=AS:300", "b=TIAS:300000"]  # no c= line: right after m=
    assert camera[4] == "a=mid:1"


def test_the_sections_read_the_same_after_capping() -> None:
    before = [(s.kind, s.mid, s.direction) for s in sections(OFFER)]
    after = [(s.kind, s.mid, s.direction) for s in sections(cap_bandwidth(OFFER, "video", 1))]
    assert before == after
    assert cap_bandwidth(OFFER, "video", 1).endswith("\r\n")
