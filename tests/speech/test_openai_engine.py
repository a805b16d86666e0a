"""The OpenAI engine against a local server implementing the transcription endpoint as
documented: multipart upload, ``verbose_json`` with timed segments; scripted 429s and 500s."""

from __future__ import annotations

import asyncio
import io
import socket
import tracemalloc
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from speech import OpenAITranscriber, TranscriptionFailed, TranscriptionRetryable
from speech.audio import RATE
from tests.audio_samples import encoded, tone_pcm, wav

KEY = "sk-test-local-only"


@dataclass
class FakeOpenAI:
    """Answers with `script` statuses first (429, 500, ...), then transcribes: one segment per
    request, spanning the sound of the chunk (its padding left out)."""

    script: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def transcriptions(self, request: Request) -> JSONResponse:
        assert request.headers["authorization"] == f"Bearer {KEY}"
        form = await request.form()
        upload = form["file"]
        assert isinstance(upload, UploadFile)
        data = await upload.read()
        with wave.open(io.BytesIO(data)) as chunk:
            seconds = chunk.getnframes() / chunk.getframerate()
            assert (chunk.getframerate(), chunk.getnchannels()) == (RATE, 1)
        self.requests.append({"model": form["model"], "format": form["response_format"],
                              "granularity": form.getlist("timestamp_granularities[]"),
                              "bytes": len(data), "seconds": seconds})
        if self.script:
            status = self.script.pop(0)
            return JSONResponse({"error": {"message": "scripted", "type": "server_error"}},
                                status_code=status, headers={"retry-after-ms": "10"})
        n = len(self.requests)
        segment = {"id": 0, "seek": 0, "start": 0.15, "end": round(seconds - 0.15, 3),
                   "text": f" tone {n}", "tokens": [], "temperature": 0.0,
                   "avg_logprob": -0.105, "compression_ratio": 1.0, "no_speech_prob": 0.01}
        return JSONResponse({"task": "transcribe", "language": "english", "duration": seconds,
                             "text": f"tone {n}", "segments": [segment]})


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    state = FakeOpenAI()
    app = Starlette(routes=[Route("/v1/audio/transcriptions", state.transcriptions,
                                  methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None,
                                           lifespan="off"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    state.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield state
    finally:
        server.should_exit = True
        async with asyncio.timeout(30):
            await task
        sock.close()


def tones(count: int, *, tone: float = 1.5, gap: float = 0.6) -> bytes:
    """`count` tones of `tone` seconds, `gap` seconds of silence before each."""
    silence = bytes(int(gap * RATE) * 2)
    return wav(b"".join(silence + tone_pcm(tone) for _ in range(count)))


async def test_a_long_file_is_sent_in_chunks_cut_at_silences_and_stitched(
    fake: FakeOpenAI,
) -> None:
    engine = OpenAITranscriber(api_key=KEY, base_url=fake.url, max_chunk_bytes=64 * 1024)
    fake.script = [429, 500]  # the first chunk is retried twice by the client
    transcript = await engine.transcribe(encoded(tones(8), "mp3"), "audio/mpeg")
    await engine.aclose()

    assert len(fake.requests) == 8 + 2
    assert all(r["bytes"] <= 64 * 1024 for r in fake.requests)
    assert {(r["model"], r["format"]) for r in fake.requests} == {("whisper-1", "verbose_json")}
    assert fake.requests[0]["granularity"] == ["segment"]
    assert transcript.engine == "openai:whisper-1" and transcript.language == "english"
    assert [s.text for s in transcript.segments] == [f"tone {n}" for n in range(3, 11)]
    for i, segment in enumerate(transcript.segments):
        # Each tone starts 0.6 s into its 2.1 s period: the stitched times land on it.
        assert segment.start == pytest.approx(i * 2.1 + 0.6, abs=0.12), segment
        assert segment.end == pytest.approx(i * 2.1 + 2.1, abs=0.2), segment  # last: no pad
        assert segment.confidence == pytest.approx(0.9, abs=0.01)
    assert transcript.duration == pytest.approx(16.8, abs=0.1)


async def test_still_failing_after_the_retries_is_retryable_a_refusal_is_not(
    fake: FakeOpenAI,
) -> None:
    audio = tones(1)
    engine = OpenAITranscriber(api_key=KEY, base_url=fake.url, max_retries=1)
    fake.script = [500, 503]
    with pytest.raises(TranscriptionRetryable, match="HTTP 503"):
        await engine.transcribe(audio, "audio/wav")
    fake.script = [429, 429]
    with pytest.raises(TranscriptionRetryable, match="HTTP 429"):
        await engine.transcribe(audio, "audio/wav")
    fake.script = [400]
    with pytest.raises(TranscriptionFailed, match="HTTP 400") as refused:
        await engine.transcribe(audio, "audio/wav")
    assert KEY not in str(refused.value)
    with pytest.raises(TranscriptionFailed):
        await engine.transcribe(b"not audio" * 100, "audio/wav")
    await engine.aclose()
    unreachable = OpenAITranscriber(api_key=KEY, base_url="http://127.0.0.1:9/v1", max_retries=0)
    with pytest.raises(TranscriptionRetryable, match="unreachable"):
        await unreachable.transcribe(audio, "audio/wav")
    await unreachable.aclose()


async def test_gpt_models_get_plain_json_one_segment_per_chunk(fake: FakeOpenAI) -> None:
    engine = OpenAITranscriber(api_key=KEY, base_url=fake.url, model="gpt-4o-transcribe")
    transcript = await engine.transcribe(tones(2), "audio/wav")
    await engine.aclose()
    assert [r["format"] for r in fake.requests] == ["json"]
    assert [s.text for s in transcript.segments] == ["tone 1"]
    assert transcript.segments[0].start == pytest.approx(0.45, abs=0.05)


async def test_a_long_file_is_decoded_a_chunk_at_a_time_on_the_recordings_clock(
    fake: FakeOpenAI, tmp_path: Path,
) -> None:
    # Twelve minutes of tones (23 MB decoded), sent in 16-second chunks.
    count = 343
    pcm = tones(count)
    decoded_size = len(pcm) - 44
    path = tmp_path / "long.wav"  # (a WAV: encoding twelve minutes takes longer than the test)
    path.write_bytes(pcm)
    del pcm
    engine = OpenAITranscriber(api_key=KEY, base_url=fake.url, max_chunk_bytes=512 * 1024)
    await engine.transcribe(tones(1), "audio/wav")  # the client's and server's imports, first
    fake.requests.clear()
    tracemalloc.start()
    try:
        transcript = await engine.transcribe(path, "audio/wav")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        await engine.aclose()
    # The silences are found in a worker process; here one 30 s block and one chunk are held
    # at a time (all the chunks at once would be the whole decoded size).
    assert peak < decoded_size / 4, peak
    assert len(fake.requests) == len(transcript.segments) > 40
    assert all(r["bytes"] <= 512 * 1024 for r in fake.requests)
    # Each chunk is whole tones padded by 0.15 s, and the fake's segment leaves the padding
    # out: stitched, every segment starts on a tone's start and ends on a tone's end, and
    # together they cover every tone once, in order.
    period, tone_start = 2.1, 0.6
    expected_first = 0
    for segment in transcript.segments:
        first = (segment.start - tone_start) / period
        last = (segment.end - period) / period
        assert first == pytest.approx(round(first), abs=0.06), segment
        assert last == pytest.approx(round(last), abs=0.1), segment
        assert round(first) == expected_first, segment
        expected_first = round(last) + 1
    assert expected_first == count
    assert transcript.duration == pytest.approx(count * period, abs=0.1)
