"""The `collab` command: config refusal, dev key, db upgrade, user create, serve + SIGTERM."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import jwt
import pytest
import websockets
import websockets.sync.client
from cryptography.hazmat.primitives import serialization

from api.cli import main
from api.playback import MuxSigner

ROOT = Path(__file__).resolve().parents[2]


def test_production_refuses_dev_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLLAB_ENV", "production")
    monkeypatch.delenv("JWT_SECRET", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main(["db", "upgrade"])
    assert exit_info.value.code == 2
    assert "JWT_SECRET" in capsys.readouterr().err


def test_mux_dev_key_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mux", "dev-key"]) == 0
    out = capsys.readouterr().out
    env = dict(line.split("=", 1) for line in out.splitlines() if line.startswith("MUX_SIGNING_"))
    signer = MuxSigner.from_base64_pem(
        env["MUX_SIGNING_KEY_ID"], env["MUX_SIGNING_PRIVATE_KEY"], 60
    )
    public_pem = out[out.index("-----BEGIN PUBLIC KEY-----") :].encode()
    public = serialization.load_pem_public_key(public_pem)
    token, _ = signer.sign("abc", "video")
    assert jwt.decode(token, public, algorithms=["RS256"], audience="v")["sub"] == "abc"  # type: ignore[arg-type]
    assert base64.b64decode(env["MUX_SIGNING_PRIVATE_KEY"]).startswith(b"-----BEGIN")


def test_db_upgrade_and_user_create(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PASSWORD_HASH_MEMORY_KIB", "64")
    monkeypatch.setenv("PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    args = [
        "user",
        "create",
        "--email",
        "Admin@Example.com",
        "--password",
        "long-enough-pw",
        "--name",
        "Admin",
        "--role",
        "admin",
    ]
    assert main(args) == 0
    assert "created admin admin@example.com" in capsys.readouterr().out
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LEAKY_TOKEN = "eyJsecret-looking-token-value"


def test_serve_runs_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "COLLAB_DATA_DIR": str(tmp_path),
        "COLLAB_ENV": "development",
        "COLLAB_LOG_LEVEL": "INFO",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        seen: list[str] = []
        for line in proc.stdout:  # blocks on the child's output; pytest-timeout bounds it
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail("server exited before listening:\n" + "".join(seen))
        status = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code
        assert status == 200
        # A token in the socket URL (how y-websocket clients authenticate) is never logged.
        note = "00000000-0000-4000-8000-000000000000"
        url = f"ws://127.0.0.1:{port}/collab/notes/{note}?token={LEAKY_TOKEN}"
        with (
            websockets.sync.client.connect(url, open_timeout=10) as ws,
            pytest.raises(websockets.ConnectionClosed),
        ):
            # The client offered permessage-deflate (websockets does by default): declined.
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            ws.recv(timeout=10)
        proc.send_signal(signal.SIGTERM)
        # uvicorn drains, runs the lifespan shutdown, then re-raises the signal (exit -15).
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        output = "".join(seen) + proc.stdout.read()
        assert "web process stopped" in output
        assert f"/collab/notes/{note}?token=[redacted]" in output
        assert LEAKY_TOKEN not in output
        assert f"http://127.0.0.1:{port}/" in output
        assert (tmp_path / "collab.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_refuses_a_bad_mux_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLLAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MUX_SIGNING_KEY_ID", "key")
    monkeypatch.setenv("MUX_SIGNING_PRIVATE_KEY", "bm90IGEga2V5")
    assert main(["serve", "--port", "0"]) == 2
    assert "MUX_SIGNING_PRIVATE_KEY" in capsys.readouterr().err


@pytest.mark.parametrize(("timeout", "seconds"), [(0.5, 1), (2.0, 2), (2.5, 3)])
def test_uvicorn_gets_the_shutdown_timeout_rounded_up(timeout: float, seconds: int) -> None:
    # uvicorn takes whole seconds; 0 would cancel every open connection's handler at once.
    from api.app import create_app
    from api.cli import uvicorn_config
    from api.settings import Settings

    settings = Settings(COLLAB_ENV="test", COLLAB_SHUTDOWN_TIMEOUT=timeout)
    config = uvicorn_config(settings, create_app(settings), "127.0.0.1", 0)
    assert config.timeout_graceful_shutdown == seconds
