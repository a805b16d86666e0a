"""docker/compose.yaml for real: build the images (docker/build.sh), bring up the two-node
stack behind nginx, check both nodes are healthy and serve, sign up through nginx, edit one
note from two collab clients that nginx put on different nodes, see the edit converge, and
tear everything down (volumes too).

Needs Docker. As root on Debian it installs what is missing (docker/host-setup.sh: docker.io,
docker-compose, mmdebstrap) and starts dockerd; elsewhere without a reachable daemon it is
skipped, except under CI=true where it fails. The base image and the build layers are cached
by the daemon: the first run builds for several minutes, later runs take about a minute.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from tests.audio_samples import tone_pcm, wav
from tests.conftest import IN_CI
from tests.interop.backends import RestBackend
from tests.interop.serverprocess import free_port
from tests.livepeer import LivePeer, socket_url

pytestmark = [pytest.mark.slow, pytest.mark.docker, pytest.mark.timeout(2400)]

REPO = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO / "docker"


def _docker() -> str:
    """Debian's client (built-in BuildKit) when the one on PATH lacks buildx."""
    found = shutil.which("docker")
    if found and subprocess.run(
        [found, "buildx", "version"], capture_output=True, check=False
    ).returncode == 0:
        return found
    return "/usr/bin/docker" if Path("/usr/bin/docker").exists() else (found or "docker")


def _daemon_up() -> bool:
    try:
        done = subprocess.run([_docker(), "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _unavailable(reason: str) -> None:
    message = f"Docker cannot run here: {reason} (docs/deploy.md, 'Testing the stack')"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def require_docker() -> None:
    if _daemon_up():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _unavailable("no reachable daemon, and installing one needs root on Debian")
    setup = subprocess.run(
        ["bash", str(DOCKER_DIR / "host-setup.sh")],
        capture_output=True, text=True, timeout=900, check=False,
    )
    if setup.returncode != 0 or not _daemon_up():
        _unavailable(f"docker/host-setup.sh failed: {setup.stderr[-2000:]}")


def _compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return [_docker(), "compose"]


@dataclass
class Stack:
    project: str
    env_file: Path
    http_url: str
    build_seconds: float
    up_seconds: float

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                *_compose_command(),
                "-p", self.project,
                "-f", str(DOCKER_DIR / "compose.yaml"),
                "--env-file", str(self.env_file),
                *args,
            ],
            capture_output=True, text=True, timeout=timeout, check=False,
        )

    def health(self, service: str) -> str:
        ids = self.compose("ps", "-q", service).stdout.split()
        if not ids:
            return "missing"
        done = subprocess.run(
            [_docker(), "inspect", "--format", "{{.State.Health.Status}}", ids[0]],
            capture_output=True, text=True, check=False,
        )
        return done.stdout.strip() or done.stderr.strip()


def _env_file(path: Path, http_port: int) -> None:
    """docker/.env.example with every secret replaced, nginx on a free loopback port."""
    values = {
        "COLLAB_HTTP_PORT": str(http_port),
        "COLLAB_PUBLIC_URL": f"http://127.0.0.1:{http_port}/",
        "POSTGRES_PASSWORD": secrets.token_urlsafe(24),
        "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(24),
        "JWT_SECRET": secrets.token_urlsafe(48),
        "MUX_WEBHOOK_SECRET": secrets.token_urlsafe(24),
    }
    lines = []
    for line in (DOCKER_DIR / ".env.example").read_text().splitlines():
        key = line.split("=", 1)[0]
        lines.append(f"{key}={values.pop(key)}" if key in values else line)
    assert not values, f"docker/.env.example lacks {sorted(values)}"
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_docker()
    started = time.monotonic()
    build = subprocess.run(
        ["bash", str(DOCKER_DIR / "build.sh")],
        capture_output=True, text=True, timeout=1800, check=False,
        env={**os.environ, "DOCKER": _docker()},
    )
    build_seconds = time.monotonic() - started
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]

    port = free_port()
    env_file = tmp_path_factory.mktemp("compose") / "env"
    _env_file(env_file, port)
    found = Stack(
        f"collabtest{uuid.uuid4().hex[:8]}", env_file, f"http://127.0.0.1:{port}", build_seconds, 0
    )
    try:
        started = time.monotonic()
        up = found.compose("up", "-d")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        deadline = time.monotonic() + 180
        while True:
            states = {name: found.health(name) for name in ("app1", "app2", "nginx")}
            if set(states.values()) == {"healthy"}:
                break
            assert time.monotonic() < deadline, f"not healthy after 180 s: {states}"
            time.sleep(2)
        found.up_seconds = time.monotonic() - started
        print(  # docs/deploy.md quotes these (pytest -rP)
            f"\ncompose stack: build.sh {found.build_seconds:.0f} s, "
            f"up until healthy {found.up_seconds:.0f} s"
        )
        yield found
    except BaseException:
        print(found.compose("logs", "--no-color", "--tail", "60").stdout[-20000:])
        raise
    finally:
        found.compose("down", "--volumes", "--remove-orphans", "--timeout", "30")


