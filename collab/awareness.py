"""Awareness (presence) states of one document, sans-I/O: ownership, identity, clocks.

The server relays y-protocols awareness but keeps its own view so that it can

* stamp identity: every state a connection sends gets ``state["user"] = {"id", "name",
  "color"}`` (and ``"role"`` when the connection has one) from its principal, whatever the
  client wrote (no impersonation);
* enforce ownership: a client id belongs to the connection that first announced it (or to
  another connection of the same user, which takes it over on reconnect); entries for client
  ids owned by someone else are dropped;
* announce removals when a connection ends (otherwise presence lingers: docs/hazards.md);
* relay nothing for a provider's initial clock-0 state (y-protocols peers ignore it): a client
  shows up with its first real state (clock 1);
* keep clocks monotonic per client id as peers see them. Peers ignore a state whose clock is not
  above the one they hold, and after our removal they hold ``clock + 1`` while a reconnecting
  client re-sends its old clock. The server therefore keeps ``out_clock`` per client id and
  relays ``max(client clock, out_clock + 1)``; the owner never gets its own entries back, so
  it never sees the rewritten clock.

The server never has a local state of its own (a server entry would show up in every client).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from collab.protocol import (
    AwarenessEntry,
    RawAwarenessEntry,
    encode_awareness_entry,
    encode_awareness_state,
    join_awareness_entries,
)

__all__ = ["AwarenessStates", "color_for", "stamp_for"]

_PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0",
    "#f032e6", "#bcf60c", "#008080", "#9a6324", "#800000", "#000075",
)  # fmt: skip


def color_for(user_id: str) -> str:
    """A deterministic cursor colour for ``user_id`` (same on every node and restart)."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return _PALETTE[digest[0] % len(_PALETTE)]


def stamp_for(user_id: str, name: str, role: str | None = None) -> dict[str, str]:
    """The ``user`` object the server writes into every awareness state of that user; with
    ``role`` when the document's authorizer gave the connection one (a room's host, ...)."""
    stamp = {"id": user_id, "name": name, "color": color_for(user_id)}
    if role is not None:
        stamp["role"] = role
    return stamp


@dataclass(slots=True)
class _Client:
    owner: str  # connection id, or "peer:<node>"
    user: str  # user id (or the owner for peers): same user may take over on reconnect
    clock: int  # last clock accepted from the owner
    out_clock: int  # last clock relayed to others
    state: dict[str, Any] | None  # None = removed (a tombstone that remembers out_clock)
    updated: float
    raw: bytes  # the state's JSON as relayed (reused for every frame, compared for echoes)
    wire: bytes | None = None  # the encoded entry as relayed (filled by snapshot_payload)

    @property
    def relayed(self) -> bool:
        """Whether peers were ever told of this client (not for an initial clock-0 state)."""
        return self.out_clock > 0


