"""The transcription seam: what a transcription job needs from a speech-to-text service.

Declared here, where jobs consume it; a provider implements `Transcriber` structurally and the
composition roots put it on the `JobContext`. None is built yet: until one is configured, the
context holds `TranscriberNotConfigured`, which refuses every request with a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Transcriber", "TranscriberNotConfigured", "Transcript", "TranscriptionUnavailable"]


@dataclass(frozen=True, slots=True)
class Transcript:
    """The text of a recording, and its language when the service detected one."""

    text: str
    language: str | None = None


class TranscriptionUnavailable(RuntimeError):
    """No transcription service is configured in this process."""


class Transcriber(Protocol):
    """Turns recorded audio into text."""

    async def transcribe(self, audio: bytes, content_type: str) -> Transcript:
        """Transcribe `audio` (encoded as `content_type`, e.g. ``audio/webm``).

        Raises:
            TranscriptionUnavailable: the service is not configured.
        """
        ...


class TranscriberNotConfigured:
    """The `Transcriber` of a process without a transcription service: always refuses."""

    async def transcribe(self, audio: bytes, content_type: str) -> Transcript:
        """Raise `TranscriptionUnavailable` (nothing is sent anywhere)."""
        raise TranscriptionUnavailable("no transcription service is configured")
