"""Multi-node fixtures: real `collab serve` processes sharing one PostgreSQL and one Redis."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.databases import own_database
from tests.interop.backends import JWT_SECRET
from tests.interop.serverprocess import ServerProcess, free_port

NodeFactory = Callable[..., ServerProcess]


@pytest.fixture(scope="session")
def multinode_pg_url(postgres_url: str) -> Iterator[str]:
    """An empty database of our own (the first node migrates it), dropped at the end."""
    with own_database(postgres_url, "multinode") as url:
        yield url


@pytest.fixture
def nodes(
    tmp_path: Path, multinode_pg_url: str, redis_url: str, redis_prefix: str
) -> Iterator[NodeFactory]:
    """`make(node_id, **env)` starts one `collab serve` on a free port (`env`: more
    variables); all are stopped afterwards."""
    made: list[ServerProcess] = []

    def make(node_id: str, **extra: str) -> ServerProcess:
        port = free_port()
        data_dir = tmp_path / node_id
        data_dir.mkdir()
        env = {
            "COLLAB_ENV": "test",
            "COLLAB_DATA_DIR": str(data_dir),
            "COLLAB_NODE_ID": node_id,
            "COLLAB_AUTO_MIGRATE": "true" if not made else "false",
            "DATABASE_URL": multinode_pg_url,
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": redis_prefix,
            "JWT_SECRET": JWT_SECRET,
            "RATE_LIMITS_ENABLED": "false",
            "COOKIE_SECURE": "false",
            "PASSWORD_HASH_TIME_COST": "1",
            "PASSWORD_HASH_MEMORY_KIB": "1024",
            "PASSWORD_HASH_PARALLELISM": "1",
            **extra,
        }
        collab = Path(sys.executable).with_name("collab")
        process = ServerProcess(
            [str(collab), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, port=port, log_path=tmp_path / f"{node_id}.log",
        )
        made.append(process)
        process.start()
        return process

    try:
        yield make
    finally:
        for process in made:
            if process.running:
                process.terminate()
        client = redis.Redis.from_url(redis_url)
        try:
            keys = list(client.scan_iter(f"{redis_prefix}*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()
