"""The live side of the web process: the collab server, its authentication, the notes kind's
authorization and its socket.

`TokenAuth` authenticates every collab socket, whatever its kind: the access JWT (`?token=`) or
the browser's `collab_access` cookie; a cookie-authenticated socket must come from our own origin
(cross-site WebSocket hijacking would otherwise ride on the cookie), and a token of an epoch the
user has left is refused with 4401 (api/epochs.py). The principal carries the user's role and
the token's claims.

`NotesAuthorizer` is the `notes` kind's authorizer: the owner and `write` shares edit, `read`
shares get a read-only connection, anyone else is refused with 4403; an unknown note is 4404
and a deleted one 4410. The `users` kind is each user's live feed (`notes.feeds`: only that
user, read-only). The `sessions` kind (live rooms) is `rooms.live.RoomKind`: its own
authorizer and stateless actions (docs/rooms.md); `sessions-notes` (each session's shared
notes) is `rooms.shared_notes.SharedNotesAuthorizer`.

The server is built in the lifespan (it needs the database), so the WebSocket route is a small
ASGI app that dispatches to the routes the lifespan published on `app.state.services`.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import anyio
import anyio.lowlevel
from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from api.epochs import TokenEpochs
from api.errors import ApiError
from api.security import ACCESS_COOKIE
from api.settings import IceServerSetting, Settings
from api.tokens import AccessTokens
from collab import Authenticate, CloseCode, CollabConfig, CollabServer, Extension, Persistence
from collab import Principal as CollabPrincipal
from collab.asgi import routes as collab_routes
from collab.errors import Reject
from collab.extensions.fanout import RedisFanout
from collab.kinds import Authorize, DocumentKind
from media.config import IceServer, RelayLimits
from media.home import HomedMedia, RecordingStore
from media.homeclaim import RedisClaims
from media.relay import MediaRelay
from notes.autoversions import AutoVersions
from notes.feeds import FEED_KIND, FeedAuthorizer, NoteFeed
from notes.meta_mirror import MetaMirror
from notes.search_index import SearchIndexer
from rooms.live import RoomKind
from rooms.media import RoomMedia
from rooms.shared_notes import SharedNotesAuthorizer
from storage.db import Database
from storage.documents import DocumentLog
from storage.note_meta import NoteMetaStore
from storage.notes import Access, NoteRepository
from storage.versions import VersionRepository

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)


class TokenAuth(Extension):
    """Authenticates every collab socket from the access JWT or the same-origin cookie."""

    priority = 500

    def __init__(self, tokens: AccessTokens, epochs: TokenEpochs) -> None:
        self._tokens = tokens
        self._epochs = epochs

    async def on_authenticate(self, event: Authenticate) -> None:
        token = event.token
        if not token:
            token = event.cookies.get(ACCESS_COOKIE)
            if token and not _same_origin(event.headers):
                raise Reject(CloseCode.FORBIDDEN, "cross-origin cookie authentication")
        if not token:
            raise Reject(CloseCode.UNAUTHORIZED, "missing token")
        try:
            claims = self._tokens.decode(token)
            await self._epochs.check(claims)  # signed out everywhere, or deleted
        except ApiError as exc:
            raise Reject(CloseCode.UNAUTHORIZED, exc.message) from exc
        event.principal = CollabPrincipal(
            user_id=str(claims.user_id),
            name=claims.name,
            roles=_roles(claims.role),
            claims=_claims(claims.tier),
        )


@functools.cache
def _roles(role: str) -> frozenset[str]:
    """One shared set per role value (every connection of a role holds the same object)."""
    return frozenset({role})


@functools.cache
def _claims(tier: str) -> Mapping[str, object]:
    """The claims an authorizer may need beyond the role (the subscription tier), one shared
    read-only mapping per value."""
    return MappingProxyType({"tier": tier})


class NotesAuthorizer:
    """The `notes` kind: the owner and write shares edit, read shares read."""

    def __init__(self, database: Database) -> None:
        self._notes = NoteRepository(database)
        self._access = AccessBatcher(self._notes)

    async def authorize(self, event: Authorize) -> None:
        try:
            note_id = uuid.UUID(event.doc_id)
            user_id = uuid.UUID(event.principal.user_id)
        except ValueError as exc:
            raise Reject(CloseCode.NOT_FOUND, "no such note") from exc
        access = await self._access.access(note_id, user_id)
        if access is None:
            note = await self._notes.get(note_id, include_deleted=True)
            if note is None:
                raise Reject(CloseCode.NOT_FOUND, "no such note")
            if note.deleted_at is not None:
                raise Reject(CloseCode.DOCUMENT_DELETED, "note deleted")
            raise Reject(CloseCode.FORBIDDEN, "no access to this note")
        event.read_only = access is Access.READ
        event.role = access.value


Pair = tuple[uuid.UUID, uuid.UUID]


class _Slot:
    __slots__ = ("access", "done", "error")

    def __init__(self) -> None:
        self.done = False
        self.access: Access | None = None
        self.error: Exception | None = None


class AccessBatcher:
    """Concurrent note-access checks share queries: a connect storm of 500 sockets makes a
    handful of ``access_many`` queries instead of 500 (on SQLite they all queue behind one
    connection thread). Nothing is cached: every answer comes from a query that started after
    the check was asked for, so a revoked share is never admitted from memory.

    One waiting check at a time runs a round (``_ROUND`` pairs, oldest first); the others wait
    for the round to end, and one of those still unanswered runs the next. A cancelled round
    puts its pairs back.
    """

    _ROUND = 250

    def __init__(self, notes: NoteRepository) -> None:
        self._notes = notes
        self._pending: dict[Pair, _Slot] = {}
        self._running = False
        self._round_over = anyio.Event()

    async def access(self, note_id: uuid.UUID, user_id: uuid.UUID) -> Access | None:
        """``NoteRepository.access``, batched with the checks asked for meanwhile."""
        key = (note_id, user_id)
        slot = self._pending.setdefault(key, _Slot())
        while not slot.done:
            if self._running:
                await self._round_over.wait()
            else:
                await self._round()
        if slot.error is not None:
            raise slot.error
        return slot.access

    async def _round(self) -> None:
        self._running = True
        try:
            await anyio.lowlevel.checkpoint()  # checks asked for in this loop turn join it
            batch = dict(list(self._pending.items())[: self._ROUND])
            for key in batch:
                del self._pending[key]
            try:
                results = await self._notes.access_many(list(batch))
            except Exception as exc:  # noqa: BLE001 - handed to every waiter of the round
                for slot in batch.values():
                    slot.error, slot.done = exc, True
            except BaseException:  # cancelled: another waiter runs these pairs
                for key, slot in batch.items():
                    self._pending.setdefault(key, slot)
                raise
            else:
                for key, slot in batch.items():
                    slot.access, slot.done = results[key], True
        finally:
            self._running = False
            over, self._round_over = self._round_over, anyio.Event()
            over.set()


def _same_origin(headers: Mapping[str, str]) -> bool:
    origin = headers.get("origin")
    if not origin:
        return True  # not a browser: no ambient-cookie risk
    return urlsplit(origin).netloc == headers.get("host")


def document_extensions(
    database: Database,
    *,
    redis_url: str | None,
    redis_prefix: str,
    node_id: str,
    persist_interval: float,
    shutdown_timeout: float,
) -> list[Extension]:
    """What every collab server of ours runs, web node or worker: the durable log, search
    indexing, the notes rows' mirror of each document's ``meta``, the per-user feed, automatic
    versions and (with Redis) the fan-out."""
    documents = DocumentLog(database)
    feed = NoteFeed(NoteMetaStore(database))
    extensions: list[Extension] = [
        # COLLAB_SHUTDOWN_TIMEOUT bounds the last flush too (a stuck database must not hold
        # SIGTERM for Persistence's own default).
        Persistence(
            documents, flush_interval=persist_interval, final_flush_timeout=shutdown_timeout
        ),
        SearchIndexer(NoteRepository(database)),
        MetaMirror(NoteMetaStore(database), feed),
        feed,
        AutoVersions(VersionRepository(database)),
    ]
    if redis_url:
        extensions.append(
            RedisFanout(redis_url, node_id, key_prefix=redis_prefix, store=documents)
        )
    return extensions


def build_collab(
    *,
    database: Database,
    tokens: AccessTokens,
    epochs: TokenEpochs,
    redis_url: str | None,
    redis_prefix: str,
    node_id: str,
    config: CollabConfig,
    persist_interval: float,
    metrics_registry: CollectorRegistry,
    media: RoomMedia | None = None,
) -> CollabServer:
    """The web node's collab server: token authentication, the notes kind, the sessions kind
    (live rooms, `rooms.live.RoomKind`, with `media.*` signaling when a relay is given), the
    sessions' shared notes and `document_extensions`."""
    rooms = RoomKind(database, media)
    extensions = [
        TokenAuth(tokens, epochs),
        *document_extensions(
            database, redis_url=redis_url, redis_prefix=redis_prefix, node_id=node_id,
            persist_interval=persist_interval, shutdown_timeout=config.shutdown_timeout,
        ),
        rooms,
    ]
    kinds = [
        DocumentKind("notes", NotesAuthorizer(database)),
        DocumentKind(FEED_KIND, FeedAuthorizer()),
        rooms.kind(),
        SharedNotesAuthorizer(database).kind(),
    ]
    return CollabServer(config, extensions, kinds=kinds, metrics_registry=metrics_registry)


