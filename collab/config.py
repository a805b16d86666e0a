"""``CollabConfig``: every limit, deadline and delay of the collab server, as plain values."""

from __future__ import annotations

from dataclasses import dataclass

from collab.errors import CloseCode

__all__ = ["CollabConfig"]

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CollabConfig:
    """Configuration of a ``CollabServer``. All sizes in bytes, all durations in seconds.

    Attributes:
        kinds: accepted document kinds (``/collab/{kind}/{id}``) when the server is built
            without ``kinds=`` registrations (which then decide); others close with 4404.
        max_message_size: largest accepted frame (1009 above). Large enough for a long offline
            batch; the ASGI server's own limit (uvicorn ``ws_max_size``, 16 MiB by default)
            must be at least this.
        max_document_size: approximate encoded size above which updates are refused (4413):
            the encoded state at load plus every update applied since.
        max_connections_per_document: 4429 above.
        max_connections_per_user: per principal, across documents, on this node; 4429 above.
        max_messages_per_second: sustained per-connection message rate (token bucket).
        message_burst: bucket size; above the rate once the bucket is empty => 1013.
        send_queue_bytes: bounded outbound buffer per connection, in bytes: what the server
            buffered plus the socket's write buffer (a single message larger than this is
            still sent when the buffer is empty); over it => 1013. The frames that sync a
            client (sync step 1, the step 2 reply, the awareness at open) are always queued
            and do not count against it while they drain; a client asking for another sync
            while this much of them is still buffered => 1013.
        send_queue_total_bytes: the same across all connections of the server: over it, the
            connections holding the most buffered bytes are closed (1013) until it holds.
        send_timeout: a peer that takes no data for this long is a slow consumer (1013).
        auth_timeout: authentication must finish within this (4408).
        idle_timeout: close with 4408 after this long without any message; None disables it
            (liveness is then left to WebSocket pings of the ASGI server).
        load_timeout: loading a document must finish within this (1011).
        unload_delay: grace period after the last connection leaves before unloading.
        store_debounce: ``on_store_document`` runs this long after the last change...
        store_max_debounce: ...but no later than this after the first unstored change.
        awareness_interval: awareness relays of a document are coalesced (latest state wins)
            to at most one broadcast per interval: a presence storm cannot flood the room.
        awareness_clients_per_connection: awareness client ids one connection may announce.
        parked_updates_per_connection / parked_bytes_per_connection: updates (and their
            bytes) of one connection that yrs holds back until their dependencies arrive;
            over either => 4424.
        parked_updates_per_document / parked_bytes_per_document: the same for a document,
            whoever sent them (also from connections that left); over either => 4424 for the
            sender, and the Doc is rebuilt from the store without them.
        parked_timeout: a connection whose update still waits for its dependencies after this
            long is closed with 4424 (what yrs holds of it stays suspect until a rebuild).
        shutdown_timeout: how long shutdown waits for connections and stores before
            cancelling.
        shutdown_close_code: the code open connections get on shutdown (1001, or 1012 for a
            restart).
        require_principal: refuse (4401) connections no extension authenticated.
        max_stateless_size: largest stateless message (type 100) frame (1009 above).
        stateless_per_second: sustained per-connection rate of stateless messages (they also
            count against ``max_messages_per_second``) ...
        stateless_burst: ... and its bucket; above the rate once empty => 1013.
        skip_gc: create Docs with ``skip_gc`` (keeps deleted content; needed only for pycrdt
            snapshots, which we do not use: versions are full encoded states).
    """

    kinds: frozenset[str] = frozenset({"notes", "sessions"})
    max_message_size: int = 16 * MiB
    max_document_size: int = 64 * MiB
    max_connections_per_document: int = 1000
    max_connections_per_user: int = 100
    max_messages_per_second: float = 100.0
    message_burst: int = 500
    send_queue_bytes: int = 16 * MiB
    send_queue_total_bytes: int = 512 * MiB
    send_timeout: float = 30.0
    auth_timeout: float = 10.0
    idle_timeout: float | None = None
    load_timeout: float = 30.0
    unload_delay: float = 5.0
    store_debounce: float = 2.0
    store_max_debounce: float = 10.0
    awareness_interval: float = 0.025
    awareness_clients_per_connection: int = 4
    parked_updates_per_connection: int = 32
    parked_bytes_per_connection: int = 1 * MiB
    parked_updates_per_document: int = 256
    parked_bytes_per_document: int = 8 * MiB
    parked_timeout: float = 30.0
    shutdown_timeout: float = 10.0
    shutdown_close_code: CloseCode = CloseCode.GOING_AWAY
    require_principal: bool = True
    max_stateless_size: int = 64 * 1024
    stateless_per_second: float = 20.0
    stateless_burst: int = 60
    skip_gc: bool = False
