"""The offline engine on real speech made here by espeak-ng, in the formats uploads accept."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from speech import NotAudio, PocketSphinxTranscriber, TranscriptionFailed, probe
from speech.audio import RATE, Span, cover, decode_pcm, utterances
from speech.sphinx import transcribe_file
from tests.audio_samples import encoded, spoken_wav, tone_pcm, wav

TEXT = "Please bring your notebook and a pencil. We will discuss pricing for haircuts."
# Words the engine must hear (it may mishear a short function word; these it gets on every
# format: see bench/transcription.py for the word error rate).
EXPECTED = {"notebook", "pencil", "pricing"}


@pytest.fixture(scope="module")
def speech() -> bytes:
    return spoken_wav(TEXT)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["wav", "mp3", "webm"])
async def test_spoken_words_are_found_with_ordered_times(speech: bytes, fmt: str) -> None:
    audio = encoded(speech, fmt)
    info = probe(audio)
    assert info.ext == fmt
    transcript = await PocketSphinxTranscriber().transcribe(audio, "application/octet-stream")
    words = set(transcript.text.split())
    assert words >= EXPECTED, transcript.text
    assert transcript.language == "en-US" and transcript.engine == "pocketsphinx"
    assert transcript.confidence is not None and 0 < transcript.confidence <= 1
    assert len(transcript.segments) >= 2  # cut at the pause between the sentences
    previous_end = 0.0
    for segment in transcript.segments:
        assert previous_end <= segment.start < segment.end <= info.duration + 0.05, segment
        assert segment.confidence is not None and 0 <= segment.confidence <= 1
        previous_end = segment.end
    pencil = next(s for s in transcript.segments if "pencil" in s.text.split())
    pricing = next(s for s in transcript.segments if "pricing" in s.text.split())
    assert pencil.start < pricing.start  # said first, found first


def test_format_and_duration_come_from_the_bytes() -> None:
    two_seconds = wav(tone_pcm(2.0))
    for fmt in ("wav", "mp3", "webm", "ogg", "m4a"):
        info = probe(encoded(two_seconds, fmt))
        assert info.ext == fmt
        assert info.duration == pytest.approx(2.0, abs=0.06), fmt
    for junk in (b"ID3\x04\x00" + bytes(300), b"\x1aE\xdf\xa3" + bytes(300), b"hello" * 100):
        with pytest.raises(NotAudio):
            probe(junk)


def test_decoding_resamples_to_16k_mono_and_finds_the_pauses() -> None:
    silence = bytes(RATE)  # half a second
    audio = encoded(wav(tone_pcm(1.0) + silence + tone_pcm(1.0)), "mp3")
    decoded = decode_pcm(audio)
    assert abs(len(decoded) / 2 / RATE - 2.5) < 0.1
    spans = utterances(decoded)
    assert len(spans) == 2
    # Cut in the pause, each side padded by 0.15 s (MP3 adds a few ms of encoder delay).
    assert 1.0 < spans[0].end / RATE < 1.3 and 1.3 < spans[1].start / RATE < 1.55
    assert utterances(bytes(2 * RATE)) == []  # silence: nothing to transcribe
    # Widened to the whole recording, split in the middle of the pause.
    covered = cover(spans, len(decoded) // 2)
    assert covered[0].start == 0 and covered[-1].end == len(decoded) // 2
    assert covered[0].end == covered[1].start == (spans[0].end + spans[1].start) // 2
    assert cover([Span(10, 20)], 100) == [Span(0, 100)]


async def test_undecodable_audio_fails_permanently() -> None:
    with pytest.raises(TranscriptionFailed):
        await PocketSphinxTranscriber().transcribe(b"not audio at all" * 50, "audio/wav")


@pytest.mark.slow
def test_a_long_recording_is_decoded_in_windows_with_exact_times(speech: bytes,
                                                                  tmp_path: Path) -> None:
    # Twelve minutes (23 MB decoded): the sentences at 1 s, 6 min and 12 min, silence between.
    said = decode_pcm(speech)
    at = [1.0, 360.0, 720.0]
    pcm = bytearray()
    for start in at:
        pcm += bytes(int(start * RATE) * 2 - len(pcm)) + said
    pcm += bytes(RATE * 2)
    decoded_size = len(pcm)
    path = tmp_path / "long.wav"  # (a WAV: encoding twelve minutes takes longer than the test)
    path.write_bytes(wav(bytes(pcm)))
    del pcm
    alone = transcribe_file(wav(bytes(RATE * 2) + said))  # the sentences said at 1 s
    tracemalloc.start()
    try:
        transcript = transcribe_file(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Decoded whole, the samples alone would be `decoded_size`; here one 30 s block and one
    # window (a stretch of speech and at most 5 s of silence either side) are held at a time.
    assert peak < decoded_size / 4, peak
    assert transcript.duration == pytest.approx(decoded_size / 2 / RATE, abs=0.1)
    reference = [s.start for s in alone.segments if {"pencil", "pricing"} & set(s.text.split())]
    found = [s.start for s in transcript.segments
             if {"pencil", "pricing"} & set(s.text.split())]
    assert len(reference) == 2 and len(found) == 6, transcript.segments
    # Each sentence is heard where it was said: its times counted from the recording's start.
    for i, start in enumerate(at):
        for expected, heard in zip(reference, found[2 * i : 2 * i + 2], strict=True):
            assert heard == pytest.approx(expected - 1.0 + start, abs=0.15), (i, heard)
