"""``ReadOnlyGuard``: the built-in extension that enforces read-only connections."""

from __future__ import annotations

from collab.hooks import BeforeHandleMessage, Extension
from collab.protocol import SyncStep2, Update

__all__ = ["ReadOnlyGuard"]


class ReadOnlyGuard(Extension):
    """Built-in, runs first: drops document updates from read-only connections.

    Read-only connections still get sync step 2 for their step 1, and awareness both ways.
    """

    priority = 1_000_000

    async def before_handle_message(self, event: BeforeHandleMessage) -> None:
        """Set ``drop`` for ``Update`` and ``SyncStep2`` from a read-only connection."""
        if event.read_only and isinstance(event.message, Update | SyncStep2):
            event.drop = True
