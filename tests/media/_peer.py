"""An aiortc client for the relay tests, run as a subprocess inside its own network namespace.

It speaks JSON lines: on stdout its offer (``{"offer", "tracks"}``) and then events; on stdin
the answer (``{"answer"}``) and then commands (``report``, ``stop``). The test carries the
offer and the answer over the room's socket, so the subprocess needs no signaling of its own.

    python _peer.py publish audio,camera
    python _peer.py publish audio@440,camera   (audio: a 440 Hz tone; audio@0: silence)
    python _peer.py publish camera@still       (a still picture: tens of kbit/s of VP8)
    python _peer.py publish camera@noise       (random pixels: what aiortc's encoder allows)
    python _peer.py subscribe <userId>:camera,<userId>:audio

A publisher renegotiates on ``{"cmd": "publish", "sources": [...]}``: a source left out stops
(its m-line goes inactive), a new one gets a new m-line; it then prints a new offer and waits
for the answer, as at the start.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import math
import os
import struct
import sys
import time
from typing import Any

import av
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError, MediaStreamTrack

WIDTH, HEIGHT, FPS = 320, 240, 15


class Pattern(MediaStreamTrack):
    """A gradient, moving or ``still``, or random ``noise``, 320x240 (a screen 480x272) at
    15 fps."""

    kind = "video"

    def __init__(self, look: str = "", size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
        super().__init__()
        self.look = look
        self.width, self.height = size
        self.count = 0
        self._start: float | None = None
        row = bytes((x * 255 // self.width) for x in range(self.width))
        self._luma = row * self.height

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.count / FPS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        width, height = self.width, self.height
        shift = 0 if self.look == "still" else (self.count * 4) % width
        luma = self._luma[shift:] + self._luma[:shift]
        if self.look == "noise":
            luma = os.urandom(width * height)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(luma)
        frame.planes[1].update(bytes([128]) * (width * height // 4))
        frame.planes[2].update(bytes([128]) * (width * height // 4))
        frame.pts = self.count * (90000 // FPS)
        frame.time_base = fractions.Fraction(1, 90000)
        self.count += 1
        return frame


class Tone(MediaStreamTrack):
    """A sine tone (``freq`` Hz; 0: silence), 48 kHz mono in 20 ms frames, in real time."""

    kind = "audio"

    def __init__(self, freq: int) -> None:
        super().__init__()
        self.count = 0
        self._start: float | None = None
        # One second holds a whole number of cycles of any integer frequency: loop over it.
        self._second = b"".join(
            struct.pack("<h", round(12000 * math.sin(2 * math.pi * freq * n / 48000)))
            for n in range(48000))

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self.count * 0.02 - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        offset = (self.count % 50) * 960 * 2
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(self._second[offset:offset + 960 * 2])
        frame.sample_rate = 48000
        frame.pts = self.count * 960
        frame.time_base = fractions.Fraction(1, 48000)
        self.count += 1
        return frame


def _track(source: str) -> MediaStreamTrack:
    name, _, freq = source.partition("@")
    if name == "audio":
        return Tone(int(freq)) if freq else AudioStreamTrack()
    return Pattern(freq, (480, 272) if name == "screen" else (WIDTH, HEIGHT))


def emit(**event: Any) -> None:
    print(json.dumps(event), flush=True)


async def read_line(reader: asyncio.StreamReader) -> dict[str, Any]:
    line = await reader.readline()
    if not line:
        return {"cmd": "stop"}
    value: dict[str, Any] = json.loads(line)
    return value


async def main() -> None:
    role, spec = sys.argv[1], sys.argv[2]
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    # max-bundle: aiortc's "balanced" loses a second video m-line behind an audio one
    # (docs/hazards.md).
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    connected_at: list[float] = []
    frames: dict[str, int] = {}
    consumers: list[asyncio.Task[None]] = []

    @pc.on("connectionstatechange")
    def on_state() -> None:
        if pc.connectionState == "connected" and not connected_at:
            connected_at.append(time.monotonic())
            emit(event="connected")
        elif pc.connectionState in ("failed", "closed"):
            emit(event=pc.connectionState)

    sources: dict[Any, str] = {}
    if role == "publish":
        for source in spec.split(","):
            sources[pc.addTransceiver(_track(source), direction="sendonly")] = \
                source.partition("@")[0]
    else:
        for want in spec.split(","):
            source = want.rsplit(":", 1)[1]
            kind = "audio" if source == "audio" else "video"
            sources[pc.addTransceiver(kind, direction="recvonly")] = want

    async def consume(name: str, track: MediaStreamTrack) -> None:
        frames[name] = 0
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                emit(event="ended", source=name, frames=frames[name])
                return
            frames[name] += 1
            if frames[name] == 1:
                since = time.monotonic() - connected_at[0] if connected_at else None
                emit(event="first", source=name, after_connected=since)

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        for transceiver, name in sources.items():
            if transceiver.receiver.track is track:
                consumers.append(asyncio.ensure_future(consume(name, track)))

    async def negotiate() -> None:
        await pc.setLocalDescription(await pc.createOffer())
        tracks = []
        for transceiver, name in sources.items():
            if transceiver.direction == "inactive":
                continue
            if role == "publish":
                tracks.append({"mid": transceiver.mid, "source": name})
            else:
                user_id, source = name.rsplit(":", 1)
                tracks.append({"mid": transceiver.mid, "userId": user_id, "source": source})
        emit(offer=pc.localDescription.sdp, tracks=tracks)
        answer = await read_line(reader)
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=answer["answer"], type="answer"))

    await negotiate()
    while True:
        command = await read_line(reader)
        if command.get("cmd") == "report":
            emit(event="report", frames=frames)
        elif command.get("cmd") == "publish":
            wanted = set(command["sources"])
            for transceiver, name in sources.items():
                if name not in wanted and transceiver.direction != "inactive":
                    transceiver.sender.replaceTrack(None)
                    transceiver.direction = "inactive"
            live = {n for t, n in sources.items() if t.direction != "inactive"}
            for source in sorted(wanted - live):
                sources[pc.addTransceiver(_track(source), direction="sendonly")] = source
            await negotiate()
        elif command.get("cmd") == "stop":
            break
    for task in consumers:
        task.cancel()
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
