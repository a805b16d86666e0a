"""The page's typed API client is generated from this server's OpenAPI description.

`frontend/src/api/schema.d.ts` is committed (the build type-checks the page against it); this
test regenerates it from `openapi_spec()` exactly as `npm run gen:api` does (`collab openapi`,
then openapi-typescript) and fails when the committed file is stale, i.e. when the spec changed
without regenerating the client. Fix: `cd frontend && npm run gen:api`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from api.app import openapi_spec
from api.cli import main as collab_main

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
GENERATOR = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
COMMITTED = FRONTEND / "src" / "api" / "schema.d.ts"


def _spec_text() -> str:
    return json.dumps(openapi_spec(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_collab_openapi_prints_the_served_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert collab_main(["openapi"]) == 0
    assert capsys.readouterr().out == _spec_text()


def test_committed_client_types_match_the_spec(tmp_path: Path) -> None:
    if not GENERATOR.exists() or shutil.which("node") is None:
        message = "frontend/node_modules is missing: run `cd frontend && npm ci`"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    spec = tmp_path / "openapi.json"
    spec.write_text(_spec_text())
    out = tmp_path / "schema.d.ts"
    subprocess.run(
        [str(GENERATOR), str(spec), "--default-non-nullable", "false", "-o", str(out)],
        check=True,
        capture_output=True,
        cwd=FRONTEND,
        timeout=120,
    )
    assert out.read_text() == COMMITTED.read_text(), (
        "frontend/src/api/schema.d.ts is stale: run `cd frontend && npm run gen:api`"
    )