def build_media(settings: Settings) -> MediaRelay | None:
    """The process's media relay (docs/media.md), or None with MEDIA_ENABLED=false."""
    if not settings.media_enabled:
        return None

    def servers(values: Sequence[IceServerSetting]) -> list[IceServer]:
        return [IceServer(tuple(v.urls), v.username, v.credential) for v in values]

    limits = RelayLimits(
        publishers_per_room=settings.media_publishers_per_room,
        subscribers_per_room=settings.media_subscribers_per_room,
        connections_per_process=settings.media_connections,
        subscriptions_per_process=settings.media_subscriptions,
        max_video_bitrate=settings.media_max_video_bitrate,
    )
    return MediaRelay(limits, ice_servers=servers(settings.media_server_ice_servers),
                      client_ice_servers=servers(settings.media_ice_servers))


def build_media_home(
    settings: Settings, relay: MediaRelay, redis: Redis[bytes], *, node_id: str, scratch: Path,
    recordings: RecordingStore,
) -> HomedMedia:
    """With Redis: the node's media backend that hosts each room's media on one node (docs/
    media.md, "One media home per room"); enter it after the relay."""
    claims = RedisClaims(redis, node_id, prefix=settings.redis_prefix,
                         ttl=settings.media_home_ttl)
    return HomedMedia(relay, claims, redis, prefix=settings.redis_prefix, scratch=scratch,
                      recordings=recordings, timeout=settings.media_home_timeout)


def note_feed(server: CollabServer) -> NoteFeed | None:
    """The server's per-user feed (``document_extensions`` adds one)."""
    return next((ext for ext in server.extensions if isinstance(ext, NoteFeed)), None)


def live_routes(server: CollabServer) -> list[BaseRoute]:
    return list(collab_routes(server))


class LiveSockets:
    """ASGI app for the WebSocket paths: dispatches to the routes the lifespan published."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = getattr(scope["app"].state, "services", None)
        routes: Sequence[BaseRoute] = getattr(services, "live_routes", ())
        for route in routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                await route.handle({**scope, **child}, receive, send)
                return
        # Accepted, then closed with a code: a y-websocket client refused during the
        # handshake (HTTP 403) retries forever; 4404 tells it to stop.
        if (await receive())["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": int(CloseCode.NOT_FOUND)})
