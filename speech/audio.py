"""Audio files as bytes: what they are (read from the bytes, never the name), their samples as
16 kHz mono PCM, and where their silences are.

A long recording is never decoded whole: `pcm_blocks` decodes a file as it reads it, `levels`
keeps only each 30 ms frame's loudness (where `utterances_in` finds the silences), and `slices`
hands over the samples of chosen spans from a second decode, dropping the rest as it goes.

Everything here is synchronous and CPU-bound (PyAV decoding): callers run it off the event
loop. Silence detection uses the mean absolute amplitude of 30 ms frames, computed on every
fourth sample with built-ins only, so an hour of audio is scanned in a couple of seconds
without numpy.
"""

from __future__ import annotations

import heapq
import io
import os
import struct
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import av
import av.error

__all__ = [
    "BLOCK_SAMPLES",
    "FORMATS",
    "FORMAT_NAMES",
    "RATE",
    "SNIFF_BYTES",
    "AudioInfo",
    "NotAudio",
    "Source",
    "Span",
    "chunks",
    "cover",
    "decode_pcm",
    "levels",
    "pcm_blocks",
    "probe",
    "slices",
    "sniff",
    "utterances",
    "utterances_in",
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

FORMAT_NAMES: dict[str, str] = {"mp3": "MP3", "wav": "WAV", "m4a": "M4A", "webm": "WebM",
                                "ogg": "OGG"}
"""What a user calls each stored extension of `FORMATS` (in messages; in `FORMATS`' order)."""

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


BLOCK_SAMPLES = _FRAME * 1000
"""Samples per block of `pcm_blocks`: 30 s, a whole number of silence-detection frames."""


def pcm_blocks(data: Source, *, block_samples: int = BLOCK_SAMPLES) -> Iterator[bytes]:
    """The samples of `decode_pcm`, decoded as they are read: blocks of exactly `block_samples`
    (a multiple of the 30 ms frame), the last one shorter. Holds one block and one decoded
    frame at a time, so a recording of any length decodes in bounded memory; decoding the same
    source twice yields the same samples (the decoder and resampler are deterministic).

    Raises:
        NotAudio: the source does not open or not a single frame decodes (a stream that breaks
            after some frames ends there, as `decode_pcm` does).
    """
    if block_samples <= 0 or block_samples % _FRAME:
        raise ValueError(f"block_samples must be a positive multiple of {_FRAME}")
    size = block_samples * 2
    buffer = bytearray()
    produced = False
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    with _open(data) as container:
        if not container.streams.audio:
            raise NotAudio("no audio stream")
        frames = container.decode(container.streams.audio[0])
        while True:
            try:
                frame = next(frames, None)
            except (av.error.FFmpegError, ValueError) as exc:
                if not produced:
                    raise NotAudio("the audio stream does not decode") from exc
                frame = None
            for part in resampler.resample(frame):
                buffer += bytes(part.planes[0])[: part.samples * 2]
                produced = produced or part.samples > 0
            while len(buffer) >= size:
                with memoryview(buffer) as view:
                    block = view[:size].tobytes()
                del buffer[:size]
                yield block
            if frame is None:
                break
    if buffer:
        yield bytes(buffer)


def decode_pcm(data: Source) -> bytes:
    """Every sample of the first audio stream as 16 kHz mono signed 16-bit little-endian PCM,
    in memory (a short recording; a long one goes through `pcm_blocks`).

    Raises:
        NotAudio: the bytes do not open or decode.
    """
    return b"".join(pcm_blocks(data))


def levels(data: Source) -> tuple[array[int], int]:
    """The loudness of every 30 ms frame of the decoded audio and its number of samples: what
    `utterances_in` needs, from one streamed decode (4 bytes a frame: 0.5 MB for an hour)."""
    out: array[int] = array("i")
    total = 0
    for block in pcm_blocks(data):
        out.extend(_levels(block))
        total += len(block) // 2
    return out, total


def slices(data: Source, spans: Iterable[Span]) -> Iterator[tuple[Span, bytearray]]:
    """The PCM of each of `spans` (in order, not overlapping), from a second streamed decode:
    only the current span and one block are held; samples between spans are dropped as they
    come. A span past the end of the audio is cut short."""
    blocks = pcm_blocks(data)
    carry = memoryview(b"")  # decoded, not yet consumed: the rest of the latest block
    first = 0  # the sample at carry[0]
    for span in spans:
        if span.start < first:
            raise ValueError("spans must be in order and not overlap")
        out = bytearray()
        while True:
            skip = min(max(span.start - first, 0), len(carry) // 2)
            take = max(min(span.end - first - skip, len(carry) // 2 - skip), 0)
            out += carry[skip * 2 : (skip + take) * 2]
            carry = carry[(skip + take) * 2 :]
            first += skip + take
            if first >= span.end:
                break
            block = next(blocks, None)  # `carry` is used up: the span goes on in the next one
            if block is None:
                break
            carry = memoryview(block)
        # Handed over, not kept: once the caller drops the samples, nothing holds them.
        yield Span(span.start, span.start + len(out) // 2), out
        del out


def _levels(pcm: bytes) -> array[int]:
    samples = array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    n = _FRAME // _STRIDE
    return array("i", (sum(map(abs, samples[i : i + _FRAME : _STRIDE])) // n
                       for i in range(0, len(samples), _FRAME)))


def utterances(pcm: bytes, *, min_silence: float = 0.3, max_seconds: float = 20.0,
               pad: float = 0.15) -> list[Span]:
    """`utterances_in` of PCM held in memory."""
    return utterances_in(_levels(pcm), len(pcm) // 2, min_silence=min_silence,
                         max_seconds=max_seconds, pad=pad)


def utterances_in(levels: Sequence[int], total: int, *, min_silence: float = 0.3,
                  max_seconds: float = 20.0, pad: float = 0.15) -> list[Span]:
    """The stretches of audio with sound in them, from its frame `levels` (see `levels`) and
    its `total` samples: cut in the middle of silences that last at least `min_silence`
    seconds, none longer than `max_seconds` (a longer stretch is cut at its quietest frame).
    Silence is relative to the recording's loud frames, so a quiet recording is cut as well as
    a loud one; all-silent audio has no utterance."""
    if not levels:
        return []
    # The 95th percentile, from the loudest 5 % only (an hour has 120 000 frames).
    above = len(levels) - int(len(levels) * 0.95)
    loud = heapq.nlargest(above, levels)[-1]
    threshold = max(60, loud // 12)
    min_run = max(1, round(min_silence * 1000 / 30))
    spans: list[tuple[int, int]] = []  # frame ranges
    start: int | None = None
    quiet = 0
    for i, level in enumerate(levels):
        if level > threshold:
            if start is None:
                start = i
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= min_run:
                spans.append((start, i - quiet + 1))
                start, quiet = None, 0
    if start is not None:
        spans.append((start, len(levels) - quiet))
    padding = round(pad * 1000 / 30)
    frames: list[tuple[int, int]] = []
    for a, b in spans:
        frames.extend(_split_long(levels, max(a - padding, 0),
                                  min(b + padding, len(levels)), max_seconds))
    return [Span(a * _FRAME, min(b * _FRAME, total)) for a, b in frames]


def _split_long(levels: Sequence[int], a: int, b: int, max_seconds: float) -> list[tuple[int, int]]:
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


def cover(spans: list[Span], total: int, *, max_pad: int | None = None) -> list[Span]:
    """`spans` widened to cover all `total` samples, each gap split at its middle: a decoder
    that adapts to the recording (PocketSphinx's cepstral mean) hears its silences too. With
    `max_pad`, a span takes at most that many samples of silence on either side, so no span
    is longer than its sound plus ``2 * max_pad`` (a long silence is left out)."""
    out: list[Span] = []
    for i, span in enumerate(spans):
        start = 0 if i == 0 else out[-1].end
        end = total if i == len(spans) - 1 else (span.end + spans[i + 1].start) // 2
        if max_pad is not None:
            start = max(start, span.start - max_pad)
            end = min(end, span.end + max_pad)
        out.append(Span(start, max(end, start)))
    return out


def wav_bytes(pcm: bytes | bytearray) -> bytes:
    """`pcm` (16 kHz mono 16-bit) as a WAV file (one copy of it: no intermediate buffer)."""
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16,
                         1, 1, RATE, RATE * 2, 2, 16, b"data", len(pcm))
    return header + pcm
