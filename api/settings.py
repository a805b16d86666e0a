"""The one settings object, read once from the environment by the composition roots.

Packages below `api` never read the environment: `create_app(settings)` and the worker root
turn these values into keyword arguments and small frozen config objects.
Every field here is documented in the README's configuration table.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-insecure-jwt-secret-change-me"  # noqa: S105 - the placeholder we refuse
DEV_MUX_WEBHOOK_SECRET = "dev-only-mux-webhook-secret"  # noqa: S105

Environment = Literal["development", "test", "production"]
_RULE = r"^\d+/\d+$"  # a rate limit: "<count>/<seconds>"
# a DNS name without scheme, port or path: "media.example.com"
_DOMAIN = r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the environment variable."""


class IceServerSetting(BaseModel):
    """One STUN/TURN server of MEDIA_ICE_SERVERS / MEDIA_SERVER_ICE_SERVERS (docs/media.md)."""

    urls: list[str] = Field(min_length=1)
    username: str | None = None
    credential: str | None = None

    @field_validator("urls")
    @classmethod
    def _schemes(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
                raise ValueError(f"{url!r}: an ICE server URL starts with stun:, turn: or turns:")
        return urls


class Settings(BaseSettings):
    """Process configuration. Environment variable names are the field aliases."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    env: Environment = Field("development", alias="COLLAB_ENV")
    data_dir: Path = Field(Path("./var"), alias="COLLAB_DATA_DIR")
    host: str = Field("127.0.0.1", alias="COLLAB_HOST")
    port: int = Field(8000, alias="COLLAB_PORT", ge=0, le=65535)
    public_url: str | None = Field(None, alias="COLLAB_PUBLIC_URL")
    log_level: str = Field("INFO", alias="COLLAB_LOG_LEVEL")
    shutdown_timeout: float = Field(10.0, alias="COLLAB_SHUTDOWN_TIMEOUT", gt=0)
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or CIDRs,
    # comma-separated). Empty: none, so a client cannot pick its own address for rate limits.
    trusted_proxies: str = Field("", alias="TRUSTED_PROXIES")

    # Services. Unset means the embedded default under data_dir.
    database_url: str | None = Field(None, alias="DATABASE_URL")
    redis_url: str | None = Field(None, alias="REDIS_URL")
    storage_url: str | None = Field(None, alias="STORAGE_URL")
    s3_endpoint_url: str | None = Field(None, alias="S3_ENDPOINT_URL")
    # Where browsers reach that endpoint (presigned uploads are signed for it).
    s3_public_endpoint_url: str | None = Field(None, alias="S3_PUBLIC_ENDPOINT_URL")
    # Multi-node fan-out and jobs (used only when REDIS_URL is set).
    redis_prefix: str = Field("collab:", alias="REDIS_PREFIX", min_length=1)
    node_id: str | None = Field(None, alias="COLLAB_NODE_ID")  # unset: a random id per process
    compaction_min_updates: int = Field(200, alias="COMPACTION_MIN_UPDATES", ge=1)

    # Live documents (collab). Sizes in bytes, durations in seconds.
    collab_max_message_size: int = Field(16 * 2**20, alias="COLLAB_MAX_MESSAGE_BYTES", ge=1024)
    collab_max_document_size: int = Field(64 * 2**20, alias="COLLAB_MAX_DOCUMENT_BYTES", ge=1024)
    collab_max_connections_per_document: int = Field(
        1000, alias="COLLAB_MAX_CONNECTIONS_PER_DOCUMENT", ge=1
    )
    collab_max_connections_per_user: int = Field(100, alias="COLLAB_MAX_CONNECTIONS_PER_USER", ge=1)
    collab_max_messages_per_second: float = Field(
        100.0, alias="COLLAB_MAX_MESSAGES_PER_SECOND", gt=0
    )
    collab_message_burst: int = Field(500, alias="COLLAB_MESSAGE_BURST", ge=1)
    collab_send_queue_bytes: int = Field(16 * 2**20, alias="COLLAB_SEND_QUEUE_BYTES", ge=1024)
    collab_send_queue_total_bytes: int = Field(
        512 * 2**20, alias="COLLAB_SEND_QUEUE_TOTAL_BYTES", ge=1024
    )
    collab_unload_delay: float = Field(5.0, alias="COLLAB_UNLOAD_DELAY", ge=0)
    collab_awareness_interval: float = Field(
        0.025, alias="COLLAB_AWARENESS_INTERVAL", ge=0.001, le=1.0
    )
    collab_persist_interval: float = Field(0.01, alias="COLLAB_PERSIST_INTERVAL", gt=0, le=1.0)

    # Auth.
    jwt_secret: str = Field(DEV_JWT_SECRET, alias="JWT_SECRET")
    access_token_ttl: int = Field(900, alias="ACCESS_TOKEN_TTL_SECONDS", gt=0)
    refresh_token_ttl: int = Field(7 * 24 * 3600, alias="REFRESH_TOKEN_TTL_SECONDS", gt=0)
    token_epoch_cache_seconds: float = Field(60.0, alias="TOKEN_EPOCH_CACHE_SECONDS", ge=0)
    registration_open: bool = Field(True, alias="REGISTRATION_OPEN")
    cookie_secure: bool = Field(True, alias="COOKIE_SECURE")

    # Mux signed playback.
    mux_signing_key_id: str | None = Field(None, alias="MUX_SIGNING_KEY_ID")
    mux_signing_private_key: str | None = Field(None, alias="MUX_SIGNING_PRIVATE_KEY")
    mux_token_ttl: int = Field(6 * 3600, alias="MUX_TOKEN_TTL_SECONDS", gt=0)
    # a lesson's token lives its duration plus this (pauses); 0 in tests that watch it expire
    mux_token_slack: int = Field(3600, alias="MUX_TOKEN_SLACK_SECONDS", ge=0)
    mux_webhook_secret: str = Field(DEV_MUX_WEBHOOK_SECRET, alias="MUX_WEBHOOK_SECRET")
    # Mux custom domain: the player fetches https://stream.<domain>/<playbackId>.m3u8?token=...
    # (and images from image.<domain>) instead of mux.com; unset means Mux's own hosts
    mux_custom_domain: str | None = Field(
        None, alias="MUX_CUSTOM_DOMAIN", pattern=_DOMAIN, max_length=200
    )

    # Live media (docs/media.md). No ICE server by default: never a third party's STUN.
    media_enabled: bool = Field(True, alias="MEDIA_ENABLED")
    media_ice_servers: list[IceServerSetting] = Field([], alias="MEDIA_ICE_SERVERS")
    media_server_ice_servers: list[IceServerSetting] = Field(
        [], alias="MEDIA_SERVER_ICE_SERVERS"
    )
    media_publishers_per_room: int = Field(6, alias="MEDIA_PUBLISHERS_PER_ROOM", ge=0)
    media_subscribers_per_room: int = Field(30, alias="MEDIA_SUBSCRIBERS_PER_ROOM", ge=0)
    media_connections: int = Field(200, alias="MEDIA_MAX_CONNECTIONS", ge=0)
    media_subscriptions: int = Field(300, alias="MEDIA_MAX_SUBSCRIPTIONS", ge=0)
    media_max_video_bitrate: int = Field(
        1_500_000, alias="MEDIA_MAX_VIDEO_BITRATE", ge=100_000
    )
    # With Redis, one node hosts each room's media (docs/media.md, "One media home per room"):
    # its claim lapses this long after the node dies; a forwarded call waits this long.
    media_home_ttl: float = Field(10.0, alias="MEDIA_HOME_TTL", ge=1.0, le=300.0)
    media_home_timeout: float = Field(15.0, alias="MEDIA_HOME_TIMEOUT", ge=1.0, le=120.0)
    # small meetings go peer to peer up to this many publishers; 0: always the relay
    media_p2p_max_publishers: int = Field(4, alias="MEDIA_P2P_MAX_PUBLISHERS", ge=0, le=16)

    # Transcription (docs/transcription.md). "auto": OpenAI when a key is set, else offline.
    transcription_engine: Literal["auto", "offline", "openai", "none"] = Field(
        "auto", alias="TRANSCRIPTION_ENGINE"
    )
    openai_api_key: str | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, alias="OPENAI_BASE_URL")
    openai_transcription_model: str = Field(
        "whisper-1", alias="OPENAI_TRANSCRIPTION_MODEL", min_length=1
    )
    openai_max_retries: int = Field(3, alias="OPENAI_MAX_RETRIES", ge=0, le=10)
    openai_timeout: float = Field(600.0, alias="OPENAI_TIMEOUT_SECONDS", gt=0)
    transcription_chunk_bytes: int = Field(
        24 * 2**20, alias="TRANSCRIPTION_CHUNK_BYTES", ge=64 * 1024, le=25 * 2**20
    )
    transcription_attempts: int = Field(4, alias="TRANSCRIPTION_MAX_ATTEMPTS", ge=1, le=20)
    transcription_retry_delay: float = Field(5.0, alias="TRANSCRIPTION_RETRY_DELAY", ge=0)
    transcription_concurrency: int = Field(1, alias="TRANSCRIPTION_CONCURRENCY", ge=1, le=16)

    # Rate limits, "<count>/<seconds>" (README "Rate limits" explains the numbers). Sign-in
    # counts failed attempts only, per account and per client IP; sign-up every attempt per IP.
    rate_limits_enabled: bool = Field(True, alias="RATE_LIMITS_ENABLED")
    rate_limit_login_account: str = Field(
        "10/900", alias="RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT", pattern=_RULE
    )
    rate_limit_login_ip: str = Field(
        "100/900", alias="RATE_LIMIT_LOGIN_FAILURES_PER_IP", pattern=_RULE
    )
    rate_limit_register: str = Field("60/3600", alias="RATE_LIMIT_REGISTER", pattern=_RULE)
    # Notes routes per user: reads (GET) and writes (everything else) have their own budgets.
    rate_limit_notes_read: str = Field("600/900", alias="RATE_LIMIT_NOTES_READ", pattern=_RULE)
    rate_limit_notes_write: str = Field("300/900", alias="RATE_LIMIT_NOTES_WRITE", pattern=_RULE)
    rate_limit_audio: str = Field("10/3600", alias="RATE_LIMIT_AUDIO", pattern=_RULE)
    rate_limit_account_export: str = Field(
        "10/3600", alias="RATE_LIMIT_ACCOUNT_EXPORT", pattern=_RULE
    )
    rate_limit_sessions: str = Field("300/900", alias="RATE_LIMIT_SESSIONS", pattern=_RULE)
    # Polling a background export's status and downloading it: cheap reads, many per export.
    rate_limit_account_export_poll: str = Field(
        "600/900", alias="RATE_LIMIT_ACCOUNT_EXPORT_POLL", pattern=_RULE
    )
    # Admin analytics per admin: each request aggregates up to a year of stored rows.
    rate_limit_analytics: str = Field("300/900", alias="RATE_LIMIT_ANALYTICS", pattern=_RULE)
    audio_max_bytes: int = Field(100 * 2**20, alias="AUDIO_MAX_BYTES", ge=1)
    audio_direct_uploads: bool = Field(True, alias="AUDIO_DIRECT_UPLOADS")

    # Password hashing (argon2id; RFC 9106 "second recommended" defaults).
    password_time_cost: int = Field(3, alias="PASSWORD_HASH_TIME_COST", ge=1)
    password_memory_kib: int = Field(65536, alias="PASSWORD_HASH_MEMORY_KIB", ge=8)
    password_parallelism: int = Field(4, alias="PASSWORD_HASH_PARALLELISM", ge=1)

    # Web process.
    auto_migrate: bool | None = Field(None, alias="COLLAB_AUTO_MIGRATE")
    frontend_dir: Path | None = Field(None, alias="COLLAB_FRONTEND_DIR")

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def migrate_on_start(self) -> bool:
        """COLLAB_AUTO_MIGRATE, else only the embedded SQLite default migrates itself."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.database_url is None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'collab.db').resolve()}"

    @property
    def effective_storage_url(self) -> str:
        if self.storage_url:
            return self.storage_url
        return (self.data_dir / "objects").resolve().as_uri()

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [part.strip() for part in self.trusted_proxies.split(",") if part.strip()]

    @model_validator(mode="after")
    def _check_trusted_proxies(self) -> Settings:
        for entry in self.trusted_proxy_list:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise SettingsError(
                    f"TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                    "(name proxies by address: a host name could resolve to anything)"
                ) from exc
        return self

    @property
    def transcriber_kind(self) -> Literal["offline", "openai", "none"]:
        """The engine TRANSCRIPTION_ENGINE picks ("auto": OpenAI when keyed, else offline)."""
        if self.transcription_engine == "auto":
            return "openai" if self.openai_api_key else "offline"
        return self.transcription_engine

    @model_validator(mode="after")
    def _engine_is_usable(self) -> Settings:
        if self.transcription_engine == "openai" and not self.openai_api_key:
            raise SettingsError("TRANSCRIPTION_ENGINE=openai needs OPENAI_API_KEY")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if not self.production:
            return self
        if self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32:
            raise SettingsError(
                "JWT_SECRET must be set to a random value of at least 32 characters "
                "when COLLAB_ENV=production"
            )
        if self.mux_webhook_secret == DEV_MUX_WEBHOOK_SECRET:
            raise SettingsError("MUX_WEBHOOK_SECRET must be set when COLLAB_ENV=production")
        if not self.cookie_secure:
            raise SettingsError("COOKIE_SECURE cannot be false when COLLAB_ENV=production")
        return self