class NodePeer(LivePeer):
    """A collab client that knows which app node nginx connected it to."""

    @property
    def node(self) -> str:
        assert self._ws is not None and self._ws.response is not None
        return str(self._ws.response.headers.get("X-Collab-Node", ""))


def _text(doc: Doc[Any]) -> str:
    return str(doc.get("t", type=Text))


def _append(value: str) -> Any:
    def change(doc: Doc[Any]) -> None:
        text = doc.get("t", type=Text)
        text.insert(len(str(text).encode()), value)  # pycrdt offsets are UTF-8 bytes

    return change


async def test_two_nodes_behind_nginx_converge(stack: Stack) -> None:
    assert stack.compose("ps", "-q", "worker").stdout.strip(), "the worker is not running"
    migrate = stack.compose("logs", "--no-color", "migrate").stdout
    assert "database is at the latest migration" in migrate, migrate[-2000:]

    async with httpx.AsyncClient(base_url=stack.http_url, timeout=30) as http:
        # Round robin: consecutive requests reach both nodes, each healthy on every check.
        nodes = set()
        for _ in range(4):
            response = await http.get("/api/health")
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["status"] == "healthy"
            assert body["schema"]["revision"] == body["schema"]["expected"]
            assert {c["status"] for c in body["checks"].values()} == {"ok"}, body
            nodes.add(response.headers["X-Collab-Node"])
        assert nodes == {"app1", "app2"}

        # X-Forwarded-For: nginx replaces a client's own value with the address it sees, the
        # nodes believe it only from nginx: a client reaching a node directly (here from the
        # worker's container) is counted by its own address, whatever header it sends.
        spoof = {"X-Forwarded-For": "203.0.113.9"}
        through = uuid.uuid4().hex
        assert (await http.get(f"/api/health?probe={through}", headers=spoof)).status_code == 200
        direct = uuid.uuid4().hex
        sent = stack.compose(
            "exec", "-T", "worker", "python3", "-c",
            "import urllib.request as u; u.urlopen(u.Request("
            f"'http://172.30.0.11:8000/api/health?probe={direct}', headers={spoof!r}))",
        )
        assert sent.returncode == 0, sent.stderr
        logs = stack.compose("logs", "--no-color", "app1", "app2").stdout
        seen = {
            probe: next(line for line in logs.splitlines() if probe in line)
            for probe in (through, direct)
        }
        # The host's address as nginx saw it (the network's gateway through docker's port
        # proxy): neither what the client claimed nor nginx's own address.
        assert "203.0.113.9" not in seen[through] and "172.30.0.10:" not in seen[through]
        assert " 172.30.0." in seen[through], seen[through]
        assert " 172.30.0.13:" in seen[direct] and "203.0.113.9" not in seen[direct]

        page = await http.get("/")
        assert page.status_code == 200 and "<div id=\"root\"" in page.text

        backend = RestBackend(http)
        owner = await backend.user("Deployer")
        note_id = await backend.note(owner)

        # An upload past nginx's default 1 MiB body limit lands in the object store (moto)
        # and comes back byte for byte.
        audio = wav(tone_pcm(170.0))  # 5.2 MiB of real audio (uploads are checked by bytes)
        assert len(audio) > 5 * 2**20
        auth = {"Authorization": f"Bearer {owner.token}"}
        created = await http.post(
            "/api/workbook/audio",
            files={"audio": ("talk.wav", audio, "audio/wav")},
            data={"title": "Deploy check"},
            headers=auth,
        )
        assert created.status_code == 201, created.text
        recording_id = created.json()["recording"]["id"]
        for _ in range(2):  # from both nodes
            file = await http.get(f"/api/workbook/audio/{recording_id}/file", headers=auth)
            assert file.status_code == 200 and file.content == audio

    base = stack.http_url.replace("http://", "ws://") + "/collab"
    url = socket_url(base, f"notes/{note_id}", owner.token)
    a = NodePeer(url)
    await a.__aenter__()
    peers = [a]
    try:
        b = None
        for _ in range(6):  # round robin: the next connection lands on the other node
            candidate = NodePeer(url)
            await candidate.__aenter__()
            peers.append(candidate)
            if candidate.node != a.node:
                b = candidate
                break
        assert b is not None, f"every socket landed on {a.node}"
        assert {a.node, b.node} == {"app1", "app2"}
        await asyncio.gather(a.synced(), b.synced())

        await a.edit(_append("hello from " + a.node + ";"))
        await b.wait_for(lambda d: "hello from" in _text(d), 20)
        await b.edit(_append("and from " + b.node + ";"))
        await a.wait_for(lambda d: _text(d).count(";") == 2, 20)
        await b.wait_for(lambda d: _text(d).count(";") == 2, 20)
        assert _text(a.doc) == _text(b.doc)
        assert f"hello from {a.node};and from {b.node};" == _text(a.doc)

        # A rolling restart's first half: SIGTERM drains the node (exit 0, its sockets
        # closed with 1012 "service restart" by uvicorn's shutdown or 1001 "going away" by
        # the collab server's; docs/protocol.md); a client reconnecting through nginx lands
        # on the other node and finds every edit.
        stopping = a if a.node == "app1" else b
        stop = stack.compose("stop", "--timeout", "30", "app1")
        assert stop.returncode == 0, stop.stderr
        assert await stopping.closed(30) in {1001, 1012}
        container = stack.compose("ps", "-q", "app1").stdout.split()[0]
        exit_code = subprocess.run(
            [_docker(), "inspect", "--format", "{{.State.ExitCode}}", container],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        assert exit_code == "0", stack.compose("logs", "--tail", "40", "app1").stdout
        again = NodePeer(url)
        await again.__aenter__()
        peers.append(again)
        assert again.node == "app2"
        await again.synced(20)
        assert _text(again.doc) == _text(a.doc)
    finally:
        for peer in reversed(peers):
            await peer.__aexit__(None, None, None)

    # The backup command of docs/deploy.md: a custom-format dump that pg_restore can read,
    # holding the account made above.
    dump = subprocess.run(
        [*_compose_command(), "-p", stack.project, "-f", str(DOCKER_DIR / "compose.yaml"),
         "--env-file", str(stack.env_file), "exec", "-T", "postgres",
         "pg_dump", "-U", "collab", "-d", "collab", "--format=custom"],
        capture_output=True, timeout=120, check=False,
    )
    assert dump.returncode == 0 and dump.stdout.startswith(b"PGDMP"), dump.stderr[-2000:]
    restored = subprocess.run(
        [*_compose_command(), "-p", stack.project, "-f", str(DOCKER_DIR / "compose.yaml"),
         "--env-file", str(stack.env_file), "exec", "-T", "postgres",
         "pg_restore", "--data-only", "--table=users", "--file=-"],
        input=dump.stdout, capture_output=True, timeout=120, check=False,
    )
    assert restored.returncode == 0, restored.stderr[-2000:]
    assert owner.email.encode() in restored.stdout


def test_image_runs_as_non_root_without_the_build_ca(stack: Stack) -> None:
    """The CA bundle handed to the build as a secret (docker/build.sh) is in no layer."""
    inspect = subprocess.run(
        [_docker(), "image", "inspect", "--format", "{{.Config.User}} {{.Config.Healthcheck}}",
         "collab:latest"],
        capture_output=True, text=True, check=True,
    )
    assert inspect.stdout.startswith("collab:collab "), inspect.stdout
    assert "/api/health" in inspect.stdout
    bundle = subprocess.run(
        [_docker(), "run", "--rm", "--entrypoint", "sh", "collab:latest", "-c",
         "cat /etc/ssl/certs/ca-certificates.crt; ls /run/secrets 2>/dev/null; true"],
        capture_output=True, text=True, check=True,
    ).stdout
    local = sorted(Path("/usr/local/share/ca-certificates").glob("**/*.crt"))
    for cert in local:  # this machine's own CAs (a TLS-inspecting proxy's, say)
        body = "".join(cert.read_text().split("-----")[2].split())
        assert body[:200] not in "".join(bundle.split()), f"{cert} was baked into the image"
