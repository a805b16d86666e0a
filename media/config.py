"""The relay's configuration and refusals: ICE servers, admission limits, ``MediaRefused``."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REFUSALS", "IceServer", "MediaRefused", "RelayLimits", "Stopped"]

REFUSALS = {
    "media_limit": "a room or process media limit is reached",
    "media_unavailable": "the relay is not running, or the offer could not be negotiated",
    "not_found": "no such publication",
    "invalid": "the offer does not match the tracks listed",
    "recording_active": "the room is already being recorded",
}


class MediaRefused(Exception):
    """A signaling request refused; ``reason`` is a key of ``REFUSALS``, nothing changed."""

    def __init__(self, reason: str, detail: str = "") -> None:
        assert reason in REFUSALS, reason
        super().__init__(detail or REFUSALS[reason])
        self.reason = reason
        self.detail = detail or REFUSALS[reason]


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN or TURN server, as given to both aiortc and the browser."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class RelayLimits:
    """Admission limits; past one, the request is refused with ``media_limit``."""

    publishers_per_room: int = 6  # participants publishing at once
    subscribers_per_room: int = 30  # participants with a subscribe connection
    connections_per_process: int = 200  # peer connections of every room together
    subscriptions_per_process: int = 300  # forwarded tracks (outlets) of every room together
    max_video_bitrate: int = 1_500_000  # bits/s the client is asked to cap each video at
    # A publication above its cap for a whole window is stopped (media_limit, media.bitrate):
    # video at max_video_bitrate x bitrate_margin, audio at max_audio_bitrate.
    max_audio_bitrate: int = 256_000
    bitrate_margin: float = 1.5
    bitrate_window: float = 5.0  # seconds
    video_queue: int = 60  # packets per subscriber (~2 s at 30 fps) before dropping to a keyframe
    audio_queue: int = 100  # packets per subscriber (2 s of 20 ms Opus frames)
    connect_timeout: float = 15.0  # seconds for a new connection to reach "connected"
    keyframe_interval: float = 0.5  # seconds between keyframe requests to one publisher

    def as_json(self) -> dict[str, object]:
        return {"publishersPerRoom": self.publishers_per_room,
                "subscribersPerRoom": self.subscribers_per_room,
                "maxVideoBitrate": self.max_video_bitrate}


@dataclass(frozen=True, slots=True)
class Stopped:
    """A publication the relay stopped on its own, for its publisher to be told why:
    ``reason`` ``bitrate`` (it sent ``rate`` bits/s for a whole window, over its cap
    ``limit``)."""

    user_id: str
    source: str
    reason: str
    rate: float
    limit: float
