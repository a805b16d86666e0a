"""Reading audio back in media tests: decoded samples and the power of one frequency."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import av


def decoded_mono(path: Path, stream_index: int = 0) -> list[float]:
    """The samples of one audio stream, mono float at 48 kHz, from time 0."""
    out: list[float] = []
    resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
    with av.open(str(path)) as container:
        stream = container.streams.audio[stream_index]
        for frame in container.decode(stream):
            start = round(float(frame.pts * frame.time_base) * 48000) if frame.pts else 0
            for mono in resampler.resample(frame):
                if len(out) < start:
                    out.extend([0.0] * (start - len(out)))
                out.extend(struct.unpack(f"<{mono.samples}f", bytes(mono.planes[0])[
                    : mono.samples * 4]))
    return out


def tone_power(samples: list[float], freq: float, begin: float, end: float) -> float:
    """Goertzel power of ``freq`` in ``samples[begin s : end s]``, per sample."""
    window = samples[round(begin * 48000):round(end * 48000)]
    coeff = 2 * math.cos(2 * math.pi * freq / 48000)
    s1 = s2 = 0.0
    for x in window:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(1, len(window)) ** 2
