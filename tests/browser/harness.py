"""The browser tests' harness: a real `collab serve` on a free port, Debian's Chromium.

The server runs from this checkout's `.venv` with embedded defaults under a temporary
COLLAB_DATA_DIR (SQLite, in-process queue, files on disk) and serves the built frontend
(`frontend/dist`, built by `make frontend`). Chromium is Debian's `/usr/bin/chromium`
(installed by `make system-deps`); Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import expect as async_expect
from playwright.sync_api import expect

# The suite runs browsers in several workers on a small machine: an assertion about the page
# waits up to 15 s for what the page will show (Playwright's default is 5 s). Only failing
# assertions take longer; a passing one returns as soon as it holds.
expect.set_options(timeout=15_000)
async_expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"


def missing(message: str) -> None:
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    data_dir: Path
    log: Path


def start_server(
    tmp: Path, extra_env: dict[str, str], setup: Sequence[Sequence[str]] = ()
) -> Iterator[Server]:
    """Serve with ``extra_env``; each ``collab`` command of ``setup`` (e.g. ``sample-course``)
    runs first, in the same environment and data dir, and must succeed."""
    if not (DIST / "index.html").exists():
        missing(f"{DIST}/index.html is missing: build the page with `make frontend`")
    collab = ROOT / ".venv" / "bin" / "collab"
    executable = str(collab) if collab.exists() else shutil.which("collab")
    if executable is None:
        pytest.fail("the `collab` console script is not installed (run `make install`)")
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "STORAGE_URL", "COLLAB_ENV"}
    }
    env.update(
        {
            "COLLAB_DATA_DIR": str(tmp / "data"),
            "COLLAB_FRONTEND_DIR": str(DIST),
            "JWT_SECRET": uuid.uuid4().hex * 2,
            "RATE_LIMITS_ENABLED": "false",
            "COOKIE_SECURE": "false",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "8192",
            "PASSWORD_HASH_PARALLELISM": "1",
            "COLLAB_LOG_LEVEL": "INFO",
            **extra_env,
        }
    )
    for command in setup:
        done = subprocess.run(
            [executable, *command], env=env, cwd=tmp, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            pytest.fail(f"collab {' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    log = tmp / "server.log"
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [executable, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    listening = threading.Event()
    pump = threading.Thread(target=_pump, args=(proc, log, listening), daemon=True)
    pump.start()
    try:
        # the child's own log line says when it listens; the pump also sets the event on exit
        if not listening.wait(timeout=60) or proc.poll() is not None:
            pytest.fail(f"collab serve is not listening:\n{log.read_text()[-3000:]}")
        yield Server(url=url, data_dir=tmp / "data", log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        pump.join(timeout=5)


def _pump(proc: subprocess.Popen[bytes], log: Path, listening: threading.Event) -> None:
    """Copy the server's output to its log file; flag the moment it listens (or exits)."""
    assert proc.stdout is not None
    with log.open("wb") as out:
        for line in proc.stdout:
            out.write(line)
            out.flush()
            if b"Uvicorn running on" in line:
                listening.set()
    listening.set()
