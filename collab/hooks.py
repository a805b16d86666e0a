"""The extension model: an ``Extension`` base with no-op async hooks, one event per hook.

Extensions run sequentially in ``priority`` order (higher first, ties in list order). A hook
refuses by raising ``Reject(code, reason)``; it skips the remaining extensions for this event by
raising ``StopHooks``; it communicates through the event's explicit OUTPUT fields (for example
``Authenticate.principal``), never through return values. Any other exception is an extension
crash: the connection boundary logs it and closes with 1011.

An extension that owns resources (a Redis client, a flush loop) is also an async context
manager; ``CollabServer`` enters it in its exit stack, in list order, and exits in reverse.
Before that, ``on_configure`` hands every extension the server it runs in (to apply changes
through ``server.open_direct(...)`` or peers' changes through ``apply_remote_update``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, ClassVar, Literal

from collab.control import Control
from collab.errors import Reject
from collab.protocol import Message
from collab.types import YDoc

if TYPE_CHECKING:
    from collab.server import CollabServer

__all__ = [
    "AfterLoadDocument",
    "AfterStoreDocument",
    "AfterUnloadDocument",
    "Authenticate",
    "AwarenessChange",
    "BeforeHandleMessage",
    "BeforeUnloadDocument",
    "Change",
    "Configure",
    "Connect",
    "ControlApplied",
    "Disconnect",
    "Extension",
    "Hooks",
    "LoadDocument",
    "Origin",
    "Principal",
    "Reject",
    "StatelessBroadcast",
    "StopHooks",
    "StoreDocument",
]


log = logging.getLogger(__name__)


class StopHooks(Exception):
    """Raised by a hook to skip the remaining extensions for this event. Not an error."""


_NO_CLAIMS: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated user behind a connection.

    Attributes:
        user_id: stable id (the awareness stamp and per-user limits use it).
        name: display name (stamped into awareness).
        roles: deployment-wide roles from the credentials (``{"admin"}``); a role *in a
            document* (host, attendee) is decided per kind by its ``Authorizer``.
        claims: the verified credential's other claims, for authorizers that need them.
    """

    user_id: str
    name: str
    roles: frozenset[str] = frozenset()
    claims: Mapping[str, object] = field(default_factory=lambda: _NO_CLAIMS)


OriginKind = Literal["client", "server", "peer"]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a document change came from; every mutation carries one.

    Build with ``Origin.CLIENT(connection_id)``, ``Origin.SERVER(actor)`` or
    ``Origin.PEER(node_id)``. Persistence skips PEER changes (the receiving node stored them);
    fan-out skips PEER changes (they came from the bus).
    """

    kind: OriginKind
    id: str

    @classmethod
    def CLIENT(cls, connection_id: str) -> Origin:
        """A change sent by the WebSocket connection ``connection_id``."""
        return cls("client", connection_id)

    @classmethod
    def SERVER(cls, actor: str) -> Origin:
        """A change made in-process through ``CollabServer.open_direct(..., actor=actor)``."""
        return cls("server", actor)

    @classmethod
    def PEER(cls, node_id: str) -> Origin:
        """A change relayed from another collab node (``apply_remote_update``)."""
        return cls("peer", node_id)


@dataclass(slots=True)
class Configure:
    """Fired once per extension when the server starts, before extensions are entered."""

    server: CollabServer


@dataclass(slots=True)
class Connect:
    """Fired when a WebSocket is accepted, before authentication."""

    document: str
    kind: str
    doc_id: str
    connection_id: str
    headers: Mapping[str, str]


@dataclass(slots=True)
class Authenticate:
    """Fired once per connection before any sync. An accepting extension sets ``principal``."""

    document: str  # "notes/<uuid>"
    kind: str  # "notes"
    doc_id: str  # "<uuid>"
    token: str | None  # from ?token=...
    cookies: Mapping[str, str]
    headers: Mapping[str, str]
    connection_id: str
    principal: Principal | None = None  # OUTPUT: set by the extension that accepts
    read_only: bool = False  # OUTPUT


@dataclass(slots=True)
class LoadDocument:
    """Fired once per load (single-flight): apply the stored state to ``doc``."""

    document: str
    doc: YDoc


@dataclass(slots=True)
class AfterLoadDocument:
    """Fired after a document is loaded and registered, before any client syncs with it."""

    document: str
    doc: YDoc


@dataclass(slots=True)
class BeforeHandleMessage:
    """Fired for every decoded client message; set ``drop`` to ignore the message."""

    document: str
    connection_id: str
    principal: Principal
    read_only: bool
    message: Message
    drop: bool = False  # OUTPUT


@dataclass(slots=True)
class Change:
    """Fired after an update changed the document; ``update`` is the applied diff."""

    document: str
    update: bytes
    origin: Origin


@dataclass(slots=True)
class AwarenessChange:
    """Fired after awareness states changed; ``payload`` is the y-protocols awareness update
    (identity already stamped) that was broadcast."""

    document: str
    payload: bytes
    origin: Origin
    removed: Sequence[int] = field(default_factory=tuple)


@dataclass(slots=True)
class StatelessBroadcast:
    """Fired after a stateless message was sent to this node's opted-in connections of
    ``document``; fan-out relays it to the other nodes (at most once, like awareness). With
    ``user_id`` it is addressed to that user's connections only, on every node."""

    document: str
    payload: str
    origin: Origin
    user_id: str | None = None


