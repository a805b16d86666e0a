"""``Roster``: the server's table of admitted connections and the limits that span them.

It counts connections in and out (per user: ``max_connections_per_user``), knows when none is
left (shutdown waits for ``drained``), keeps the server-wide send budget
(``send_queue_total_bytes``: over it, the connections holding the most unsent bytes are closed
with 1013, largest first) and closes the senders of updates that waited too long for their
dependencies (4424). The ``CollabServer`` owns one and runs its ``sweep`` periodically.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

import anyio

from collab.config import CollabConfig
from collab.errors import MissingDependencies, SlowConsumer, TooManyConnections

if TYPE_CHECKING:
    from collab.connection import Connection
    from collab.document import Document

__all__ = ["Roster"]


class Roster:
    """Admitted connections by id, with their per-user counts and unsent bytes.

    Args:
        config: the limits (``max_connections_per_user``, ``send_queue_total_bytes``).
    """

    def __init__(self, config: CollabConfig) -> None:
        self.config = config
        self.connections: dict[str, Connection] = {}
        self._per_user: Counter[str] = Counter()
        self._queued = 0  # estimate of the bytes buffered for all connections (``queued``)
        self.drained = anyio.Event()
        """Set while no connection is admitted."""
        self.drained.set()

    def admit(self, connection: Connection) -> None:
        """Count ``connection`` in.

        Raises:
            TooManyConnections: its user is at ``max_connections_per_user`` on this node.
        """
        user = connection.user_id or ""
        if self._per_user[user] >= self.config.max_connections_per_user:
            raise TooManyConnections(f"user {user}")
        self._per_user[user] += 1
        self.connections[connection.connection_id] = connection
        self.drained = anyio.Event()

    def discharge(self, connection: Connection) -> None:
        """Count ``connection`` out (idempotent)."""
        if self.connections.pop(connection.connection_id, None) is None:
            return
        user = connection.user_id or ""
        self._per_user[user] -= 1
        if self._per_user[user] <= 0:
            del self._per_user[user]
        if not self.connections:
            self.drained.set()

    def queued(self, delta: int) -> None:
        """A connection's buffered bytes changed by ``delta``; over ``send_queue_total_bytes``
        the estimate is recounted, and shed if it is real."""
        self._queued += delta
        if self._queued > self.config.send_queue_total_bytes:
            self.shed()

    def shed(self) -> None:
        """Recount the bytes buffered for all connections; while over
        ``send_queue_total_bytes``, close (1013) the connections holding the most."""
        held = [(c.held(), c) for c in list(self.connections.values())]
        total = sum(size for size, _ in held)
        budget = self.config.send_queue_total_bytes
        if total > budget:
            held.sort(key=lambda pair: pair[0], reverse=True)
            for size, connection in held:
                if total <= budget:
                    break
                connection.abort(SlowConsumer("server send budget"))
                connection.held()  # 0 from now on: it is closing
                total -= size
        self._queued = total

    def sweep(self, now: float, documents: Iterable[Document]) -> None:
        """Close stalled and idle connections (``Connection.check``), the senders of updates
        parked since before ``now - parked_timeout`` (4424), and shed over the budget."""
        for connection in list(self.connections.values()):
            connection.check(now)
        deadline = now - self.config.parked_timeout
        for document in list(documents):
            if document.parked:
                for sender in document.parked.expire(deadline):
                    late = self.connections.get(sender)
                    if late is not None:
                        late.abort(MissingDependencies(document.name))
        self.shed()
