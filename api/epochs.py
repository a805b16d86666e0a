"""Per-user token epochs: how "sign out everywhere", a password change and a deleted account
reach every access token at once, on every route and every node.

Access tokens are stateless JWTs that live 15 minutes. Each carries the user's token epoch at
issue (claim ``ep``, api/tokens.py); raising the epoch (storage ``users.token_epoch``) refuses
every token issued before, and a deleted user has no epoch at all. The check sits in two places:

* ``EpochGate``, an ASGI middleware, checks the token an ``/api/`` request carries before the
  route runs and marks the request; ``api.security.optional_principal`` refuses a marked one
  (routes that authenticate nobody, like sign-in, are not affected by a stale cookie).
* ``api.live.TokenAuth`` checks every collab socket when it connects; open sockets are closed
  by the control command the change sends to every node (``close_user_everywhere``).

Invariants:
* A cached epoch is never older than the last ``forget`` of its user on this node: a lookup
  that started before a ``forget`` does not store its answer (the generation check).
* On more than one node the cache is used only while this node hears the other nodes'
  changes (``RedisEpochBus`` subscribed); otherwise every check reads the database. The
  issuing node forgets before it answers, the others when the notice arrives (milliseconds).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import anyio
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ApiError, unauthorized
from api.tokens import AccessClaims

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["EpochBus", "EpochGate", "EpochSource", "RedisEpochBus", "TokenEpochs"]

log = logging.getLogger(__name__)

REVOKED_STATE = "token_refusal"  # request.state attribute set by EpochGate (an ApiError)
CHECKED_STATE = "token_epoch_checked"
_CACHE_MAX = 50_000  # users remembered (~200 B each)


class EpochSource(Protocol):
    """Where epochs are stored (``storage.users.UserRepository``)."""

    async def token_epochs(self, user_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
        """The epoch of each existing user among ``user_ids``; a deleted one is absent."""
        ...


class EpochBus(Protocol):
    """Tells the other nodes that a user's epoch changed."""

    async def announce(self, user_id: uuid.UUID) -> None:
        """Publish the change (best effort: a node that misses it does not cache)."""
        ...


class _Lookup:
    __slots__ = ("done", "epoch", "error")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.epoch: int | None = None
        self.error: BaseException | None = None


class TokenEpochs:
    """The current epoch of each user, cached for ``ttl`` seconds and forgotten on change.

    Concurrent lookups of one user share one query (a reconnect storm of one user's tabs).
    ``caching`` is False on a node that cannot hear the other nodes' changes.
    """

    def __init__(
        self,
        source: EpochSource,
        *,
        ttl: float = 60.0,
        caching: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self.caching = caching
        self._cache: dict[uuid.UUID, tuple[int | None, float]] = {}
        self._pending: dict[uuid.UUID, _Lookup] = {}
        self._generation = 0

    async def current(self, user_id: uuid.UUID) -> int | None:
        """The user's epoch, or None when the account does not exist."""
        if self.caching:
            cached = self._cache.get(user_id)
            if cached is not None and self._clock() - cached[1] < self._ttl:
                return cached[0]
        lookup = self._pending.get(user_id)
        if lookup is None:
            return await self._lookup(user_id)
        await lookup.done.wait()
        if lookup.error is not None:
            raise lookup.error
        return lookup.epoch

    async def _lookup(self, user_id: uuid.UUID) -> int | None:
        lookup = self._pending[user_id] = _Lookup()
        generation = self._generation
        try:
            found = await self._source.token_epochs([user_id])
            lookup.epoch = found.get(user_id)
        except BaseException as exc:
            lookup.error = exc
            raise
        finally:
            del self._pending[user_id]
            lookup.done.set()
        if self.caching and generation == self._generation:
            if len(self._cache) >= _CACHE_MAX:
                del self._cache[next(iter(self._cache))]  # the oldest
            self._cache[user_id] = (lookup.epoch, self._clock())
        return lookup.epoch

    def forget(self, user_id: uuid.UUID) -> None:
        """The user's epoch changed (here or on another node): read it again next time."""
        self._generation += 1
        self._cache.pop(user_id, None)

    def forget_all(self) -> None:
        self._generation += 1
        self._cache.clear()

    async def check(self, claims: AccessClaims) -> None:
        """Refuse a token of a deleted account or of an epoch the user has left.

        Raises:
            ApiError: 401 ``token_revoked`` or ``unauthorized``.
        """
        epoch = await self.current(claims.user_id)
        if epoch is None:
            raise unauthorized("account no longer exists")
        if claims.epoch < epoch:
            raise ApiError(
                401,
                "access token revoked (signed out everywhere or password changed): sign in again",
                code="token_revoked",
                headers={"WWW-Authenticate": "Bearer"},
            )


class EpochGate:
    """ASGI middleware: checks the epoch of the access token an ``/api/`` request carries.

    The token is taken as ``optional_principal`` takes it (bearer header, else the cookie). An
    unreadable token is left to the route (its own 401). A refused one is recorded on the
    request, and ``optional_principal`` raises it: only routes that authenticate are refused.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self._check(Request(scope))
        await self.app(scope, receive, send)

    async def _check(self, request: Request) -> None:
        from api.security import ACCESS_COOKIE  # api.security reads this module's marks

        services = getattr(request.app.state, "services", None)
        epochs = getattr(services, "epochs", None)
        if services is None or epochs is None:
            return  # before the lifespan: routes answer 503/500 on their own
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
        token = token or request.cookies.get(ACCESS_COOKIE)
        if not token:
            return
        try:
            claims = services.tokens.decode(token)
        except ApiError:
            return  # the route's own authentication answers it
        try:
            await epochs.check(claims)
        except ApiError as exc:
            setattr(request.state, REVOKED_STATE, exc)
        setattr(request.state, CHECKED_STATE, token)


class RedisEpochBus:
    """Epoch changes over Redis pub/sub: every node forgets the user when one announces.

    ``run`` keeps the subscription and sets ``epochs.caching`` True only while it is
    subscribed: a node that could miss a notice reads every epoch from the database.
    """

    def __init__(self, redis: Redis[bytes], channel: str, epochs: TokenEpochs) -> None:
        self._redis = redis
        self._channel = channel
        self._epochs = epochs

    async def announce(self, user_id: uuid.UUID) -> None:
        try:
            await self._redis.publish(self._channel, str(user_id))
        except Exception:
            # Committed already. Nodes whose own subscription is down do not cache; one still
            # subscribed keeps its cached epoch up to TOKEN_EPOCH_CACHE_SECONDS (logged).
            log.exception("could not announce a token epoch change")

    async def run(self) -> None:
        """Listen forever (cancel to stop), resubscribing after a Redis outage."""
        while True:
            try:
                await self._listen()
            except anyio.get_cancelled_exc_class():
                raise
            except Exception:  # noqa: BLE001 - any failure: stop caching, resubscribe
                log.warning("token epoch notices lost; not caching until resubscribed")
            self._epochs.caching = False
            self._epochs.forget_all()
            await anyio.sleep(1.0)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        try:
            await pubsub.subscribe(self._channel)
            self._epochs.forget_all()  # notices sent while unsubscribed are lost
            self._epochs.caching = True
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=30.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    self._epochs.forget(uuid.UUID(bytes(message["data"]).decode()))
                except ValueError:
                    log.warning("ignoring a malformed token epoch notice")
        finally:
            self._epochs.caching = False
            await pubsub.aclose()  # type: ignore[attr-defined]
