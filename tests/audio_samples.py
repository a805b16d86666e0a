"""Audio made here for the tests: tones, and real speech from espeak-ng, encoded by PyAV.

espeak-ng is a Debian package (the Makefile's ``system-deps`` installs it); its ``en-us+f2``
voice is the one the offline engine understands best (bench/transcription.py measures it).
"""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import wave
from array import array
from fractions import Fraction

import av
import pytest

RATE = 16_000
VOICE = "en-us+f2"


def tone_pcm(seconds: float, *, hz: float = 440.0, rate: int = RATE) -> bytes:
    samples = array("h", (int(8000 * math.sin(2 * math.pi * hz * i / rate))
                          for i in range(int(seconds * rate))))
    return samples.tobytes()


def wav(pcm: bytes, *, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    return buffer.getvalue()


def spoken_wav(text: str, *, speed: int = 130) -> bytes:
    """`text` spoken by espeak-ng (skips the test when espeak-ng is not installed)."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (make system-deps)")
    result = subprocess.run(
        ["espeak-ng", "-v", VOICE, "-s", str(speed), "--stdout", text],
        check=True, capture_output=True, timeout=60,
    )
    return result.stdout


_CODECS = {"mp3": ("mp3", "libmp3lame", 44_100), "webm": ("webm", "libopus", 48_000),
           "ogg": ("ogg", "libopus", 48_000), "m4a": ("ipod", "aac", 44_100)}


def encoded(wav_bytes: bytes, fmt: str) -> bytes:
    """A WAV file re-encoded as mp3, webm (Opus), ogg (Opus) or m4a (AAC) by PyAV."""
    if fmt == "wav":
        return wav_bytes
    container_format, codec, rate = _CODECS[fmt]
    out = io.BytesIO()
    with av.open(io.BytesIO(wav_bytes)) as source, \
            av.open(out, mode="w", format=container_format) as target:
        stream = target.add_stream(codec, rate=rate)
        stream.layout = "mono"  # type: ignore[union-attr]
        stream.time_base = Fraction(1, rate)
        resampler = av.AudioResampler(format=stream.format.name,  # type: ignore[union-attr]
                                      layout="mono", rate=rate)
        for frame in source.decode(audio=0):
            frame.pts = None
            for part in resampler.resample(frame):
                target.mux(stream.encode(part))  # type: ignore[union-attr]
        for part in resampler.resample(None):
            target.mux(stream.encode(part))  # type: ignore[union-attr]
        target.mux(stream.encode(None))  # type: ignore[union-attr]
    return out.getvalue()
