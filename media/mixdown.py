"""The stored recording, made once after a recording stops from its parts (``RecordedPart``).

The live path only remuxes (``media.recording``): each voice and the presenter's video are
files of their own. Browsers play only the first audio track of a file, and transcription
reads one, so ``finish`` decodes every voice, mixes them (PyAV's ``amix``, no normalisation:
voices keep their level, clipping only when several are loud at once) and encodes the mix as
Opus: the one transcoding step, run once per recording in a worker process, never per packet.

The finished WebM holds, in this order: the mix (the first audio track: what a browser plays),
the presenter's video (copied), and every voice (copied: one Opus track per user heard, for
whoever wants them apart). Streams are written interleaved by time, reading every input once,
so memory stays bounded whatever the length. Parts are deleted afterwards, success or not.

Timeline: every part's timestamps count from the recording's start. A voice is fed to the mix
from time 0, silence filling what is before its first packet and every gap (a publisher that
left, a mute), so the voices stay aligned.
"""

from __future__ import annotations

import contextlib
import heapq
import logging
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.recording import RecordedFile, RecordedPart

__all__ = ["finish"]

log = logging.getLogger(__name__)

RATE = 48000
_TB = Fraction(1, RATE)
_GAP_CHUNK = 960  # samples of silence per frame filled into a gap (20 ms)


def finish(parts: Sequence[RecordedPart], path: Path) -> RecordedFile:
    """Write the stored recording of ``parts`` to ``path`` and delete the parts.

    Synchronous and CPU-bound (decodes and encodes the audio once): run it in a worker process
    (``anyio.to_process``); about 0.01 s per second of each voice here.
    """
    try:
        voices = [p for p in parts if p.kind == "audio"]
        video = next((p for p in parts if p.kind == "video"), None)
        mix = path.with_name(f"{path.stem}.mix.part.webm")
        try:
            if voices:
                _mix(voices, mix)
            inputs = ([mix] if voices else []) + ([video.path] if video else []) + [
                v.path for v in voices]
            _interleave(inputs, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                mix.unlink()
    finally:
        for part in parts:
            with contextlib.suppress(FileNotFoundError):
                part.path.unlink()
    duration = (max(p.last for p in parts) - min(p.first for p in parts)) if parts else 0.0
    size = path.stat().st_size if path.exists() else 0
    return RecordedFile(path, round(duration, 3), size, video is not None, len(voices))


def _silence(samples: int, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="flt", layout="mono", samples=samples)
    frame.planes[0].update(bytes(samples * 4))
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = _TB
    return frame


def _pcm(path: Path) -> Iterator[av.AudioFrame]:
    """One voice as mono float frames at 48 kHz, continuous from sample 0 (gaps filled)."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    position = 0  # the next sample this stream owes
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.pts is None or packet.time_base is None:
                continue
            start = round(packet.pts * packet.time_base * RATE)
            for decoded in packet.decode():
                for frame in resampler.resample(decoded):
                    while position < start:  # a gap: silence up to the packet
                        n = min(_GAP_CHUNK, start - position)
                        yield _silence(n, position)
                        position += n
                    frame.pts, frame.time_base = position, _TB
                    position += frame.samples
                    yield frame
                    start = position


def _tagged(index: int, frames: Iterator[av.AudioFrame],
            ) -> Iterator[tuple[int, int, av.AudioFrame]]:
    for frame in frames:
        yield int(frame.pts or 0), index, frame


def _mix(voices: Sequence[RecordedPart], out: Path) -> None:
    graph = av.filter.Graph()
    sources = [graph.add_abuffer(format="flt", sample_rate=RATE, layout="mono", time_base=_TB)
               for _ in voices]
    amix = graph.add("amix", f"inputs={len(voices)}:duration=longest:normalize=0")
    sink = graph.add("abuffersink")
    for index, source in enumerate(sources):
        source.link_to(amix, 0, index)
    amix.link_to(sink)
    graph.configure()
    with av.open(str(out), mode="w", format="webm") as container:
        stream: Any = container.add_stream("libopus", rate=RATE)
        stream.layout = "mono"

        def drain() -> None:
            while True:
                try:
                    mixed = sink.pull()
                except (av.BlockingIOError, av.EOFError):
                    return
                for packet in stream.encode(mixed):
                    container.mux(packet)

        streams = [_tagged(index, _pcm(v.path)) for index, v in enumerate(voices)]
        for _, index, frame in heapq.merge(*streams, key=lambda e: (e[0], e[1])):
            sources[index].push(frame)
            drain()
        for source in sources:
            source.push(None)
        drain()
        for packet in stream.encode(None):
            container.mux(packet)


def _interleave(inputs: Sequence[Path], out: Path) -> None:
    """Copy the first stream of each input into ``out``, in that order, interleaved by time."""
    opened = [av.open(str(p)) for p in inputs]
    try:
        with av.open(str(out), mode="w", format="webm") as container:
            targets = [container.add_stream_from_template(c.streams[0]) for c in opened]

            def packets(index: int) -> Iterator[tuple[float, int, av.Packet[Any]]]:
                source = opened[index]
                for packet in source.demux(source.streams[0]):
                    if packet.pts is None or packet.time_base is None or packet.size == 0:
                        continue
                    yield float(packet.pts * packet.time_base), index, packet

            for _, index, packet in heapq.merge(*(packets(i) for i in range(len(opened))),
                                                key=lambda e: (e[0], e[1])):
                packet.stream = targets[index]
                container.mux(packet)
    finally:
        for source in opened:
            source.close()
