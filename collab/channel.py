"""The transport seam of a connection: ``Channel`` and what a new connection carries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["Channel", "ConnectRequest"]


class Channel(Protocol):
    """A message-oriented transport (a WebSocket, or an in-memory pair in tests)."""

    async def receive(self) -> bytes:
        """The next binary message. Raises ``ConnectionClosed`` or ``UnsupportedData``."""
        ...

    async def send(self, data: bytes) -> None:
        """Send one binary message. Raises ``ConnectionClosed``."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame (idempotent)."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """What the transport knows about a new connection."""

    kind: str
    doc_id: str
    token: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def document(self) -> str:
        """The document name, ``"{kind}/{doc_id}"``."""
        return f"{self.kind}/{self.doc_id}"
