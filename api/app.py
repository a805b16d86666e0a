"""The web composition root: `create_app(settings)` wires every package into one Starlette app.

Nothing happens at import time. The lifespan is one `AsyncExitStack` entered in dependency order
(database, Redis, object store, collab server) and therefore closed in reverse.

The embedded default (SQLite, no Redis, local object store) must stay small: the clients of
optional services (redis, arq, boto3, alembic, fpdf2) are imported only where a configured
service needs them, never at import time here or in the modules imported here
(tests/test_startup_imports.py checks that).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route, WebSocketRoute

from api import (
    account,
    account_routes,
    analytics,
    audio,
    audio_direct,
    auth,
    erase,
    health,
    lessons,
    modules,
    mux,
    note_content,
    notes,
    progress,
    sessions,
    shares,
    transcript_note,
    transcripts,
    watching,
)
from api.epochs import EpochGate, RedisEpochBus, TokenEpochs
from api.errors import exception_handlers
from api.job_context import build_job_context
from api.live import (
    LiveSockets,
    build_collab,
    build_media,
    build_media_home,
    live_routes,
    note_feed,
)
from api.localstream import dev_key_file, local_stream_routes
from api.metrics import Metrics, MetricsMiddleware, metrics_endpoint
from api.openapi import Operation, build_openapi, docs_endpoint, openapi_endpoint, routes_for
from api.passwords import PasswordPolicy, Passwords
from api.playback import MuxSigner, SigningKeyError
from api.ratelimit import MemoryRateLimiter, RateLimiter, RateRule, RedisRateLimiter
from api.schema import CamelModel
from api.services import AuthConfig, Limits, Services
from api.session_recordings import SessionRecordings
from api.settings import Settings
from api.static import SpaRoute
from api.tokens import AccessTokens
from collab import CollabConfig
from collab.extensions.fanout import default_node_id
from jobs import open_job_queue
from jobs.catalog import IN_PROCESS_SCHEDULE
from jobs.enqueue import queue_name
from rooms.media import MediaBackend, RecordingSink, RoomMedia
from storage.db import connect, require_schema
from storage.objects import S3ObjectStore, open_object_store
from storage.s3_uploads import S3DirectUploads
from storage.users import UserRepository

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

DEFAULT_FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend" / "dist"


class ErrorDetail(CamelModel):
    code: str
    message: str
    fields: list[dict[str, str]] | None = None


class ErrorBody(CamelModel):
    error: ErrorDetail


def api_operations() -> list[Operation]:
    """Every REST operation, in documentation order."""
    return [
        *auth.operations,
        *account.operations,
        *erase.operations,
        *account_routes.operations,
        *modules.operations,
        *lessons.operations,
        *progress.operations,
        *watching.operations,
        *notes.operations,
        *note_content.operations,
        *shares.operations,
        *transcripts.operations,  # before audio's: `/audio/search` is not `/audio/{id}`
        *transcript_note.operations,
        *audio_direct.operations,  # before audio's too: `/audio/uploads`
        *audio.operations,
        *sessions.operations,
        *analytics.operations,
        *mux.operations,
        *health.operations,
    ]


def openapi_spec() -> dict[str, Any]:
    """The REST description served at `/openapi.json` (and printed by `collab openapi`)."""
    return build_openapi(
        api_operations(), title="Workshop collab", version="0.1.0", error_model=ErrorBody
    )


def create_app(settings: Settings) -> Starlette:
    operations = api_operations()
    spec = openapi_spec()
    metrics = Metrics()
    mux = mux_signer(settings)
    routes: list[BaseRoute] = list(routes_for(operations))
    routes += [
        WebSocketRoute("/collab/{kind}/{doc_id}", LiveSockets()),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/openapi.json", openapi_endpoint(spec), methods=["GET"]),
        Route("/api/docs", docs_endpoint(spec), methods=["GET"]),
    ]
    local_streams = settings.data_dir / "streams"
    if mux is not None and not settings.production:
        routes += local_stream_routes(mux, local_streams)
    routes.append(SpaRoute(settings.frontend_dir or DEFAULT_FRONTEND_DIR))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            services = await _start_services(settings, stack, mux)
            await _start_live(settings, services, stack, metrics)
            app.state.services = services
            log.info("web process ready")
            yield
        log.info("web process stopped")

    app = Starlette(
        routes=routes,
        middleware=[Middleware(MetricsMiddleware, metrics=metrics), Middleware(EpochGate)],
        exception_handlers=exception_handlers(),
        lifespan=lifespan,
    )
    app.state.metrics = metrics
    app.state.openapi = spec
    app.state.settings = settings
    app.state.local_streams = local_streams if mux is not None and not settings.production else None
    return app


def mux_signer(settings: Settings) -> MuxSigner | None:
    """The Mux signing key, checked when the app is built (a bad key stops startup early).

    Outside production, without keys in the environment, the development key that
    ``collab sample-course`` wrote under the data dir signs (for the local streams)."""
    key_id, key = settings.mux_signing_key_id, settings.mux_signing_private_key
    dev_key = dev_key_file(settings)
    if not key_id and not key and not settings.production and dev_key.is_file():
        stored = json.loads(dev_key.read_text())
        log.warning("Mux tokens are signed with the development key in %s", dev_key)
        key_id, key = stored["keyId"], stored["privateKey"]
    if not key_id and not key:
        return None
    if not key_id or not key:
        raise SigningKeyError("set MUX_SIGNING_KEY_ID and MUX_SIGNING_PRIVATE_KEY together")
    return MuxSigner.from_base64_pem(key_id, key, settings.mux_token_ttl, settings.mux_token_slack)


async def _start_services(
    settings: Settings, stack: AsyncExitStack, mux: MuxSigner | None
) -> Services:
    url = settings.effective_database_url
    # Never serve a database behind this build (its first query would be a 500): migrate it or
    # refuse to start (`SchemaBehind` names `collab db upgrade`).
    await require_schema(url, upgrade=settings.migrate_on_start)
    db = await stack.enter_async_context(connect(url))

    redis: Redis[bytes] | None = None
    limiter: RateLimiter = MemoryRateLimiter()
    if settings.redis_url:
        from redis.asyncio import Redis  # only with Redis configured (module docstring)

        redis = Redis.from_url(settings.redis_url)
        stack.push_async_callback(redis.aclose)  # type: ignore[attr-defined]
        limiter = RedisRateLimiter(redis, prefix=f"{settings.redis_prefix}ratelimit:")

    # One node alone hears every change itself; with Redis, caching starts once subscribed.
    epochs = TokenEpochs(
        UserRepository(db), ttl=settings.token_epoch_cache_seconds, caching=redis is None
    )
    epoch_bus: RedisEpochBus | None = None
    if redis is not None:
        epoch_bus = RedisEpochBus(redis, f"{settings.redis_prefix}token-epochs", epochs)
        listeners = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(listeners.cancel_scope.cancel)  # runs first on the way out
        listeners.start_soon(epoch_bus.run)

    objects = open_object_store(
        settings.effective_storage_url, endpoint_url=settings.s3_endpoint_url
    )
    stack.callback(objects.close)

    passwords = Passwords(
        PasswordPolicy(
            time_cost=settings.password_time_cost,
            memory_kib=settings.password_memory_kib,
            parallelism=settings.password_parallelism,
        )
    )
    return Services(
        db=db,
        tokens=AccessTokens(settings.jwt_secret, settings.access_token_ttl),
        passwords=passwords,
        limiter=limiter,
        limits=Limits(
            login_account=RateRule.parse("login-account", settings.rate_limit_login_account),
            login_ip=RateRule.parse("login-ip", settings.rate_limit_login_ip),
            register=RateRule.parse("register", settings.rate_limit_register),
            notes_read=RateRule.parse("notes-read", settings.rate_limit_notes_read),
            notes_write=RateRule.parse("notes-write", settings.rate_limit_notes_write),
            audio=RateRule.parse("audio", settings.rate_limit_audio),
            enabled=settings.rate_limits_enabled,
            sessions=RateRule.parse("sessions", settings.rate_limit_sessions),
            account_export=RateRule.parse(
                "account-export", settings.rate_limit_account_export
            ),
            account_export_poll=RateRule.parse(
                "account-export-poll", settings.rate_limit_account_export_poll
            ),
            analytics=RateRule.parse("analytics", settings.rate_limit_analytics),
        ),
        auth=AuthConfig(
            cookie_secure=settings.cookie_secure,
            registration_open=settings.registration_open,
            refresh_ttl_seconds=settings.refresh_token_ttl,
        ),
        mux=mux,
        mux_webhook_secret=settings.mux_webhook_secret,
        mux_custom_domain=settings.mux_custom_domain,
        redis=redis,
        objects=objects,
        epochs=epochs,
        epoch_bus=epoch_bus,
        audio_max_bytes=settings.audio_max_bytes,
        direct_uploads=_direct_uploads(settings, objects, stack),
    )


def _direct_uploads(
    settings: Settings, objects: object, stack: AsyncExitStack
) -> S3DirectUploads | None:
    """Browsers upload audio straight to S3 when the bucket is one they can reach: AWS itself
    (no S3_ENDPOINT_URL), or a custom endpoint given its public address
    (S3_PUBLIC_ENDPOINT_URL); never when AUDIO_DIRECT_UPLOADS=false."""
    if not isinstance(objects, S3ObjectStore) or not settings.audio_direct_uploads:
        return None
    if settings.s3_endpoint_url and not settings.s3_public_endpoint_url:
        return None  # an internal endpoint (compose's `http://s3:9000`): the form path
    direct = S3DirectUploads(objects, public_endpoint_url=settings.s3_public_endpoint_url)
    stack.callback(direct.close)
    return direct


async def _start_live(
    settings: Settings, services: Services, stack: AsyncExitStack, metrics: Metrics
) -> None:
    """The job queue, then the collab server (it may enqueue; it closes first on the way out)."""
    unreachable: tuple[type[Exception], ...] = (OSError,)
    if services.redis is not None:
        from redis.exceptions import RedisError  # an `except` evaluates it: import it first

        unreachable = (RedisError, OSError)
    # The relay is entered before the collab server, so it outlives it: rooms end their
    # participants' media as their connections close on the way out.
    node_id = settings.node_id or default_node_id()
    relay = build_media(settings)
    media = None
    if relay is not None:
        await stack.enter_async_context(relay)
        recordings = SessionRecordings(services.db, services.objects, lambda: services.jobs)
        scratch = settings.data_dir / "recordings-in-progress"
        backend: MediaBackend = relay
        sink: RecordingSink = recordings
        if services.redis is not None:  # several nodes: one media home per room
            homed = build_media_home(settings, relay, services.redis, node_id=node_id,
                                     scratch=scratch, recordings=recordings)
            await stack.enter_async_context(homed)  # (left before the relay)
            backend = sink = homed  # (it stores a recording where it was written)
        media = RoomMedia(backend, sink, scratch,
                          p2p_limit=settings.media_p2p_max_publishers)
    server = build_collab(
        media=media,
        database=services.db,
        tokens=services.tokens,
        epochs=services.epochs,
        redis_url=settings.redis_url,
        redis_prefix=settings.redis_prefix,
        node_id=node_id,
        config=collab_config(settings),
        persist_interval=settings.collab_persist_interval,
        metrics_registry=metrics.registry,
    )
    # In-process jobs edit notes through the live server (entered below, after the queue).
    context = build_job_context(
        settings, database=services.db, objects=services.objects, collab=server
    )
    queue = open_job_queue(
        context,
        redis_url=settings.redis_url,
        queue_name=queue_name(settings),
        periodic=IN_PROCESS_SCHEDULE,
    )
    try:
        if services.redis is not None:
            async with asyncio.timeout(5):
                await services.redis.ping()  # fail fast: arq would retry for seconds
        services.jobs = await stack.enter_async_context(queue)
    except unreachable as exc:
        # Start degraded rather than not at all: /api/health reports Redis, jobs fail to enqueue.
        log.error("job queue unavailable (Redis unreachable: %s); starting without it", exc)
    services.collab = await stack.enter_async_context(server)
    services.feed = note_feed(server)
    services.live_routes = live_routes(server)


def collab_config(settings: Settings) -> CollabConfig:
    """The collab server's limits and delays, from the environment (README table)."""
    return CollabConfig(
        max_message_size=settings.collab_max_message_size,
        max_document_size=settings.collab_max_document_size,
        max_connections_per_document=settings.collab_max_connections_per_document,
        max_connections_per_user=settings.collab_max_connections_per_user,
        max_messages_per_second=settings.collab_max_messages_per_second,
        message_burst=settings.collab_message_burst,
        send_queue_bytes=settings.collab_send_queue_bytes,
        send_queue_total_bytes=settings.collab_send_queue_total_bytes,
        unload_delay=settings.collab_unload_delay,
        awareness_interval=settings.collab_awareness_interval,
        shutdown_timeout=settings.shutdown_timeout,
    )
