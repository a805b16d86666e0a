"""Updates yrs parked until their dependencies arrive, and who sent them.

yrs keeps the part of an update it cannot integrate yet (structs whose predecessors or origins
it lacks, deletions of content it has not seen) and retries it inside every later
``apply_update``. A crafted parked update therefore panics inside somebody else's valid edit.
``ParkedUpdates`` remembers which sender left what, so that such a panic is attributed to the
senders of the parked updates, and bounds them (count, bytes, age).

Detection costs nothing on the common path: an update whose applied diff is byte for byte the
update itself was integrated whole. Otherwise ``pycrdt.get_update(update, state)`` (in Rust)
keeps the update's structs the Doc still lacks, followed by the update's delete set, which is
checked against the state vector here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pycrdt import get_update

from collab.config import CollabConfig

__all__ = ["Limits", "ParkedUpdates", "decode_state_vector", "leaves_parked"]


def _uint(data: bytes, pos: int) -> tuple[int, int]:
    """A lib0 varuint (no 2**53 cap: yrs encodes u64 client ids and clocks)."""
    num = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        num |= (byte & 0x7F) << shift
        if byte < 0x80:
            return num, pos
        shift += 7


def decode_state_vector(data: bytes) -> dict[int, int]:
    """``{client: next clock}`` of an encoded state vector."""
    count, pos = _uint(data, 0)
    state: dict[int, int] = {}
    for _ in range(count):
        client, pos = _uint(data, pos)
        state[client], pos = _uint(data, pos)
    return state


def leaves_parked(update: bytes, encoded_state: bytes, state: dict[int, int]) -> bool:
    """Whether part of ``update`` is not integrated in a Doc whose state vector is
    ``encoded_state`` (decoded: ``state``): a struct beyond it, or a deletion of a clock the
    Doc has not reached."""
    try:
        return _beyond(get_update(update, encoded_state), state)
    except (ValueError, IndexError):  # bytes yrs applied but cannot diff: keep them suspect
        return True


def _beyond(rest: bytes, state: dict[int, int]) -> bool:
    clients, pos = _uint(rest, 0)
    if clients:
        return True
    clients, pos = _uint(rest, pos)
    for _ in range(clients):
        client, pos = _uint(rest, pos)
        ranges, pos = _uint(rest, pos)
        known = state.get(client, 0)
        for _ in range(ranges):
            clock, pos = _uint(rest, pos)
            length, pos = _uint(rest, pos)
            if clock + length > known:
                return True
    return False


@dataclass(slots=True)
class _Parked:
    sender: str
    update: bytes
    since: float
    expired: bool = False


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of parked updates (see ``CollabConfig``)."""

    per_sender: int
    bytes_per_sender: int
    per_document: int
    bytes_per_document: int


class ParkedUpdates:
    """The updates of one Doc that yrs holds back, by sender.

    An entry stays until the Doc integrated it or is replaced (``clear``): a sender that left
    or was closed is still a suspect while yrs holds its bytes.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._entries: list[_Parked] = []
        self._bytes = 0
        self.released: frozenset[str] = frozenset()  # senders the last ``track`` integrated

    @classmethod
    def for_config(cls, config: CollabConfig) -> ParkedUpdates:
        """Bounded by the ``parked_*`` limits of ``config``."""
        return cls(
            Limits(
                per_sender=config.parked_updates_per_connection,
                bytes_per_sender=config.parked_bytes_per_connection,
                per_document=config.parked_updates_per_document,
                bytes_per_document=config.parked_bytes_per_document,
            )
        )

    def __bool__(self) -> bool:
        return bool(self._entries)

    @property
    def senders(self) -> frozenset[str]:
        """Who sent the updates parked now (the suspects of a panic)."""
        return frozenset(entry.sender for entry in self._entries)

    def clear(self) -> None:
        """Forget everything (the Doc was replaced)."""
        self._entries.clear()
        self._bytes = 0

    def track(
        self, encoded_state: bytes, update: bytes, sender: str, *, settle: bool
    ) -> str | None:
        """After ``update`` of ``sender`` was applied and the Doc is at ``encoded_state``:
        forget what the Doc integrated (``settle``: it changed; their senders are in
        ``released``), note what of ``update`` it held back. Returns what ``add`` returns
        (None when nothing was held back)."""
        self.released = self.settle(encoded_state) if settle and self._entries else frozenset()
        if not leaves_parked(update, encoded_state, decode_state_vector(encoded_state)):
            return None
        return self.add(sender, update, time.monotonic())

    def add(self, sender: str, update: bytes, now: float) -> str | None:
        """Record a parked ``update`` of ``sender``.

        Returns:
            None within the limits; ``"sender"`` when ``sender`` is over its own limits,
            ``"document"`` when the document is over its limits (only a new Doc frees what
            yrs holds).
        """
        self._entries.append(_Parked(sender, update, now))
        self._bytes += len(update)
        limits = self.limits
        if len(self._entries) > limits.per_document or self._bytes > limits.bytes_per_document:
            return "document"
        mine = [entry for entry in self._entries if entry.sender == sender]
        if len(mine) > limits.per_sender or sum(len(e.update) for e in mine) > (
            limits.bytes_per_sender
        ):
            return "sender"
        return None

    def settle(self, encoded_state: bytes) -> frozenset[str]:
        """Drop the entries the Doc (now at ``encoded_state``) has integrated.

        Returns:
            the senders of the dropped entries.
        """
        state = decode_state_vector(encoded_state)
        kept, done = [], set()
        for entry in self._entries:
            if leaves_parked(entry.update, encoded_state, state):
                kept.append(entry)
            else:
                done.add(entry.sender)
        self._entries = kept
        self._bytes = sum(len(entry.update) for entry in kept)
        return frozenset(done)

    def expire(self, deadline: float) -> list[str]:
        """The senders of entries parked before ``deadline`` and not reported yet."""
        late = []
        for entry in self._entries:
            if entry.since < deadline and not entry.expired:
                entry.expired = True
                late.append(entry.sender)
        return late
