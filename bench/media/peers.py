"""aiortc peers for the media benchmark, run inside a network namespace (bench/media/run.py).

``peers.py publish``: one publisher, 640x480 at 30 fps VP8 (the frame index drawn as 16
black/white blocks along the top, over a moving gradient so the encoder has real work) and
Opus. It records when each index left (``time.monotonic``, one clock for every namespace).

``peers.py subscribe probe N PUBLISHER_ID``: N *probes*, full aiortc subscribers of the
publisher's camera and audio: each decodes its video and notes when each index first shows
(end-to-end latency including the decode). Audio is received but not decoded.

``peers.py subscribe sink N PUBLISHER_ID``: N *sinks* (``sink.py``): the same offer, ICE, DTLS
and SRTP keys, but packets are unprotected and counted from their RTP headers instead of going
through aiortc's receiver, so one process holds many of them. A sink notes when the first
packet of each complete frame arrived and maps its RTP timestamp to the frame index through
one decoded keyframe (later keyframes check the mapping).

Lines of JSON on stdout (offers, reports), commands on stdin (answers, ``report`` with
``since``: only indices after it, ``stop``).
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

from bench.media.sink import Sink
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


def read_keyframe(data: bytes) -> int | None:
    """Decode one VP8 keyframe (a whole frame, descriptors removed) and read its index."""
    # A decoder of its own, drained: a shared one may hand back an earlier picture.
    codec = av.CodecContext.create("libvpx", "r")
    try:
        pictures = codec.decode(av.Packet(data)) + codec.decode(None)
    except av.error.FFmpegError:
        return None
    return read_index(pictures[0]) if len(pictures) == 1 else None


async def gathered(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def lines(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        raise SystemExit(0)
    return dict(json.loads(line))


def in_window(times: dict[int, float], since: int) -> dict[str, float]:
    """The times of indices after ``since`` (modulo 2**16, within half of it)."""
    return {str(k): v for k, v in times.items() if 0 < (k - since) % 65536 < 32768}


class Probe:
    """A full aiortc subscriber that decodes its video and reads the index of every picture."""

    def __init__(self, pc: RTCPeerConnection, tasks: list[asyncio.Task[None]]) -> None:
        self.frames = 0
        self.seen: dict[int, float] = {}
        self._tasks = tasks
        pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "video":
            passthrough.forward_encoded(track)
            self._tasks.append(asyncio.ensure_future(_drain(track)))
        else:
            self._tasks.append(asyncio.ensure_future(self._consume(track)))

    async def _consume(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                got = await track.recv()
            except Exception:
                return
            self.frames += 1
            if isinstance(got, av.VideoFrame):
                self.seen.setdefault(read_index(got), time.monotonic())

    def report(self, since: int) -> dict[str, Any]:
        return {"kind": "probe", "frames": self.frames, "times": in_window(self.seen, since)}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)  # (50 answers are one line)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    role = sys.argv[1]
    pcs: list[RTCPeerConnection] = []
    tasks: list[asyncio.Task[None]] = []
    probes: list[Probe] = []
    sinks: list[Sink] = []
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
        kind, count, publisher = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        passthrough.install()
        for _ in range(count):
            pc = RTCPeerConnection()
            pcs.append(pc)
            a = pc.addTransceiver("audio", direction="recvonly")
            v = pc.addTransceiver("video", direction="recvonly")
            if kind == "probe":
                probes.append(Probe(pc, tasks))
            sdp = await gathered(pc)
            offers.append({"sdp": sdp, "tracks": [
                {"mid": a.mid, "userId": publisher, "source": "audio"},
                {"mid": v.mid, "userId": publisher, "source": "camera"}]})
    emit(offers=offers)
    answers = (await lines(reader))["answers"]
    for pc, answer in zip(pcs, answers, strict=True):
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        if role == "subscribe" and sys.argv[2] == "sink":
            sink = Sink(pc, read_keyframe)
            sink.start()
            sinks.append(sink)
    if sinks:
        tasks.append(asyncio.ensure_future(_receiver_reports(sinks)))
    while True:
        command = await lines(reader)
        if command.get("cmd") == "report":
            since = int(command.get("since", 0))
            states = [pc.connectionState for pc in pcs]
            subscribers = [p.report(since) for p in probes] + [s.report(since) for s in sinks]
            emit(report=True, states=states, subscribers=subscribers,
                 sent=video.index if video else 0,
                 times=in_window(video.sent, since) if video else {})
        elif command.get("cmd") == "stop":
            break
    for task in tasks:
        task.cancel()
    for pc in pcs:
        await pc.close()


async def _receiver_reports(sinks: list[Sink]) -> None:
    """Every sink's RTCP receiver report, about once a second (RFC 3550 6.2's 0.5-1.5x)."""
    while True:
        await asyncio.sleep(0.5 + random.random())
        for sink in sinks:
            await sink.send_report()


async def _drain(track: MediaStreamTrack) -> None:
    while True:
        try:
            await track.recv()
        except Exception:
            return


if __name__ == "__main__":
    asyncio.run(main())
