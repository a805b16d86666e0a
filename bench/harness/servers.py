"""The servers under test: ours (embedded defaults, and PostgreSQL + Redis) and the two anchors.

Each is started fresh for every scenario on a free loopback port, and stopped with SIGTERM
afterwards. Our server runs as users run it: `collab db upgrade`, then `collab serve` in
production mode, auth on, users and notes created through the REST API (see `ours.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.ours import OurApi
from harness.pool import BENCH_DIR, BenchError
from harness.procstat import children_of

REPO = BENCH_DIR.parent
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Running:
    """A started server: its process, where the clients connect, and how they get rooms."""

    name: str
    proc: subprocess.Popen[bytes]
    target: dict[str, str]
    api: OurApi | None = None
    _next_sid: int = 0
    _rooms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: every node's process (the first is `proc`) and where its clients connect
    nodes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    targets: list[dict[str, str]] = field(default_factory=list)
    #: our server: (email, password) of a new account with the `host` role (`collab user create`)
    create_host: Callable[[], tuple[str, str]] | None = None

    def pids(self) -> list[int]:
        procs = self.nodes or [self.proc]
        return [pid for p in procs if p.poll() is None for pid in children_of(p.pid)]

    def sids(self, count: int) -> list[int]:
        """`count` fresh client ids (unique within this server's run)."""
        first = self._next_sid
        self._next_sid += count
        return list(range(first, first + count))

    def rooms(
        self, count: int, per_room: int, per_user: int | None = None
    ) -> list[list[dict[str, Any]]]:
        """Client specs ({room, token, sid}) for `count` new rooms of `per_room` clients each;
        on our server, no user holds more than `per_user` of the connections."""
        if self.api is not None:
            groups = self.api.rooms(count, per_room, per_user)
        else:
            groups = []
            for _ in range(count):
                self._rooms += 1
                name = f"bench-{self._rooms}-{secrets.token_hex(4)}"
                groups.append([{"room": name} for _ in range(per_room)])
        for group in groups:
            for spec in group:
                spec["sid"] = self._next_sid
                self._next_sid += 1
        return groups


class ServerKind:
    """How to start one of the compared servers."""

    name: str = ""
    column: str = ""
    nodes: int = 1  # server processes; several only for the scenarios that ask for them

    @contextlib.contextmanager
    def start(self, log_dir: Path, *, smoke: bool = False) -> Iterator[Running]:
        raise NotImplementedError


def _wait_ready_line(proc: subprocess.Popen[bytes], timeout: float) -> int:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(b"READY "):
            return int(line.split()[1])
    raise BenchError(f"server did not report READY (exit status {proc.poll()})")


def _stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class NodeAnchor(ServerKind):
    def __init__(self, name: str, column: str, script: str, client: str) -> None:
        self.name, self.column, self.script, self.client = name, column, script, client

    @contextlib.contextmanager
    def start(self, log_dir: Path, *, smoke: bool = False) -> Iterator[Running]:
        port = free_port()
        with (log_dir / f"{self.name}.log").open("ab") as log:
            proc = subprocess.Popen(
                ["node", str(BENCH_DIR / "anchors" / self.script), str(port)],
                cwd=BENCH_DIR,
                stdout=subprocess.PIPE,
                stderr=log,
            )
            try:
                _wait_ready_line(proc, 30)
                yield Running(
                    self.name, proc, {"kind": self.client, "url": f"ws://127.0.0.1:{port}"}
                )
            finally:
                _stop(proc)


class Ours(ServerKind):
    """`collab serve`, embedded defaults (SQLite, in-process fan-out) or PostgreSQL + Redis;
    with `nodes` > 1 (PostgreSQL + Redis only) that many `collab serve` processes sharing them."""

    def __init__(self, name: str, column: str, *, services: bool, nodes: int = 1) -> None:
        if nodes > 1 and not services:
            raise ValueError("several nodes need PostgreSQL + Redis")
        self.name, self.column, self.services, self.nodes = name, column, services, nodes

    def _env(self, data_dir: Path, port: int) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COLLAB_", "DATABASE_", "REDIS_"))
        }
        env.update(
            COLLAB_ENV="production",
            COLLAB_DATA_DIR=str(data_dir),
            COLLAB_HOST="127.0.0.1",
            COLLAB_PORT=str(port),
            JWT_SECRET=secrets.token_urlsafe(48),
            MUX_WEBHOOK_SECRET=secrets.token_urlsafe(24),
            # The suite creates its users and notes through REST: raise the REST budgets (per
            # client address) so setting up 10,000 notes is possible. The WebSocket path keeps
            # every default limit.
            RATE_LIMIT_REGISTER="10000/900",
            RATE_LIMIT_LOGIN_FAILURES_PER_IP="10000/900",
            RATE_LIMIT_NOTES_READ="100000/900",
            RATE_LIMIT_NOTES_WRITE="100000/900",
            # Hundreds of users are registered per run; argon2 at its production cost (64 MiB,
            # 3 passes) would make that minutes of CPU. Password hashing is on no measured path
            # (WebSocket auth verifies the JWT), so the suite uses the cheapest allowed cost.
            PASSWORD_HASH_TIME_COST="1",
            PASSWORD_HASH_MEMORY_KIB="1024",
        )
        return env

    @contextlib.contextmanager
    def start(self, log_dir: Path, *, smoke: bool = False) -> Iterator[Running]:
        port = free_port()
        data_dir = log_dir / f"{self.name}-data-{secrets.token_hex(3)}"
        data_dir.mkdir(parents=True)
        env = self._env(data_dir, port)
        del smoke  # started the same way for smoke and full runs
        with contextlib.ExitStack() as stack:
            if self.services:
                env["DATABASE_URL"] = stack.enter_context(_bench_database())
                env["REDIS_URL"] = REDIS_BASE
                env["REDIS_PREFIX"] = stack.enter_context(_redis_prefix())
            log = stack.enter_context((log_dir / f"{self.name}.log").open("ab"))
            cli = [sys.executable, "-m", "api.cli"]
            subprocess.run(
                [*cli, "db", "upgrade"], cwd=REPO, env=env, stdout=log, stderr=log, check=True
            )
            ports = [port, *(free_port() for _ in range(self.nodes - 1))]
            procs = []
            for i, node_port in enumerate(ports):
                node_env = {**env, "COLLAB_PORT": str(node_port)}
                if self.nodes > 1:
                    node_env["COLLAB_NODE_ID"] = f"bench-node-{i + 1}"
                proc = subprocess.Popen(
                    [*cli, "serve"], cwd=REPO, env=node_env, stdout=log, stderr=log
                )
                stack.callback(_stop, proc)
                procs.append(proc)
            for proc, node_port in zip(procs, ports, strict=True):
                _wait_http(f"http://127.0.0.1:{node_port}/api/health", proc, 60)
            api = OurApi(f"http://127.0.0.1:{port}")
            targets = [
                {"kind": "y-websocket", "url": f"ws://127.0.0.1:{p}/collab"} for p in ports
            ]

            def create_host() -> tuple[str, str]:
                email = f"bench-host-{secrets.token_hex(4)}@example.com"
                password = secrets.token_urlsafe(16)
                subprocess.run(
                    # `--password=...`: a random password may start with "-"
                    [*cli, "user", "create", f"--email={email}", f"--password={password}",
                     "--name=Bench host", "--role=host"],
                    cwd=REPO, env=env, stdout=log, stderr=log, check=True,
                )
                return email, password

            yield Running(
                self.name, procs[0], targets[0], api=api, nodes=procs, targets=targets,
                create_host=create_host,
            )


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"server exited with status {proc.returncode} (see its log)")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer 200 within {timeout:.0f}s")


@contextlib.contextmanager
def _bench_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one server run, dropped afterwards."""
    import asyncpg

    name = f"collab_bench_{secrets.token_hex(5)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        yield f"{base}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def _redis_prefix() -> Iterator[str]:
    """A unique key prefix for one server run; its keys are deleted afterwards."""
    import redis

    prefix = f"bench:{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_BASE)
        try:
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            for i in range(0, len(keys), 500):
                client.delete(*keys[i : i + 500])
        finally:
            client.close()


SERVERS: list[ServerKind] = [
    Ours("ours-embedded", "ours (SQLite)", services=False),
    Ours("ours-pg-redis", "ours (PG+Redis)", services=True),
    Ours("ours-pg-redis-2", "ours (PG+Redis, 2 nodes)", services=True, nodes=2),
    NodeAnchor("hocuspocus", "Hocuspocus", "hocuspocus.mjs", "hocuspocus"),
    NodeAnchor("y-websocket-server", "y-websocket-server", "y-websocket-server.mjs", "y-websocket"),
]
