"""The finishing step of a recording: voices recorded apart are mixed into one Opus track that
comes first (what a browser plays), with the video and every voice copied after it."""

from __future__ import annotations

import math
import struct
from fractions import Fraction
from pathlib import Path

import av

from media.mixdown import finish
from media.recording import RecordedPart
from tests.media._audio import decoded_mono, tone_power


def _tone_part(path: Path, freq: float, start: float, seconds: float) -> RecordedPart:
    """An Opus-in-WebM part like the relay writes: a tone from ``start`` (s) on."""
    samples = 960
    with av.open(str(path), "w", format="webm") as container:
        stream = container.add_stream("libopus", rate=48000)
        stream.layout = "stereo"
        origin = round(start * 48000)
        for k in range(int(seconds * 50)):
            values = (round(8000 * math.sin(2 * math.pi * freq * (k * samples + j) / 48000))
                      for j in range(samples))
            frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
            frame.planes[0].update(b"".join(struct.pack("<hh", v, v) for v in values))
            frame.sample_rate = 48000
            frame.pts, frame.time_base = origin + k * samples, Fraction(1, 48000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return RecordedPart("audio", path.stem, path, start, start + seconds, int(seconds * 50))


def test_voices_are_mixed_into_the_first_track(tmp_path: Path) -> None:
    low = _tone_part(tmp_path / "low.part.webm", 440, 0.0, 3.0)
    high = _tone_part(tmp_path / "high.part.webm", 1000, 1.0, 3.0)

    recorded = finish([low, high], tmp_path / "out.webm")

    assert (recorded.duration, recorded.video, recorded.voices) == (4.0, False, 2)
    assert not low.path.exists() and not high.path.exists()  # parts are deleted
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.webm"]
    with av.open(str(recorded.path)) as container:
        assert [s.codec_context.name for s in container.streams] == ["opus"] * 3
        assert 3.9 < float(container.duration or 0) / av.time_base < 4.2
    mix = decoded_mono(recorded.path)
    only_low, both, only_high = (0.2, 0.9), (1.5, 2.8), (3.2, 3.9)
    floor = 1e-6
    assert tone_power(mix, 440, *only_low) > 100 * max(floor, tone_power(mix, 1000, *only_low))
    assert tone_power(mix, 440, *both) > 1e-3 and tone_power(mix, 1000, *both) > 1e-3
    assert tone_power(mix, 1000, *only_high) > 100 * max(floor, tone_power(mix, 440, *only_high))
    # The copied voices are the originals: the second holds the high tone only.
    voice = decoded_mono(recorded.path, 2)
    assert tone_power(voice, 1000, *both) > 100 * max(floor, tone_power(voice, 440, *both))
