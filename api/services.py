"""What route handlers get from the composition root: clients and plain config values.

`create_app` builds one `Services` in its lifespan and stores it on `app.state.services`; handlers
read it through `services(request)`. Nothing here reads `Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute

from api.epochs import EpochBus, TokenEpochs
from api.passwords import Passwords
from api.playback import MuxSigner
from api.ratelimit import RateLimiter, RateRule
from api.tokens import AccessTokens
from collab import CollabServer
from jobs import JobQueue
from notes.feeds import NoteFeed
from storage.db import Database
from storage.objects import ObjectStore
from storage.s3_uploads import S3DirectUploads

if TYPE_CHECKING:  # redis is imported only when REDIS_URL is set (see `api.app`)
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class AuthConfig:
    cookie_secure: bool = True
    registration_open: bool = True
    refresh_ttl_seconds: int = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Limits:
    """The REST rate limits (README "Rate limits")."""

    login_account: RateRule  # failed sign-ins per account (email)
    login_ip: RateRule  # failed sign-ins per client IP
    register: RateRule  # sign-up attempts per client IP
    notes_read: RateRule  # notes GETs per user
    notes_write: RateRule  # other notes requests per user
    audio: RateRule
    enabled: bool = True
    sessions: RateRule = field(default_factory=lambda: RateRule("sessions", 300, 900))
    account_export: RateRule = field(default_factory=lambda: RateRule("account-export", 10, 3600))
    account_export_poll: RateRule = field(
        default_factory=lambda: RateRule("account-export-poll", 600, 900)
    )
    analytics: RateRule = field(default_factory=lambda: RateRule("analytics", 300, 900))


@dataclass(slots=True)
class Services:
    db: Database
    tokens: AccessTokens
    passwords: Passwords
    limiter: RateLimiter
    limits: Limits
    auth: AuthConfig
    mux: MuxSigner | None
    mux_webhook_secret: str
    objects: ObjectStore
    epochs: TokenEpochs
    epoch_bus: EpochBus | None = None  # with Redis: tells the other nodes (api/epochs.py)
    redis: Redis[bytes] | None = None
    collab: CollabServer | None = None
    feed: NoteFeed | None = None  # the collab server's per-user feed (notes.feeds)
    jobs: JobQueue | None = None
    live_routes: list[BaseRoute] = field(default_factory=list)
    audio_max_bytes: int = 100 * 2**20
    direct_uploads: S3DirectUploads | None = None  # with S3: browsers upload audio straight there
    mux_custom_domain: str | None = None  # MUX_CUSTOM_DOMAIN, handed to the player


def services(request: HTTPConnection) -> Services:
    found = getattr(request.app.state, "services", None)
    if not isinstance(found, Services):
        raise RuntimeError("the app's lifespan has not run: no services on app.state")
    return found
