"""What an engine returns: the text, its timed segments, and the errors an engine raises."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Segment", "Transcript", "TranscriptionFailed", "TranscriptionRetryable"]


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of speech: seconds from the start of the audio, its text, a 0..1 confidence."""

    start: float
    end: float
    text: str
    confidence: float | None = None


@dataclass(frozen=True, slots=True)
class Transcript:
    """The text of a recording, its segments in time order, and its language (BCP 47 or an
    engine's name for it) when known."""

    text: str
    segments: tuple[Segment, ...] = ()
    language: str | None = None
    confidence: float | None = None
    engine: str = ""
    duration: float | None = None
    """Seconds of audio the engine heard."""

    @staticmethod
    def of(segments: list[Segment], *, language: str | None, engine: str,
           duration: float | None = None) -> Transcript:
        """A transcript whose text and confidence are derived from its segments (the
        confidence weighted by each segment's length)."""
        kept = tuple(s for s in segments if s.text.strip())
        weighted = [(s.confidence, max(s.end - s.start, 0.01)) for s in kept
                    if s.confidence is not None]
        total = sum(w for _, w in weighted)
        confidence = sum(c * w for c, w in weighted) / total if total else None
        text = " ".join(s.text.strip() for s in kept)
        return Transcript(text=text, segments=kept, language=language, confidence=confidence,
                          engine=engine, duration=duration)


class TranscriptionFailed(Exception):
    """The audio cannot be transcribed (undecodable, refused by the service): do not retry.

    The message is shown to the user as the failure's reason: it names no secret."""


@dataclass
class TranscriptionRetryable(Exception):
    """A transient failure (rate limited, server error, connection lost): try again later."""

    reason: str
    retry_after: float | None = field(default=None)

    def __str__(self) -> str:
        return self.reason
