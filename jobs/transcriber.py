"""The transcription seam: what a transcription job needs from a speech-to-text engine.

Declared here, where jobs consume it; an engine (`speech.PocketSphinxTranscriber`,
`speech.OpenAITranscriber`) implements `Transcriber` structurally and the composition roots put
it on the `JobContext`. A context built without one holds `TranscriberNotConfigured`, which
refuses every request with a clear error. The result type, `speech.Transcript`, and the errors
an engine raises are the engines' own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from speech.transcript import Segment, Transcript, TranscriptionFailed, TranscriptionRetryable

__all__ = [
    "Segment",
    "Transcriber",
    "TranscriberNotConfigured",
    "Transcript",
    "TranscriptionFailed",
    "TranscriptionRetryable",
    "TranscriptionUnavailable",
]


class TranscriptionUnavailable(RuntimeError):
    """No transcription engine is configured in this process."""


class Transcriber(Protocol):
    """Turns recorded audio into timed text."""

    async def transcribe(self, audio: Path, content_type: str) -> Transcript:
        """Transcribe the recording in the file `audio` (encoded as `content_type`, e.g.
        ``audio/webm``), reading it as it goes: a recording is never held in memory whole.

        Raises:
            TranscriptionUnavailable: no engine is configured.
            TranscriptionFailed: this audio cannot be transcribed; retrying will not help.
            TranscriptionRetryable: a transient failure; the same call may succeed later.
        """
        ...


class TranscriberNotConfigured:
    """The `Transcriber` of a process without a transcription engine: always refuses."""

    async def transcribe(self, audio: Path, content_type: str) -> Transcript:
        """Raise `TranscriptionUnavailable` (nothing is sent anywhere)."""
        raise TranscriptionUnavailable("no transcription engine is configured")
