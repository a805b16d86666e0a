"""The `collab` command: serve, db, user create, mux dev-key, worker, sample-course, openapi.

This and `api.app` are the only places that read `Settings`. A setting that is unsafe for
`COLLAB_ENV=production` stops the command with exit status 2 and names the variable; a database
that is unreachable or behind this build's schema stops `serve` and `worker` with exit status 3
and one line naming the fix (`collab db upgrade`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import importlib.util
import logging
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import ValidationError

from api.logredact import install_log_privacy
from api.settings import Settings

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from uvicorn import Config

log = logging.getLogger(__name__)

EXIT_CONFIG = 2
EXIT_NOT_READY = 3  # the database is unreachable or its schema is behind this build


def _out(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = ".".join(str(p) for p in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            _err(f"collab: configuration error: {where + ': ' if where else ''}{message}")
        raise SystemExit(EXIT_CONFIG) from None


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_log_privacy(logging.getLogger().handlers)  # ?token=…, ?q=…, library DEBUG lines


def _database_ready(settings: Settings) -> bool:
    """Migrate or check the schema before a process starts; say why not on stderr.

    The app's lifespan (and the worker's start-up) apply the same gate; checking here first
    turns a refusal into one line naming the fix rather than a traceback.
    """
    from sqlalchemy.exc import DBAPIError

    from storage.db import SchemaBehind, require_schema

    try:
        revision = asyncio.run(
            require_schema(settings.effective_database_url, upgrade=settings.migrate_on_start)
        )
    except SchemaBehind as exc:
        _err(f"collab: {exc}")
        return False
    except (OSError, DBAPIError) as exc:
        _err(f"collab: cannot reach the database: {type(exc).__name__}: {str(exc)[:200]}")
        return False
    log.info("database schema at revision %s", revision)
    return True


def uvicorn_config(settings: Settings, app: Starlette, host: str, port: int) -> Config:
    """How `collab serve` runs uvicorn."""
    import uvicorn

    from collab.transport import CollabWebSocketProtocol

    # Frames the collab server accepts must get through uvicorn first; a little headroom so
    # the 1009 for an oversized frame is collab's (logged and counted), not uvicorn's.
    ws_max_size = settings.collab_max_message_size + 2**20
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        ws=CollabWebSocketProtocol,  # uvicorn's sans-I/O protocol + direct collab frames
        ws_max_size=ws_max_size,
        # Yjs frames are small and already compact: no per-message deflate (browsers offer it).
        ws_per_message_deflate=False,
        lifespan="on",
        # Whole seconds, rounded up: int(0.5) == 0 would cancel every handler at once.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout),
        # X-Forwarded-* only from TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1).
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=settings.trusted_proxy_list or [],
        log_config=None,
    )


def _serve(settings: Settings, host: str | None, port: int | None) -> int:
    import uvicorn

    from api.app import create_app
    from api.playback import SigningKeyError

    host = host or settings.host
    port = settings.port if port is None else port
    try:
        app = create_app(settings)
    except SigningKeyError as exc:
        _err(f"collab: configuration error: {exc}")
        return EXIT_CONFIG
    config = uvicorn_config(settings, app, host, port)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - display only
    url = settings.public_url or f"http://{shown}:{port}/"
    _out(f"collab: serving on {url} (open this URL; Ctrl-C stops)")
    if not _database_ready(settings):
        return EXIT_NOT_READY
    # Everything imported and built so far lives until exit: frozen out of the collector's
    # reach (full collections never walk it), collected first so no garbage is frozen.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(config)
    server.run()  # handles SIGINT/SIGTERM: drains, then lifespan shutdown
    # uvicorn returns normally when the lifespan start-up failed: that is not a clean exit.
    return 0 if server.started else EXIT_NOT_READY


def _db_upgrade(settings: Settings) -> int:
    from storage.db import HEAD_REVISION, migrate

    asyncio.run(migrate(settings.effective_database_url))
    _out(f"collab: database is at the latest migration ({HEAD_REVISION})")
    return 0


async def _create_user(settings: Settings, email: str, password: str, name: str, role: str) -> int:
    from api.passwords import PasswordPolicy, Passwords
    from storage.db import SchemaBehind, connect, require_schema
    from storage.models import Role
    from storage.users import EmailTaken, UserRepository

    try:
        await require_schema(settings.effective_database_url, upgrade=settings.migrate_on_start)
    except SchemaBehind as exc:
        _err(f"collab: {exc}")
        return EXIT_NOT_READY
    passwords = Passwords(
        PasswordPolicy(
            settings.password_time_cost,
            settings.password_memory_kib,
            settings.password_parallelism,
        )
    )
    async with connect(settings.effective_database_url) as db:
        try:
            user = await UserRepository(db).create(
                email=email,
                name=name,
                password_hash=await passwords.hash(password),
                role=Role(role),
            )
        except EmailTaken:
            _err(f"collab: a user with email {email} already exists")
            return 1
    _out(f"collab: created {role} {user.email} ({user.id})")
    return 0


def _mux_dev_key() -> int:
    from api.playback import generate_dev_key

    key = generate_dev_key()
    _out("# Development Mux signing key. Put these lines in your environment:")
    _out(f"MUX_SIGNING_KEY_ID={key.key_id}")
    _out(f"MUX_SIGNING_PRIVATE_KEY={key.private_key_b64}")
    _out("# Public key (verify tokens with it; a real Mux key's public half stays at Mux):")
    _out(key.public_key_pem)
    return 0


async def _sample_course(settings: Settings) -> int:
    from api.sample import dev_key_file, load_sample_course
    from storage.db import SchemaBehind, require_schema

    try:
        await require_schema(settings.effective_database_url, upgrade=settings.migrate_on_start)
    except SchemaBehind as exc:
        _err(f"collab: {exc}")
        return EXIT_NOT_READY
    report = await load_sample_course(settings)
    _out(
        f"collab: sample course loaded ({report.modules_created} modules and "
        f"{report.lessons_created} lessons added, {len(report.videos_written)} videos written)"
    )
    if report.dev_key_created:
        _out(f"collab: development Mux key written to {dev_key_file(settings)}")
    _out("collab: restart `collab serve` if it is running, then open Courses in the page")
    return 0


def _worker(settings: Settings) -> int:
    if importlib.util.find_spec("api.worker") is None:
        _err("collab: the job worker (api/worker.py) is not part of this build")
        return 1
    if not settings.redis_url:
        _err("collab: the worker needs REDIS_URL; without it the web process runs jobs in-process")
        return EXIT_CONFIG
    if not _database_ready(settings):
        return EXIT_NOT_READY
    worker = importlib.import_module("api.worker")
    worker.run(settings)
    return 0


def _openapi() -> int:
    """Print the REST description (what `/openapi.json` serves); needs no settings or database."""
    import json

    from api.app import openapi_spec

    _out(json.dumps(openapi_spec(), indent=2, sort_keys=True, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="collab", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web process")
    serve.add_argument("--host", help="interface to bind (default COLLAB_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default COLLAB_PORT, 8000)")

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply all migrations")

    user = commands.add_parser("user", help="user accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    create = user_commands.add_parser("create", help="create an account")
    create.add_argument("--email", required=True)
    create.add_argument("--password", required=True)
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=["user", "premium", "host", "admin"], default="user")

    mux = commands.add_parser("mux", help="Mux signed playback")
    mux_commands = mux.add_subparsers(dest="mux_command", required=True)
    mux_commands.add_parser("dev-key", help="generate a local signing key pair")

    commands.add_parser("worker", help="run the arq job worker (needs REDIS_URL)")
    commands.add_parser(
        "sample-course", help="load a sample course with short local videos (development)"
    )
    commands.add_parser("openapi", help="print the OpenAPI description (as /openapi.json)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "mux":
        return _mux_dev_key()
    if args.command == "openapi":
        return _openapi()
    settings = load_settings()
    _configure_logging(settings.log_level)
    if args.command == "serve":
        return _serve(settings, args.host, args.port)
    if args.command == "db":
        return _db_upgrade(settings)
    if args.command == "sample-course":
        if settings.production:
            _err("collab: the sample course is for development (COLLAB_ENV=production is set)")
            return EXIT_CONFIG
        return asyncio.run(_sample_course(settings))
    if args.command == "user":
        if len(args.password) < 8:
            _err("collab: --password must be at least 8 characters")
            return EXIT_CONFIG
        return asyncio.run(_create_user(settings, args.email, args.password, args.name, args.role))
    return _worker(settings)


if __name__ == "__main__":
    sys.exit(main())
