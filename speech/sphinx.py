"""The offline engine: PocketSphinx with the US English model its package ships.

No network and no download: the acoustic model, dictionary and language model are files of
the `pocketsphinx` wheel. Decoding holds the GIL for seconds at a time, so every transcription
runs in a worker process (`anyio.to_process`), one at a time per `PocketSphinxTranscriber`;
the decoder is loaded once per worker process. The recording is read from its file and never
decoded whole: a first streamed decode measures the loudness of every 30 ms
(`speech.audio.levels`), which places the utterances (`speech.audio.utterances_in`, merged up
to 30 s, widened to the middle of the silences between but by at most 5 s on either side: the
decoder adapts to the recording's silence too, 49 % → 32 % word errors on our corpus); a
second streamed decode hands over each stretch's samples (`speech.audio.slices`, at most 40 s
held at a time), decoded on its own, its times counted from the recording's first sample.
Its words,
timed by the decoder's alignment, are grouped into segments at pauses, each segment's
confidence the mean of its words' posterior probabilities.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_process

from speech.audio import RATE, NotAudio, Source, Span, chunks, cover, levels, slices, utterances_in
from speech.transcript import Segment, Transcript, TranscriptionFailed

if TYPE_CHECKING:
    from pocketsphinx import Decoder

__all__ = ["PocketSphinxTranscriber", "transcribe_bytes", "transcribe_file"]

ENGINE = "pocketsphinx"
LANGUAGE = "en-US"
_FRAMES_PER_SECOND = 100  # the model's frame rate (-frate)
_ALTERNATE = re.compile(r"\(\d+\)$")  # "and(2)": the dictionary's second pronunciation
# A decoded stretch is up to 30 s (longer context decodes better than one phrase at a time);
# its words are grouped into segments at pauses of 0.2 s, at most 24 words each.
_DECODE_SECONDS = 30.0
_MAX_PAD = 5 * RATE  # samples of silence a stretch takes on either side, at most
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


def _segments(decoder: Decoder, pcm: bytes | bytearray, span: Span) -> list[Segment]:
    """The segments of `pcm`, the samples of `span` of the recording."""
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
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


def transcribe_file(audio: Source) -> Transcript:
    """Decode and transcribe `audio` (a file's path, or bytes) in this process (blocking; see
    the module docstring).

    Raises:
        TranscriptionFailed: the audio is not decodable.
    """
    try:
        loudness, total = levels(audio)
        decoder = _decoder()
        spans = cover(chunks(utterances_in(loudness, total, max_seconds=_DECODE_SECONDS),
                             max_seconds=_DECODE_SECONDS), total, max_pad=_MAX_PAD)
        segments = [s for span, pcm in slices(audio, spans)
                    for s in _segments(decoder, pcm, span)]
    except NotAudio as exc:
        raise TranscriptionFailed(f"the recording cannot be decoded: {exc}") from exc
    return Transcript.of(segments, language=LANGUAGE, engine=ENGINE, duration=total / RATE)


transcribe_bytes = transcribe_file
"""The former name (bench/transcription.py): bytes are a `Source` too."""


class PocketSphinxTranscriber:
    """The embedded default `Transcriber`: PocketSphinx in a worker process.

    Args:
        concurrency: transcriptions run at once (each holds one CPU core while it runs).
    """

    name = ENGINE

    def __init__(self, *, concurrency: int = 1) -> None:
        self._limiter = anyio.CapacityLimiter(concurrency)

    async def transcribe(self, audio: Path | bytes, content_type: str) -> Transcript:
        """Transcribe `audio`, a file (read in the worker process, never whole) or bytes, any
        of `speech.audio.FORMATS` whatever `content_type` says.

        Raises:
            TranscriptionFailed: the audio cannot be decoded.
        """
        return await anyio.to_process.run_sync(transcribe_file, audio, limiter=self._limiter)