@dataclass(slots=True)
class ControlApplied:
    """Fired after a control command (close, read-only, role) was applied on this node;
    fan-out relays commands with a non-PEER origin to every other node."""

    command: Control
    origin: Origin
    affected: int  # connections on this node that the command changed or closed


@dataclass(slots=True)
class StoreDocument:
    """Fired debounced after changes, and on unload and shutdown: make the state durable.
    Raising keeps the document in memory (it is retried later)."""

    document: str
    doc: YDoc


@dataclass(slots=True)
class AfterStoreDocument:
    """Fired after every ``on_store_document`` hook succeeded."""

    document: str


@dataclass(slots=True)
class Disconnect:
    """Fired when a connection ended (after it was authenticated and registered)."""

    document: str
    connection_id: str
    principal: Principal | None
    code: int


@dataclass(slots=True)
class BeforeUnloadDocument:
    """Fired before an idle document is unloaded (after its stores were flushed)."""

    document: str
    doc: YDoc


@dataclass(slots=True)
class AfterUnloadDocument:
    """Fired after the document left the registry."""

    document: str


class Extension:
    """Override the hooks you need; every hook is a no-op by default.

    ``priority``: higher runs first (persistence loads before fan-out subscribes).
    """

    priority: ClassVar[int] = 100

    async def on_configure(self, event: Configure) -> None:
        """The server this extension runs in (called before the extension is entered)."""

    async def on_connect(self, event: Connect) -> None:
        """A WebSocket was accepted. Raise ``Reject`` to refuse it."""

    async def on_authenticate(self, event: Authenticate) -> None:
        """Set ``event.principal`` (and ``read_only``) to accept; ``Reject`` to refuse."""

    async def on_load_document(self, event: LoadDocument) -> None:
        """Apply the stored state to ``event.doc``."""

    async def after_load_document(self, event: AfterLoadDocument) -> None:
        """The document is live (subscribe to peers here)."""

    async def before_handle_message(self, event: BeforeHandleMessage) -> None:
        """Inspect a client message; set ``event.drop`` to ignore it."""

    async def on_change(self, event: Change) -> None:
        """An update was applied (queue it for storage, publish it to peers)."""

    async def on_awareness_update(self, event: AwarenessChange) -> None:
        """Awareness states changed (publish them to peers)."""

    async def on_stateless_broadcast(self, event: StatelessBroadcast) -> None:
        """A stateless message was broadcast to this node's connections (relay it)."""

    async def on_control(self, event: ControlApplied) -> None:
        """A control command was applied on this node (relay it to the others)."""

    async def on_store_document(self, event: StoreDocument) -> None:
        """Make the document durable now; raise to keep it in memory."""

    async def after_store_document(self, event: AfterStoreDocument) -> None:
        """The document was stored."""

    async def on_disconnect(self, event: Disconnect) -> None:
        """A connection ended."""

    async def before_unload_document(self, event: BeforeUnloadDocument) -> None:
        """The document is about to be unloaded (unsubscribe here)."""

    async def after_unload_document(self, event: AfterUnloadDocument) -> None:
        """The document was unloaded."""


class Hooks:
    """Runs one hook across the extensions, sequentially, in priority order.

    Usage: ``await hooks.run(lambda ext: ext.on_change(event))``.
    """

    def __init__(self, extensions: Sequence[Extension]) -> None:
        indexed = list(enumerate(extensions))
        indexed.sort(key=lambda pair: (-pair[1].priority, pair[0]))
        self.extensions: tuple[Extension, ...] = tuple(ext for _, ext in indexed)

    async def run(self, call: Callable[[Extension], Awaitable[None]]) -> None:
        """Call ``call(extension)`` for each extension until one raises ``StopHooks``.

        Raises:
            Reject: an extension refused; the remaining ones are not called.
            Exception: an extension crashed; the remaining ones are not called.
        """
        with contextlib.suppress(StopHooks):
            for extension in self.extensions:
                await call(extension)

    async def notify(self, call: Callable[[Extension], Awaitable[None]]) -> None:
        """Like ``run``, for after-the-fact notifications (``on_change``): a crashing extension
        does not keep the later ones from hearing about the change (persistence and fan-out
        still get it); the first failure is re-raised once every extension ran.

        Raises:
            Exception: the first extension failure (already logged).
        """
        first: Exception | None = None
        for extension in self.extensions:
            try:
                await call(extension)
            except StopHooks:
                break
            except Exception as exc:
                log.error("extension %s failed", type(extension).__name__, exc_info=exc)
                first = first or exc
        if first is not None:
            raise first
