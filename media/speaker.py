"""Who speaks: the audio level publishers put in their RTP packets, smoothed, per room.

Senders that negotiate ``urn:ietf:params:rtp-hdrext:ssrc-audio-level`` (RFC 6464; browsers and
aiortc do, aiortc computes it from each frame it encodes) carry in every audio packet the
level of the audio it holds, 0 (loudest) to 127 (silence) in -dBov. The relay reads it from
the packet header (``media.passthrough.tap_audio_level``): no decoding.

``SpeakerMeter`` (pure: the caller passes the clock) turns those levels into a room's speakers.
Invariants:

* a user's level follows a louder packet at once and falls by at most ``release`` dB per
  second (peak with release, as a level meter does), so the gaps between syllables (or the
  20 ms beeps, twice a second, of Chromium's fake microphone) do not end speech;
* a user starts speaking at ``on_db`` or above and stops below ``off_db`` (hysteresis), and
  keeps speaking for ``hold`` seconds after dropping below it: one loud packet (a cough)
  shows as speech for about ``(on_db - off_db) / release + hold`` seconds at most; a user whose
  last packet is older than ``stale`` seconds (unpublished, muted, gone) is not speaking;
* the active speaker is the loudest speaker; the current one keeps the place until another is
  louder by ``margin`` dB or it stops speaking.

``Speakers`` values are compared by the caller, which publishes only a change, at most once
per evaluation period (``media.relay``: four times a second per room).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SILENT", "SpeakerMeter", "Speakers"]

SILENT = -127.0  # dBov: the RFC 6464 floor


@dataclass(frozen=True, slots=True)
class Speakers:
    active: str | None = None  # the user id of the active speaker
    speaking: frozenset[str] = frozenset()

    def as_json(self) -> dict[str, object]:
        return {"userId": self.active, "speaking": sorted(self.speaking)}


@dataclass(slots=True)
class _Level:
    db: float
    last: float  # when the last packet came (seconds)
    heard: float  # when the level was last at ``off_db`` or above
    speaking: bool = False


@dataclass(slots=True)
class SpeakerMeter:
    on_db: float = -45.0
    off_db: float = -55.0
    release: float = 40.0  # dB per second
    hold: float = 0.3
    margin: float = 6.0
    stale: float = 0.5
    _levels: dict[str, _Level] = field(default_factory=dict)
    _active: str | None = None

    def observe(self, user_id: str, level: int, now: float) -> None:
        """One packet of ``user_id`` carrying ``level`` (RFC 6464: 0..127, -dBov)."""
        db = -float(min(127, max(0, level)))
        entry = self._levels.get(user_id)
        if entry is None:
            self._levels[user_id] = _Level(db, now, now)
            return
        decayed = entry.db - self.release * max(0.0, now - entry.last)
        entry.db = max(db, decayed)
        entry.last = now
        if entry.db >= self.off_db:
            entry.heard = now

    def level(self, user_id: str) -> float:
        """The smoothed level of ``user_id`` in dBov (``SILENT`` if unknown)."""
        entry = self._levels.get(user_id)
        return SILENT if entry is None else entry.db

    def evaluate(self, now: float) -> Speakers:
        """The speakers at ``now``; forgets users gone stale."""
        for user_id in [u for u, e in self._levels.items() if now - e.last > self.stale]:
            del self._levels[user_id]
        for entry in self._levels.values():
            if entry.db >= self.on_db:
                entry.speaking = True
            elif entry.speaking and entry.db < self.off_db and now - entry.heard >= self.hold:
                entry.speaking = False
        speaking = {u: e.db for u, e in self._levels.items() if e.speaking}
        if not speaking:
            self._active = None
        else:
            loudest = max(speaking, key=lambda u: speaking[u])
            current = self._active
            if current not in speaking or speaking[loudest] > speaking[current] + self.margin:
                self._active = loudest
        return Speakers(self._active, frozenset(speaking))

    @property
    def idle(self) -> bool:
        """Nobody's level is known (every user stale or none seen)."""
        return not self._levels
