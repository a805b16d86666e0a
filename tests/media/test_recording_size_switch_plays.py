"""A recorded video track that changes size at a keyframe (the presenter's camera, then their
screen: ``media.recording``) plays through in Chromium, which follows the size in band."""

from __future__ import annotations

import fractions
from pathlib import Path

import av
from playwright.async_api import async_playwright

from media.recording import TrackRemux
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, missing

PAGE = """<!doctype html><title>recording</title>
<video id="v" src="recording.webm" muted playsinline></video>
<script>
window.seen = []
const v = document.getElementById('v')
const note = () => {
  const s = `${v.videoWidth}x${v.videoHeight}`
  if (window.seen[window.seen.length - 1] !== s) window.seen.push(s)
  if (!v.ended) v.requestVideoFrameCallback(note)
}
v.requestVideoFrameCallback(note)
v.addEventListener('ended', () => { window.done = v.currentTime })
v.play()
</script>"""


def _vp8(size: tuple[int, int], frames: int, start_pts: int) -> list[av.Packet]:
    """VP8 packets as the relay forwards them: 15 fps, RTP clock (90 kHz), first a keyframe."""
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = *size, "yuv420p"
    codec.time_base = fractions.Fraction(1, 15)
    codec.framerate = fractions.Fraction(15)
    out = []
    for i in range(frames + 1):
        frame = None if i == frames else av.VideoFrame(*size, "yuv420p")
        if frame is not None:
            for plane in frame.planes:
                plane.update(bytes([(i * 8) % 256]) * plane.buffer_size)
            frame.pts = i
        for encoded in codec.encode(frame):
            packet = av.Packet(bytes(encoded))
            packet.pts = start_pts + int(encoded.pts or 0) * 6000
            packet.time_base = fractions.Fraction(1, 90000)
            packet.is_keyframe = encoded.is_keyframe
            out.append(packet)
    return out


async def test_chromium_plays_a_track_whose_size_changes_at_a_keyframe(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM}")
    remux = TrackRemux(tmp_path / "recording.webm", "video", 0.0)
    camera, screen = object(), object()  # two outlets: two segments of the one part
    for index, packet in enumerate(_vp8((320, 240), 30, 1_000)):
        remux.write(camera, packet, index / 15)
    for index, packet in enumerate(_vp8((640, 360), 30, 77_000)):
        remux.write(screen, packet, 2 + index / 15)
    assert remux.close() is not None
    (tmp_path / "index.html").write_text(PAGE)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                   args=[*CHROMIUM_ARGS,
                                                         "--allow-file-access-from-files"])
        try:
            page = await browser.new_page()
            await page.goto((tmp_path / "index.html").as_uri())
            await page.wait_for_function("window.done !== undefined", timeout=20_000)
            seen = await page.evaluate("window.seen")
            played = await page.evaluate("window.done")
        finally:
            await browser.close()
    assert seen == ["320x240", "640x360"], seen
    assert played > 3.5  # both segments played: 2 s of camera, then 2 s of screen
