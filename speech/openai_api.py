"""The OpenAI engine: the `/audio/transcriptions` endpoint through the `openai` package.

Any OpenAI-compatible server works (`base_url`). The recording is decoded to 16 kHz mono and
sent as WAV chunks, each under `max_chunk_bytes` (the API takes at most 25 MB a request),
cut at silences (`speech.audio.chunks`); each chunk's segment times are shifted by the
chunk's offset, so the segments are stitched back on the recording's own clock. Whisper
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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_process

from speech.audio import RATE, NotAudio, chunks, decode_pcm, utterances, wav_bytes
from speech.transcript import Segment, Transcript, TranscriptionFailed, TranscriptionRetryable

if TYPE_CHECKING:
    import openai

__all__ = ["API_MAX_BYTES", "OpenAITranscriber", "prepare_chunks"]

API_MAX_BYTES = 25 * 1024 * 1024
_WAV_HEADER = 44


@dataclass(frozen=True, slots=True)
class _Chunk:
    offset: float  # seconds from the start of the recording
    seconds: float
    wav: bytes


def prepare_chunks(audio: bytes, max_chunk_bytes: int) -> tuple[list[_Chunk], float]:
    """The WAV chunks to send and the recording's duration (blocking: decoding)."""
    try:
        pcm = decode_pcm(audio)
    except NotAudio as exc:
        raise TranscriptionFailed(f"the recording cannot be decoded: {exc}") from exc
    max_seconds = (max_chunk_bytes - _WAV_HEADER) / (2 * RATE)
    spans = chunks(utterances(pcm, max_seconds=max_seconds), max_seconds=max_seconds)
    out = [_Chunk(span.start / RATE, span.seconds, wav_bytes(pcm[span.start * 2 : span.end * 2]))
           for span in spans]
    return out, len(pcm) / 2 / RATE


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

    async def transcribe(self, audio: bytes, content_type: str) -> Transcript:
        """Transcribe `audio`, chunk by chunk, in order.

        Raises:
            TranscriptionFailed: undecodable audio, or the service refused a chunk (4xx).
            TranscriptionRetryable: still rate limited, failing or unreachable after retries.
        """
        parts, duration = await anyio.to_process.run_sync(
            prepare_chunks, audio, self._max_chunk_bytes
        )
        segments: list[Segment] = []
        language: str | None = self._language
        for index, part in enumerate(parts):
            found, spoken = await self._chunk(part, index)
            segments.extend(found)
            language = language or spoken
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
