"""Document kinds: who may open a document of a kind, and what it does with stateless messages.

A document is named ``{kind}/{id}``. Authentication (who is asking) is kind-independent and
done by ``Extension.on_authenticate``; authorization (what that principal may do with this
document) belongs to the kind. Register one ``DocumentKind`` per kind with the server::

    CollabServer(config, extensions, kinds=[
        DocumentKind("notes", NotesAuthorizer(...)),                  # stateless refused
        DocumentKind("sessions", RoomAuthorizer(...), stateless=RoomActions(...)),
    ])

A kind without a ``stateless`` handler refuses stateless messages (1002), so plain documents
keep speaking y-websocket only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import anyio

from collab.channel import ConnectRequest
from collab.config import CollabConfig
from collab.errors import Timeout, Unauthorized
from collab.hooks import Authenticate, Connect, Hooks, Principal

__all__ = [
    "Authorize",
    "Authorizer",
    "DocumentKind",
    "StatelessHandler",
    "StatelessReceived",
    "admit",
]


@dataclass(slots=True)
class Authorize:
    """Asked once per connection, after authentication and before anything is synced.

    The authorizer accepts by returning (optionally setting the outputs) and refuses by
    raising ``Reject`` (4403 forbidden, 4404 unknown, 4410 deleted, ...).
    """

    document: str  # "notes/<uuid>"
    kind: str
    doc_id: str
    connection_id: str
    principal: Principal
    read_only: bool = False  # OUTPUT: updates from this connection are dropped
    role: str | None = None  # OUTPUT: the principal's role in this document ("host", ...)


class Authorizer(Protocol):
    """Decides what a principal may do with one document of a kind."""

    async def authorize(self, event: Authorize) -> None:
        """Return to accept (set ``read_only``/``role``); raise ``Reject`` to refuse."""


@dataclass(slots=True)
class StatelessReceived:
    """A stateless message from a client (type 100, status 0), for the kind's handler.

    The handler answers through the outputs, applied in this order once it returns:
    ``reject(reason)`` sends the sender a rejection and nothing else; otherwise every
    ``reply`` goes to the sender and every ``broadcast`` to the document's other opted-in
    connections on every node. Raising ``Reject`` closes the sender's connection.
    """

    document: str
    kind: str
    doc_id: str
    connection_id: str
    principal: Principal
    read_only: bool
    role: str | None
    payload: str
    replies: list[str] = field(default_factory=list)  # OUTPUT
    broadcasts: list[str] = field(default_factory=list)  # OUTPUT
    rejection: str | None = None  # OUTPUT

    def reply(self, payload: str) -> None:
        """Send ``payload`` back to the sender."""
        self.replies.append(payload)

    def broadcast(self, payload: str) -> None:
        """Send ``payload`` to every other opted-in connection of the document, on every node."""
        self.broadcasts.append(payload)

    def reject(self, reason: str) -> None:
        """Refuse the message: the sender gets a rejection with ``reason``, nobody else hears."""
        self.rejection = reason


class StatelessHandler(Protocol):
    """Handles the stateless messages of one kind of document."""

    async def on_stateless(self, event: StatelessReceived) -> None:
        """Validate and act on ``event.payload``; answer through the event's outputs."""


@dataclass(frozen=True, slots=True)
class DocumentKind:
    """One kind of document the server hosts.

    Attributes:
        name: the ``{kind}`` of ``/collab/{kind}/{id}``.
        authorizer: decides each connection's access; None lets any authenticated principal
            edit (for tests and embedded use; a deployment registers an authorizer).
        stateless: handles stateless messages; None refuses them (1002).
    """

    name: str
    authorizer: Authorizer | None = None
    stateless: StatelessHandler | None = None


async def admit(
    hooks: Hooks,
    kind: DocumentKind | None,
    request: ConnectRequest,
    connection_id: str,
    config: CollabConfig,
) -> Authorize:
    """Who is asking (``on_connect``, ``on_authenticate``) and what they may do with this
    document (the kind's authorizer), within ``auth_timeout``.

    Returns:
        the accepted grant: principal, read-only flag, role.

    Raises:
        Unauthorized: no extension authenticated the connection (``require_principal``).
        Timeout: authentication and authorization took over ``auth_timeout``.
        Reject: a hook or the authorizer refused.
    """
    name = request.document
    connect = Connect(name, request.kind, request.doc_id, connection_id, request.headers)
    await hooks.run(lambda ext: ext.on_connect(connect))
    auth = Authenticate(
        document=name,
        kind=request.kind,
        doc_id=request.doc_id,
        token=request.token,
        cookies=request.cookies,
        headers=request.headers,
        connection_id=connection_id,
    )
    try:
        with anyio.fail_after(config.auth_timeout):
            await hooks.run(lambda ext: ext.on_authenticate(auth))
            principal = auth.principal
            if principal is None:
                if config.require_principal:
                    raise Unauthorized("no extension authenticated the connection")
                principal = Principal(f"anonymous:{connection_id}", "Anonymous")
            grant = Authorize(name, request.kind, request.doc_id, connection_id, principal,
                              read_only=auth.read_only)
            if kind is not None and kind.authorizer is not None:
                await kind.authorizer.authorize(grant)
    except TimeoutError:
        raise Timeout("authentication") from None
    return grant
