"""Audio files as bytes: what they are (read from the bytes, never the name), their samples as
16 kHz mono PCM, and where their silences are.

Everything here is synchronous and CPU-bound (PyAV decoding): callers run it off the event
loop. Silence detection uses the mean absolute amplitude of 30 ms frames, computed on every
fourth sample with built-ins only, so an hour of audio is scanned in a couple of seconds
without numpy.
"""

from __future__ import annotations

import io
import os
import wave
from array import array
from dataclasses import dataclass
from typing import BinaryIO

import av
import av.error

__all__ = [
    "FORMATS",
    "RATE",
    "SNIFF_BYTES",
    "AudioInfo",
    "NotAudio",
    "Source",
    "Span",
    "chunks",
    "cover",
    "decode_pcm",
    "probe",
    "sniff",
    "utterances",
    "wav_bytes",
]

RATE = 16_000
"""Samples per second of the PCM this module produces (16-bit, mono)."""

# Container (PyAV's demuxer name) -> the extension we store it under and its content type.
FORMATS: dict[str, tuple[str, str]] = {
    "mp3": ("mp3", "audio/mpeg"),
    "wav": ("wav", "audio/wav"),
    "mov,mp4,m4a,3gp,3g2,mj2": ("m4a", "audio/mp4"),
    "matroska,webm": ("webm", "audio/webm"),
    "ogg": ("ogg", "audio/ogg"),
}

_FRAME = RATE * 30 // 1000  # 30 ms
_STRIDE = 4


class NotAudio(ValueError):
    """The bytes are not a recording in one of `FORMATS` with a decodable audio stream."""


@dataclass(frozen=True, slots=True)
class AudioInfo:
    ext: str
    content_type: str
    duration: float
    codec: str


@dataclass(frozen=True, slots=True)
class Span:
    """Samples [start, end) of the PCM."""

    start: int
    end: int

    @property
    def seconds(self) -> float:
        return (self.end - self.start) / RATE


Source = bytes | str | os.PathLike[str] | BinaryIO
"""Audio as bytes in memory, a file's path, or an open binary file (read from its start)."""


def _open(data: Source) -> av.container.InputContainer:
    if isinstance(data, bytes):
        source: str | os.PathLike[str] | BinaryIO = io.BytesIO(data)
    else:
        source = data
        if not isinstance(data, (str, os.PathLike)):
            data.seek(0)
    try:
        return av.open(source, mode="r")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise NotAudio("not a recognised audio file") from exc


def probe(data: Source) -> AudioInfo:
    """The format and duration of `data`, from its bytes (a large upload is probed from its
    temporary file: never read into memory whole).

    Raises:
        NotAudio: not one of `FORMATS`, no audio stream, or not a single packet decodes.
    """
    with _open(data) as container:
        kind = FORMATS.get(container.format.name)
        if kind is None or not container.streams.audio:
            raise NotAudio(f"unsupported format {container.format.name!r}")
        stream = container.streams.audio[0]
        duration = 0.0
        decoded = False
        try:
            for packet in container.demux(stream):
                if packet.duration and packet.time_base is not None:
                    duration = max(duration, float((packet.pts or 0) + packet.duration)
                                   * float(packet.time_base))
                if not decoded and packet.size:
                    decoded = bool(packet.decode())
        except (av.error.FFmpegError, ValueError) as exc:
            if not decoded:
                raise NotAudio("the audio stream does not decode") from exc
        if not decoded:
            raise NotAudio("the audio stream does not decode")
        if container.duration and container.duration > 0:
            duration = container.duration / av.time_base
        start = float(stream.start_time * stream.time_base) if stream.start_time and \
            stream.time_base else 0.0
        return AudioInfo(ext=kind[0], content_type=kind[1],
                         duration=round(max(duration - max(start, 0.0), 0.0), 3),
                         codec=stream.codec_context.name)


_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"ID3", "mp3"),
    (0, b"RIFF", "wav"),  # ...and "WAVE" at 8, checked below
    (4, b"ftyp", "m4a"),
    (0, b"\x1a\x45\xdf\xa3", "webm"),  # EBML: Matroska or WebM
    (0, b"OggS", "ogg"),
)
SNIFF_BYTES = 16
"""How many leading bytes `sniff` needs."""


