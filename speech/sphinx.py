"""The offline engine: PocketSphinx with the US English model its package ships.

No network and no download: the acoustic model, dictionary and language model are files of
the `pocketsphinx` wheel. Decoding holds the GIL for seconds at a time, so every transcription
runs in a worker process (`anyio.to_process`), one at a time per `PocketSphinxTranscriber`;
the decoder is loaded once per worker process. The audio is cut into utterances at silences
(`speech.audio.utterances`, merged up to 30 s, widened to the middle of the silences between:
the decoder adapts to the recording's silence too, 49 % → 32 % word errors on our corpus),
each stretch decoded on its own; its words,
timed by the decoder's alignment, are grouped into segments at pauses, each segment's
confidence the mean of its words' posterior probabilities.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import anyio
import anyio.to_process

from speech.audio import RATE, NotAudio, Span, chunks, cover, decode_pcm, utterances
from speech.transcript import Segment, Transcript, TranscriptionFailed

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["PocketSphinxTranscriber", "transcribe_bytes"]

ENGINE = "pocketsphinx"
LANGUAGE = "en-US"
_FRAMES_PER_SECOND = 100  # the model's frame rate (-frate)
_ALTERNATE = re.compile(r"\(\d+\)$")  # "and(2)": the dictionary's second pronunciation
# A decoded stretch is up to 30 s (longer context decodes better than one phrase at a time);
# its words are grouped into segments at pauses of 0.2 s, at most 24 words each.
_DECODE_SECONDS = 30.0
_PAUSE = 0.2
_MAX_WORDS = 24
_Word = tuple[float, float, str, float]  # start, end, word, posterior probability


@functools.cache
def _decoder() -> Decoder:
    from pocketsphinx import Decoder  # loaded in the worker process only

    # fwdflat off: a third faster, the same words on our corpus (bench/transcription.py).
    return Decoder(samprate=RATE, loglevel="FATAL", fwdflat=False)


def _words(decoder: Decoder, offset: float) -> list[_Word]:
    words = []
    for seg in decoder.seg():
        word = seg.word
        if word.startswith(("<", "[", "++")) or word == "(NULL)":
            continue  # <s>, </s>, <sil>, [NOISE] and other fillers
        start = offset + seg.start_frame / _FRAMES_PER_SECOND
        end = offset + (seg.end_frame + 1) / _FRAMES_PER_SECOND
        words.append((start, end, _ALTERNATE.sub("", word), float(seg.prob)))
    return words


def _segments(decoder: Decoder, pcm: bytes, span: Span) -> list[Segment]:
    decoder.start_utt()
    decoder.process_raw(pcm[span.start * 2 : span.end * 2], full_utt=True)
    decoder.end_utt()
    groups: list[list[_Word]] = []
    for word in _words(decoder, span.start / RATE):
        if groups and word[0] - groups[-1][-1][1] < _PAUSE and len(groups[-1]) < _MAX_WORDS:
            groups[-1].append(word)
        else:
            groups.append([word])
    return [Segment(start=round(words[0][0], 2), end=round(words[-1][1], 2),
                    text=" ".join(w[2] for w in words),
                    confidence=round(sum(w[3] for w in words) / len(words), 3))
            for words in groups]


def transcribe_bytes(audio: bytes) -> Transcript:
    """Decode and transcribe `audio` in this process (blocking; see the module docstring).

    Raises:
        TranscriptionFailed: the bytes are not decodable audio.
    """
    try:
        pcm = decode_pcm(audio)
    except NotAudio as exc:
        raise TranscriptionFailed(f"the recording cannot be decoded: {exc}") from exc
    decoder = _decoder()
    spans = cover(chunks(utterances(pcm, max_seconds=_DECODE_SECONDS),
                         max_seconds=_DECODE_SECONDS), len(pcm) // 2)
    segments = [s for span in spans for s in _segments(decoder, pcm, span)]
    return Transcript.of(segments, language=LANGUAGE, engine=ENGINE,
                         duration=len(pcm) / 2 / RATE)


class PocketSphinxTranscriber:
    """The embedded default `Transcriber`: PocketSphinx in a worker process.

    Args:
        concurrency: transcriptions run at once (each holds one CPU core while it runs).
    """

    name = ENGINE

    def __init__(self, *, concurrency: int = 1) -> None:
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def transcribe(self, audio: bytes, content_type: str) -> Transcript:
        """Transcribe `audio` (any of `speech.audio.FORMATS`, whatever `content_type` says).

        Raises:
            TranscriptionFailed: the audio cannot be decoded.
        """
        return await anyio.to_process.run_sync(transcribe_bytes, audio, limiter=self._limiter)
