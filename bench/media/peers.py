"""aiortc peers for the media benchmark, run inside a network namespace (bench/media/run.py).

``peers.py publish``: one publisher, 640x480 at 30 fps VP8 (the frame index drawn as 16
black/white blocks along the top, over a moving gradient so the encoder has real work) and
Opus. It records when each index left (``time.monotonic``, one clock for every namespace).

``peers.py subscribe N PUBLISHER_ID probe|count``: N subscribers of the publisher's camera
and audio. With ``probe``, subscriber 0 decodes its video and notes when each index first
shows (the latency probe); the others count encoded frames without decoding
(``media.passthrough`` on the receiving side), so the subscribers' own CPU does not drown the
server's on a small machine.

Lines of JSON on stdout (offers, reports), commands on stdin (answers, ``report``, ``stop``).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

from media import passthrough

WIDTH, HEIGHT, FPS, BITS, BLOCK_H = 640, 480, 30, 16, 40
BLOCK_W = WIDTH // BITS


def emit(**event: Any) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


class IndexedVideo(VideoStreamTrack):
    """640x480 at 30 fps with the frame index in the top row of blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.index = 0
        self.sent: dict[int, float] = {}
        self._ramp = bytes(int(255 * x / WIDTH) for x in range(WIDTH)) * 2
        self._chroma = bytes([128]) * (WIDTH * HEIGHT // 4)

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        self.index += 1
        shift = (self.index * 8) % WIDTH
        row = self._ramp[shift:shift + WIDTH]
        blocks = b"".join((b"\xff" if (self.index >> bit) & 1 else b"\x00") * BLOCK_W
                          for bit in range(BITS))
        luma = blocks * BLOCK_H + row * (HEIGHT - BLOCK_H)
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        frame.planes[0].update(luma)
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        frame.pts, frame.time_base = pts, time_base
        self.sent[self.index % 65536] = time.monotonic()
        return frame


def read_index(frame: av.VideoFrame) -> int:
    """The index drawn by ``IndexedVideo`` (the middle of each block, in the luma plane)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    luma, stride = bytes(plane), plane.line_size
    index = 0
    for bit in range(BITS):
        if luma[(BLOCK_H // 2) * stride + bit * BLOCK_W + BLOCK_W // 2] > 128:
            index |= 1 << bit
    return index


async def gathered(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def lines(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise SystemExit(0)
    return dict(json.loads(line))


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)  # (50 answers are one line)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    role = sys.argv[1]
    pcs: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []
    frames: list[int] = []
    seen: dict[int, float] = {}
    video: IndexedVideo | None = None
    offers = []
    if role == "publish":
        pc = RTCPeerConnection()
        pcs.append(pc)
        video = IndexedVideo()
        a = pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        v = pc.addTransceiver(video, direction="sendonly")
        sdp = await gathered(pc)
        offers.append({"sdp": sdp, "tracks": [{"mid": a.mid, "source": "audio"},
                                              {"mid": v.mid, "source": "camera"}]})
    else:
        count, publisher, probe = int(sys.argv[2]), sys.argv[3], sys.argv[4] == "probe"
        passthrough.install()
        frames = [0] * count

        async def consume(i: int, track: MediaStreamTrack, decode: bool) -> None:
            while True:
                try:
                    got = await track.recv()
                except Exception:
                    return
                frames[i] += 1
                if decode and isinstance(got, av.VideoFrame):
                    seen.setdefault(read_index(got), time.monotonic())

        for i in range(count):
            pc = RTCPeerConnection()
            pcs.append(pc)
            a = pc.addTransceiver("audio", direction="recvonly")
            v = pc.addTransceiver("video", direction="recvonly")

            def on_track(track: MediaStreamTrack, i: int = i) -> None:
                if track.kind != "video":
                    passthrough.forward_encoded(track)
                    tasks.append(asyncio.ensure_future(_drain(track)))
                    return
                decode = probe and i == 0
                if not decode:
                    passthrough.forward_encoded(track)
                tasks.append(asyncio.ensure_future(consume(i, track, decode)))

            pc.on("track", on_track)
            sdp = await gathered(pc)
            offers.append({"sdp": sdp, "tracks": [
                {"mid": a.mid, "userId": publisher, "source": "audio"},
                {"mid": v.mid, "userId": publisher, "source": "camera"}]})
    emit(offers=offers)
    answers = (await lines(reader))["answers"]
    for pc, answer in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    while True:
        command = await lines(reader)
        if command.get("cmd") == "report":
            states = [pc.connectionState for pc in pcs]
            emit(report=True, states=states, frames=frames,
                 sent=video.index if video else 0,
                 times={str(k): v for k, v in (video.sent if video else seen).items()})
        elif command.get("cmd") == "stop":
            break
    for task in tasks:
        task.cancel()
    for pc in pcs:
        await pc.close()


async def _drain(track: MediaStreamTrack) -> None:
    while True:
        try:
            await track.recv()
        except Exception:
            return


if __name__ == "__main__":
    asyncio.run(main())
