"""The OpenAI engine: the `/audio/transcriptions` endpoint through the `openai` package.

Any OpenAI-compatible server works (`base_url`). The recording is sent as 16 kHz mono WAV
chunks, each under `max_chunk_bytes` (the API takes at most 25 MB a request), cut at silences
(`speech.audio.chunks`); each chunk's segment times are shifted by the chunk's offset, so the
segments are stitched back on the recording's own clock. The recording is never decoded whole:
a first streamed decode in a worker process places the silences (`speech.audio.levels`), a
second one in a thread yields one chunk's samples at a time (`speech.audio.slices`), encoded
and sent before the next is decoded, so one chunk is held at a time. Whisper
models are asked for ``verbose_json`` (timed segments with ``avg_logprob``, whose exponential
is the segment's confidence); ``gpt-*`` transcription models answer plain ``json``, one
segment per chunk.

The client retries 429, 5xx and lost connections itself (`max_retries`, exponential backoff
honouring ``Retry-After``); what still fails then is `TranscriptionRetryable` for the job to
retry later, any other refusal `TranscriptionFailed`. The `openai` package is imported when an
`OpenAITranscriber` is built: the embedded default never loads it.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_process
import anyio.to_thread

from speech.audio import (
    RATE,
    NotAudio,
    Source,
    Span,
    chunks,
    levels,
    slices,
    utterances_in,
    wav_bytes,
)
from speech.transcript import Segment, Transcript, TranscriptionFailed, TranscriptionRetryable

if TYPE_CHECKING:
    import openai

__all__ = ["API_MAX_BYTES", "OpenAITranscriber", "chunk_spans", "encoded_chunks"]

API_MAX_BYTES = 25 * 1024 * 1024
_WAV_HEADER = 44


@dataclass(frozen=True, slots=True)
class _Chunk:
    offset: float  # seconds from the start of the recording
    seconds: float
    wav: bytes


def chunk_spans(audio: Source, max_chunk_bytes: int) -> tuple[list[Span], float]:
    """Where to cut `audio` into chunks, and its duration (blocking: one streamed decode).

    Raises:
        TranscriptionFailed: the audio is not decodable.
    """
    try:
        loudness, total = levels(audio)
    except NotAudio as exc:
        raise TranscriptionFailed(f"the recording cannot be decoded: {exc}") from exc
    max_seconds = (max_chunk_bytes - _WAV_HEADER) / (2 * RATE)
    return (chunks(utterances_in(loudness, total, max_seconds=max_seconds),
                   max_seconds=max_seconds), total / RATE)


def encoded_chunks(audio: Source, spans: list[Span]) -> Generator[_Chunk, None, None]:
    """Each of `spans` as a WAV chunk, decoded and encoded when asked for (blocking)."""
    for span, pcm in slices(audio, spans):
        wav = wav_bytes(pcm)
        del pcm  # one chunk's samples held at a time, and only while they are encoded
        yield _Chunk(span.start / RATE, span.seconds, wav)
        del wav


class OpenAITranscriber:
    """A `Transcriber` calling an OpenAI-compatible transcription endpoint.

    Args:
        api_key: the service's key (never logged, never part of an error message).
        model: ``whisper-1``, ``gpt-4o-transcribe``, or the model name a compatible server uses.
        base_url: None for OpenAI itself.
        max_chunk_bytes: the largest request body's audio; at most `API_MAX_BYTES`.
        max_retries: the client's own retries of 429, 5xx and connection errors.
        timeout: seconds for one request.
    """

    name = "openai"

    def __init__(self, *, api_key: str, model: str = "whisper-1", base_url: str | None = None,
                 max_chunk_bytes: int = 24 * 1024 * 1024, max_retries: int = 3,
                 timeout: float = 600.0, language: str | None = None) -> None:
        import openai  # only with this engine (see the module docstring)

        if not 64 * 1024 <= max_chunk_bytes <= API_MAX_BYTES:
            raise ValueError(f"max_chunk_bytes must be between 64 KiB and {API_MAX_BYTES}")
        self._openai = openai
        self._client: openai.AsyncOpenAI = openai.AsyncOpenAI(api_key=api_key, base_url=base_url,
                                          max_retries=max_retries, timeout=timeout)
        self._model = model
        self._max_chunk_bytes = max_chunk_bytes
        self._language = language
        self._verbose = not model.startswith("gpt-")

    async def aclose(self) -> None:
        await self._client.close()

    async def transcribe(self, audio: Path | bytes, content_type: str) -> Transcript:
        """Transcribe `audio` (a file, never read whole, or bytes), chunk by chunk, in order.

        Raises:
            TranscriptionFailed: undecodable audio, or the service refused a chunk (4xx).
            TranscriptionRetryable: still rate limited, failing or unreachable after retries.
        """
        spans, duration = await anyio.to_process.run_sync(
            chunk_spans, audio, self._max_chunk_bytes
        )
        segments: list[Segment] = []
        language: str | None = self._language
        parts = encoded_chunks(audio, spans)
        try:
            for index in range(len(spans)):
                part = await anyio.to_thread.run_sync(next, parts, None)
                if part is None:
                    break
                found, spoken = await self._chunk(part, index)
                del part  # sent: dropped before the next chunk is decoded
                segments.extend(found)
                language = language or spoken
        except NotAudio as exc:  # the second decode failing where the first did not
            raise TranscriptionFailed(f"the recording cannot be decoded: {exc}") from exc
        finally:
            await anyio.to_thread.run_sync(parts.close)
        return Transcript.of(segments, language=language, engine=f"openai:{self._model}",
                             duration=duration)

    async def _chunk(self, part: _Chunk, index: int) -> tuple[list[Segment], str | None]:
        openai = self._openai
        options: dict[str, Any] = {}
        if self._language:
            options["language"] = self._language
        try:
            if self._verbose:
                verbose = await self._client.audio.transcriptions.create(
                    model=self._model, file=(f"chunk{index}.wav", part.wav, "audio/wav"),
                    response_format="verbose_json", timestamp_granularities=["segment"],
                    **options)
                return _segments(verbose, part), getattr(verbose, "language", None)
            plain = await self._client.audio.transcriptions.create(
                model=self._model, file=(f"chunk{index}.wav", part.wav, "audio/wav"),
                response_format="json", **options)
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            raise TranscriptionRetryable(
                f"the transcription service answered HTTP {exc.status_code}") from exc
        except openai.APIConnectionError as exc:  # includes timeouts
            raise TranscriptionRetryable("the transcription service is unreachable") from exc
        except openai.APIStatusError as exc:
            raise TranscriptionFailed(
                f"the transcription service refused the audio (HTTP {exc.status_code})") from exc
        text = plain.text.strip()
        return ([Segment(part.offset, round(part.offset + part.seconds, 2), text)]
                if text else []), None


def _segments(verbose: Any, part: _Chunk) -> list[Segment]:
    found = getattr(verbose, "segments", None) or []
    if not found:
        text = str(getattr(verbose, "text", "")).strip()
        return [Segment(part.offset, round(part.offset + part.seconds, 2), text)] if text else []
    out = []
    for seg in found:
        logprob = getattr(seg, "avg_logprob", None)
        start = min(max(float(seg.start), 0.0), part.seconds)
        end = min(max(float(seg.end), start), part.seconds)
        out.append(Segment(
            start=round(part.offset + start, 2),
            end=round(part.offset + end, 2),
            text=str(seg.text).strip(),
            confidence=None if logprob is None else round(min(math.exp(logprob), 1.0), 3),
        ))
    return out
