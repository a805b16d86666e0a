"""`speech.audio`'s streamed decode: blocks, loudness and slices give exactly the samples and
the cuts of decoding the whole recording at once."""

from __future__ import annotations

import random

import pytest

from speech.audio import (
    RATE,
    NotAudio,
    Span,
    decode_pcm,
    levels,
    pcm_blocks,
    slices,
    utterances,
    utterances_in,
)
from tests.audio_samples import encoded, tone_pcm, wav


@pytest.fixture(scope="module")
def audio() -> bytes:
    """100 s: a different tone each second, a pause every tenth (an MP3: a real decoder)."""
    parts = [bytes(RATE) if i % 10 == 9 else tone_pcm(1.0, hz=200 + i * 7) for i in range(100)]
    return encoded(wav(b"".join(parts)), "mp3")


def test_blocks_and_loudness_match_the_whole_decode(audio: bytes) -> None:
    whole = decode_pcm(audio)
    blocks = list(pcm_blocks(audio, block_samples=480 * 100))  # 3 s blocks
    assert all(len(b) == 480 * 100 * 2 for b in blocks[:-1]) and len(blocks) > 30
    assert b"".join(blocks) == whole
    loudness, total = levels(audio)
    assert total == len(whole) // 2
    assert utterances_in(loudness, total) == utterances(whole)
    assert len(utterances(whole)) == 10  # cut at the ten pauses
    with pytest.raises(ValueError):
        next(pcm_blocks(audio, block_samples=1000))  # not a whole number of 30 ms frames
    with pytest.raises(NotAudio):
        next(pcm_blocks(b"not audio" * 100))


def test_slices_are_the_spans_samples_wherever_blocks_end(audio: bytes) -> None:
    whole = decode_pcm(audio)
    total = len(whole) // 2
    rng = random.Random(7)
    for _ in range(5):
        cuts = sorted(rng.sample(range(total + RATE), 10))  # the last may run past the end
        spans = [Span(cuts[i], cuts[i + 1]) for i in range(0, 10, 2)]
        got = list(slices(audio, spans))
        assert len(got) == len(spans)
        for (span, pcm), asked in zip(got, spans, strict=True):
            expected = whole[asked.start * 2 : min(asked.end, total) * 2]
            assert bytes(pcm) == expected
            assert span == Span(asked.start, asked.start + len(expected) // 2)
    with pytest.raises(ValueError):
        list(slices(audio, [Span(100, 200), Span(150, 300)]))