def sniff(head: bytes) -> str | None:
    """The format the first bytes of a file announce (`SNIFF_BYTES` of them suffice), or None.

    A cheap first look (a ranged read of an object not yet downloaded); only `probe` decides.
    """
    if head[:4] == b"RIFF":
        return "wav" if head[8:12] == b"WAVE" else None
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE6 in (0xE2, 0xE4, 0xE6):
        return "mp3"  # an MPEG audio frame (layer I-III) without an ID3 tag
    return None


def decode_pcm(data: bytes) -> bytes:
    """Every sample of the first audio stream as 16 kHz mono signed 16-bit little-endian PCM.

    Raises:
        NotAudio: the bytes do not open or decode.
    """
    out = bytearray()
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with _open(data) as container:
        if not container.streams.audio:
            raise NotAudio("no audio stream")
        try:
            for frame in container.decode(container.streams.audio[0]):
                for part in resampler.resample(frame):
                    out += bytes(part.planes[0])[: part.samples * 2]
        except (av.error.FFmpegError, ValueError) as exc:
            if not out:
                raise NotAudio("the audio stream does not decode") from exc
        for part in resampler.resample(None):
            out += bytes(part.planes[0])[: part.samples * 2]
    return bytes(out)


def _levels(pcm: bytes) -> list[int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    n = _FRAME // _STRIDE
    return [sum(map(abs, samples[i : i + _FRAME : _STRIDE])) // n
            for i in range(0, len(samples), _FRAME)]


def utterances(pcm: bytes, *, min_silence: float = 0.3, max_seconds: float = 20.0,
               pad: float = 0.15) -> list[Span]:
    """The stretches of `pcm` with sound in them, cut in the middle of silences that last at
    least `min_silence` seconds, none longer than `max_seconds` (a longer stretch is cut at
    its quietest frame). Silence is relative to the recording's loud frames, so a quiet
    recording is cut as well as a loud one; all-silent audio has no utterance."""
    levels = _levels(pcm)
    if not levels:
        return []
    loud = sorted(levels)[int(len(levels) * 0.95)]
    threshold = max(60, loud // 12)
    voiced = [level > threshold for level in levels]
    min_run = max(1, round(min_silence * 1000 / 30))
    spans: list[tuple[int, int]] = []  # frame ranges
    start: int | None = None
    quiet = 0
    for i, is_voiced in enumerate(voiced):
        if is_voiced:
            if start is None:
                start = i
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= min_run:
                spans.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        spans.append((start, len(voiced) - quiet))
    padding = round(pad * 1000 / 30)
    frames: list[tuple[int, int]] = []
    for a, b in spans:
        frames.extend(_split_long(levels, max(a - padding, 0),
                                  min(b + padding, len(levels)), max_seconds))
    total = len(pcm) // 2
    return [Span(a * _FRAME, min(b * _FRAME, total)) for a, b in frames]


def _split_long(levels: list[int], a: int, b: int, max_seconds: float) -> list[tuple[int, int]]:
    limit = max(2, int(max_seconds * 1000 / 30))
    out: list[tuple[int, int]] = []
    while b - a > limit:
        lo = a + limit // 2  # cut in the second half of the window, at its quietest frame
        cut = min(range(lo, a + limit), key=lambda i: (levels[i], -i))
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out


def chunks(spans: list[Span], *, max_seconds: float) -> list[Span]:
    """Consecutive `spans` merged into chunks of at most `max_seconds` each (a chunk ends where
    one span ends, that is inside a silence; each span is itself at most `max_seconds`)."""
    limit = int(max_seconds * RATE)
    out: list[Span] = []
    for span in spans:
        if out and span.end - out[-1].start <= limit:
            out[-1] = Span(out[-1].start, span.end)
        else:
            out.append(span)
    return out


def cover(spans: list[Span], total: int) -> list[Span]:
    """`spans` widened to cover all `total` samples, each gap split at its middle: a decoder
    that adapts to the recording (PocketSphinx's cepstral mean) hears its silences too."""
    out: list[Span] = []
    for i, span in enumerate(spans):
        start = 0 if i == 0 else out[-1].end
        end = total if i == len(spans) - 1 else (span.end + spans[i + 1].start) // 2
        out.append(Span(start, max(end, start)))
    return out


def wav_bytes(pcm: bytes) -> bytes:
    """`pcm` (16 kHz mono 16-bit) as a WAV file."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm)
    return buffer.getvalue()
