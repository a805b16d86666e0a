"""The embedded default starts without the heavy clients of services it does not use.

`collab serve` with no DATABASE_URL, REDIS_URL or STORAGE_URL (SQLite, in-process jobs, local
object store) must not import redis/arq, boto3, alembic (the database is already at the head),
fpdf2 (PDF export) nor openai/aiortc: together they cost ~40 MiB of resident memory. A fresh
interpreter builds the app and runs its lifespan, then reports which of them got imported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from api.settings import Settings
from storage.db import migrate

ROOT = Path(__file__).resolve().parents[1]

HEAVY = (
    "fpdf",
    "fontTools",
    "PIL",
    "boto3",
    "botocore",
    "s3transfer",
    "redis",
    "hiredis",
    "arq",
    "alembic",
    "mako",
    "openai",
    "aiortc",
)

_SCRIPT = """
import asyncio, json, sys

from api.app import create_app
from api.settings import Settings

app = create_app(Settings())


async def lifespan() -> None:
    async with app.router.lifespan_context(app):
        assert app.state.services.redis is None and app.state.services.jobs is not None


asyncio.run(lifespan())
heavy = set(sys.argv[1:])
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules} & heavy)))
"""


def _embedded_env(data_dir: Path) -> dict[str, str]:
    """This environment without any setting (no service URL leaks in), on `data_dir`."""
    aliases = {field.alias for field in Settings.model_fields.values() if field.alias}
    env = {key: value for key, value in os.environ.items() if key not in aliases}
    env["COLLAB_DATA_DIR"] = str(data_dir)
    return env


async def test_embedded_startup_imports_no_optional_client(tmp_path: Path) -> None:
    missing = [name for name in HEAVY if importlib.util.find_spec(name) is None]
    assert not missing, f"not installed, so this test would prove nothing: {missing}"
    # Migrated beforehand (here, where alembic may load): a fresh database does import alembic.
    await migrate(Settings(data_dir=tmp_path, database_url=None).effective_database_url)

    proc = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *HEAVY],
        cwd=ROOT,
        env=_embedded_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
