"""`/openapi.json` says what the server does: schemathesis, with every check, finds no failure.

The whole engine of `st run --checks all` runs in-process against the real app over ASGI (its
lifespan started by schemathesis): the examples, coverage, fuzzing and stateful phases. Requests
carry an admin's bearer token, so every operation is reachable past authorization. The run is
bounded (examples per operation) and reproducible (fixed seed, deterministic generation).

Run it alone: `pytest tests/api/test_openapi_conformance.py`. Failures are listed one per line
with the request that reproduces each; `st run` against a served app shows the same in more
detail (see README, "The API description").
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.python import asgi

from api.app import create_app
from api.passwords import PasswordPolicy, Passwords
from api.playback import generate_dev_key
from api.tokens import AccessTokens
from storage.db import connect, migrate
from storage.models import Role
from storage.users import UserRepository
from tests.api.conftest import JWT_SECRET, PASSWORD, make_settings

MAX_EXAMPLES = 5  # per operation and phase; the coverage phase adds its own boundary cases
SEED = 20261203


async def _admin(url: str) -> str:
    """A bearer token of a fresh admin (in the database: handlers look the user up)."""
    passwords = Passwords(PasswordPolicy(time_cost=1, memory_kib=64, parallelism=1))
    async with connect(url) as db:
        user = await UserRepository(db).create(
            email=f"admin-{uuid.uuid4().hex[:8]}@example.com",
            name="Schema Admin",
            password_hash=await passwords.hash(PASSWORD),
            role=Role.ADMIN,
        )
    token, _ = AccessTokens(JWT_SECRET, 3600).issue(
        user_id=user.id, name=user.name, email=user.email, role=user.role.value
    )
    return token


def conformance_config(token: str) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "headers": {"Authorization": f"Bearer {token}"},
            "workers": 1,
            "checks": {"enabled": True},  # all of them, as `st run --checks all`
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )


@pytest.fixture(scope="module")
def api_schema() -> Iterator[Any]:
    # In memory where the machine has it: thousands of commits then cost no disk syncs.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        yield from _conformance_schema(Path(tmp))


def _conformance_schema(root: Path) -> Iterator[Any]:
    url = f"sqlite+aiosqlite:///{root / 'api.db'}"
    asyncio.run(migrate(url))
    token = asyncio.run(_admin(url))
    # A built frontend, as in production: its mount at "/" must not answer the API's paths.
    frontend = root / "dist"
    frontend.mkdir()
    (frontend / "index.html").write_text("<!doctype html><title>app</title>")
    mux = generate_dev_key()  # without it, playback tokens are a documented 503
    app = create_app(
        make_settings(
            url,
            COLLAB_DATA_DIR=str(root / "data"),
            COLLAB_FRONTEND_DIR=str(frontend),
            RATE_LIMITS_ENABLED=False,  # the limits' 429s are documented, not exercised here
            MUX_SIGNING_KEY_ID=mux.key_id,
            MUX_SIGNING_PRIVATE_KEY=mux.private_key_b64,
        )
    )
    yield schemathesis.openapi.from_asgi(
        "/openapi.json", app, config=conformance_config(token)
    )
    asgi.shutdown_lifespans()


def _failures(event: events.EngineEvent) -> Iterator[str]:
    if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
        recorder = event.recorder
        for checks in recorder.checks.values():
            for check in checks:
                info = check.failure_info
                if info is None:
                    continue
                failure = info.failure
                message = " ".join(failure.message.split())[:400]
                yield (
                    f"{failure.code} {failure.title} [{recorder.label}] {message}\n"
                    f"    {info.code_sample.strip()[:600]}"
                )
    elif isinstance(event, (events.NonFatalError, events.FatalError)):
        yield f"error: {event.info.title}: {' '.join(event.info.message.split())[:400]}"


@pytest.mark.slow
@pytest.mark.timeout(360)  # ~45 s alone; several times that beside other test workers
def test_the_server_does_what_openapi_json_says(api_schema: Any) -> None:
    failures: list[str] = []
    cases = 0
    for event in from_schema(api_schema).execute():
        failures.extend(_failures(event))
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            cases += len(event.recorder.cases)
    assert cases > 500, f"schemathesis ran only {cases} cases"
    unique = sorted(set(failures))
    assert not unique, f"{len(unique)} disagreements:\n" + "\n".join(unique)


async def test_405_lists_the_paths_methods_under_the_frontend_mount(
    app_factory: Any, tmp_path: Path
) -> None:
    """With the built frontend mounted at "/", an API path still answers a method it lacks
    itself (the mount would say 405 `Allow: GET, HEAD`, or serve the page)."""
    frontend = tmp_path / "dist"
    frontend.mkdir()
    (frontend / "index.html").write_text("<!doctype html><title>app</title>")
    client = await app_factory(COLLAB_FRONTEND_DIR=str(frontend))
    for method, path, allow in [
        ("DELETE", "/api/workbook/notes", "GET, HEAD, POST"),
        ("PUT", f"/api/workbook/notes/{uuid.uuid4()}", "DELETE, GET, HEAD, PATCH"),
        ("GET", "/api/mux/webhooks", "POST"),
        ("OPTIONS", "/api/health", "GET, HEAD"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow
        assert response.json()["error"]["code"] == "method_not_allowed"
    assert (await client.head("/api/health")).status_code == 200
