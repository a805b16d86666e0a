"""Network namespaces for media tests: each aiortc client runs in one of its own.

aioice never offers 127.0.0.1 as a host candidate, so peers on loopback alone cannot connect.
Each namespace gets a veth pair: one end inside (``.2`` of a random /30 in 198.18.0.0/15, the
benchmarking range), the other in the test's namespace (``.1``), where the relay runs and
gathers it as a host candidate. Nothing is routed anywhere else. Needs root (``ip netns``);
``namespaces`` skips the test with the reason when that fails.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

PEER = Path(__file__).with_name("_peer.py")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Namespace:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.name = f"media-{tag}"
        self.outside, self.inside = f"vo{tag}", f"vi{tag}"
        block = secrets.randbelow(2 * 256 * 64)  # /30 blocks in 198.18.0.0/15
        base = (198 << 24) | (18 << 16) | (block * 4)
        self.outside_ip = _dotted(base + 1)
        self.inside_ip = _dotted(base + 2)

    def create(self) -> None:
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.outside, "type", "veth", "peer", "name", self.inside)
            _ip("link", "set", self.inside, "netns", self.name)
            _ip("addr", "add", f"{self.outside_ip}/30", "dev", self.outside)
            _ip("link", "set", self.outside, "up")
            inside = ("netns", "exec", self.name, "ip")
            _ip(*inside, "addr", "add", f"{self.inside_ip}/30", "dev", self.inside)
            _ip(*inside, "link", "set", self.inside, "up")
            _ip(*inside, "link", "set", "lo", "up")
            subprocess.run(["ip", "netns", "exec", self.name, "sysctl", "-qw",
                            "net.ipv6.conf.all.disable_ipv6=1"], check=False,
                           capture_output=True, timeout=10)
        except BaseException:
            self.delete()
            raise

    def delete(self) -> None:
        subprocess.run(["ip", "link", "del", self.outside], check=False, capture_output=True,
                       timeout=10)
        subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True,
                       timeout=10)

    async def spawn(self, *args: str) -> Peer:
        process = await asyncio.create_subprocess_exec(
            "ip", "netns", "exec", self.name, sys.executable, str(PEER), *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return Peer(process)


class Peer:
    """One ``_peer.py`` process: its events, in order, and a way to answer it."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.events: list[dict[str, Any]] = []

    async def send(self, **message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        await self.process.stdin.drain()

    async def frames(self) -> dict[str, int]:
        """Frames received so far per track (a fresh report from the process)."""
        after = len(self.events)
        await self.send(cmd="report")
        report = await self.expect(lambda e: e.get("event") == "report", after=after)
        return dict(report["frames"])

    async def expect(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """The first event from index ``after`` on (seen before or arriving within
        ``timeout``) that matches."""
        for event in self.events[after:]:
            if predicate(event):
                return event
        assert self.process.stdout is not None
        async with asyncio.timeout(timeout):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise AssertionError(f"peer exited; events: {self.events}")
                event = json.loads(line)
                self.events.append(event)
                if predicate(event):
                    return event

    async def close(self) -> None:
        if self.process.returncode is None:
            try:
                await self.send(cmd="stop")
                async with asyncio.timeout(5):
                    await self.process.wait()
            except (TimeoutError, ConnectionError):
                self.process.kill()
                await self.process.wait()


def _dotted(value: int) -> str:
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


@pytest.fixture
def namespaces() -> Iterator[Callable[[], Namespace]]:
    """Make namespaces (deleted at teardown); skips when ``ip netns`` is unavailable."""
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command: cannot create network namespaces")
    made: list[Namespace] = []

    def make() -> Namespace:
        namespace = Namespace()
        try:
            namespace.create()
        except (subprocess.CalledProcessError, OSError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            pytest.skip(f"cannot create a network namespace (needs root): {exc} "
                        f"{detail.decode(errors='replace').strip()}")
        made.append(namespace)
        return namespace

    yield make
    for namespace in made:
        namespace.delete()