class AwarenessStates:
    """The awareness states of one document, keyed by awareness client id.

    Args:
        max_clients_per_owner: client ids one connection may announce (a browser tab uses 1).
        tombstone_ttl: seconds a removed client id's clock is remembered.
    """

    def __init__(self, *, max_clients_per_owner: int = 4, tombstone_ttl: float = 300.0) -> None:
        self._clients: dict[int, _Client] = {}
        self._max_per_owner = max_clients_per_owner
        self._tombstone_ttl = tombstone_ttl

    def __len__(self) -> int:
        return sum(1 for c in self._clients.values() if c.state is not None)

    def is_echo(self, owner: str, entry: RawAwarenessEntry) -> bool:
        """Whether ``entry`` is a byte-identical copy of a live state we relayed, sent back by
        another connection with a clock we already relayed: ``apply`` would drop it, and its
        JSON is known to be valid, so it needs no parsing (y-websocket providers echo every
        state they receive: n clients, n - 1 echoes of each change)."""
        current = self._clients.get(entry.client_id)
        return (
            current is not None
            and current.owner != owner
            and current.state is not None
            and entry.clock <= current.out_clock
            and entry.raw == current.raw
        )

    def apply(
        self,
        owner: str,
        user: str,
        entries: list[AwarenessEntry],
        stamp: dict[str, str] | None,
        now: float,
    ) -> list[AwarenessEntry]:
        """Apply entries sent by ``owner``; return the entries to relay to everyone else.

        Args:
            owner: the sending connection id (or ``"peer:<node>"``).
            user: the principal's user id (ownership may move between the same user's
                connections).
            entries: decoded awareness entries.
            stamp: the ``user`` object to force into every state, or None (peer states are
                already stamped by their node).
            now: a monotonic timestamp.
        """
        relay: list[AwarenessEntry] = []
        for entry in entries:
            current = self._clients.get(entry.client_id)
            claiming = current is None or current.owner != owner
            if claiming and current is not None and current.user != user:
                # Someone else's client id, live or removed: never let one user clobber another
                # (client ids are random per browser tab, so after that user left this is a
                # late echo of their last state or of its removal, never a new one).
                continue
            if entry.state is None and (current is None or current.state is None):
                continue  # removing what is not there: nothing to tell anyone
            # The same user's *other live* connection: a y-websocket provider echoes every
            # state it receives, so this is usually that echo, carrying a clock we already
            # relayed. Only a strictly newer clock moves a live id; a reconnect after the old
            # connection ended (state removed) claims it with its old clock.
            if (
                claiming
                and current is not None
                and current.state is not None
                and entry.clock <= current.out_clock
            ):
                continue
            if (
                claiming
                and entry.state is not None
                and self._owned_count(owner) >= (self._max_per_owner)
            ):
                continue
            if current is not None and not claiming:
                newer = entry.clock > current.clock
                removal = (
                    entry.clock == current.clock
                    and entry.state is None
                    and current.state is not None
                )
                if not (newer or removal):
                    continue
            state = entry.state
            if state is not None and stamp is not None:
                state = {**state, "user": dict(stamp)}
                raw = encode_awareness_state(state)
            else:
                raw = entry.raw if entry.raw is not None else encode_awareness_state(state)
            silent = current is None or not current.relayed
            if entry.clock == 0 and state is not None and silent:
                # A provider's initial ``{}`` state (clock 0): y-protocols peers ignore clock 0
                # from a client they do not know, and so do we. The id is claimed but nothing
                # is relayed until the client sets a state (clock 1): relaying it would make a
                # room of n silent clients cost n^2 states, each echoed back by n providers.
                self._clients[entry.client_id] = _Client(owner, user, 0, 0, state, now, raw)
                continue
            out = entry.clock if current is None else max(entry.clock, current.out_clock + 1)
            self._clients[entry.client_id] = _Client(
                owner, user, entry.clock, out, state, now, raw
            )
            relay.append(AwarenessEntry(entry.client_id, out, state, raw))
        return relay

    def remove_owner(self, owner: str, now: float) -> list[AwarenessEntry]:
        """Remove every live state of ``owner`` (its connection ended).

        Returns:
            the removal entries (``state=None``, clock advanced) to relay to everyone.
        """
        removed: list[AwarenessEntry] = []
        for client_id, client in self._clients.items():
            if client.owner != owner or client.state is None:
                continue
            client.state = None
            client.updated = now
            if not client.relayed:
                continue  # nobody was told of it: nothing to announce
            client.raw = b"null"
            client.wire = None
            client.out_clock += 1
            removed.append(AwarenessEntry(client_id, client.out_clock, None, b"null"))
        self._prune(now)
        return removed

    def owner_of(self, client_id: int) -> str | None:
        """The owner of a live state, or None."""
        client = self._clients.get(client_id)
        return client.owner if client is not None and client.state is not None else None

    def snapshot(
        self, now: float, max_age: float = 30.0, *, local_only: bool = False
    ) -> list[AwarenessEntry]:
        """Every live state updated within ``max_age`` seconds (for a joiner or a query).

        y-protocols clients drop states not renewed for 30 s, so older ones are stale.
        ``local_only`` leaves out the states relayed from other nodes.
        """
        return [
            AwarenessEntry(client_id, c.out_clock, c.state, c.raw)
            for client_id, c in self._clients.items()
            if c.state is not None
            and c.relayed
            and now - c.updated <= max_age
            and not (local_only and c.owner.startswith("peer:"))
        ]

    def snapshot_payload(self, now: float, max_age: float = 30.0) -> bytes | None:
        """``snapshot`` encoded as one awareness update payload, or None when it is empty.

        Each state's encoded entry is kept until the state changes, so every state is encoded
        once, not once per joiner (a connect storm sends each joiner all states before it).
        """
        wires = []
        for client_id, c in self._clients.items():
            if c.state is None or not c.relayed or now - c.updated > max_age:
                continue
            wire = c.wire
            if wire is None:
                wire = c.wire = encode_awareness_entry(
                    AwarenessEntry(client_id, c.out_clock, c.state, c.raw)
                )
            wires.append(wire)
        return join_awareness_entries(wires) if wires else None

    def _owned_count(self, owner: str) -> int:
        return sum(1 for c in self._clients.values() if c.owner == owner and c.state is not None)

    def _prune(self, now: float) -> None:
        stale = [
            client_id
            for client_id, c in self._clients.items()
            if c.state is None and now - c.updated > self._tombstone_ttl
        ]
        for client_id in stale:
            del self._clients[client_id]
