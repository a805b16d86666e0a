"""The Node load-generator workers: separate processes driven by JSON lines on stdin/stdout."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent


class BenchError(RuntimeError):
    """A worker failed a command, died, or did not answer in time."""


class _Worker:
    def __init__(self, index: int, log_dir: Path) -> None:
        self.index = index
        self.log = (log_dir / f"loadgen-{index}.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "node",
                "--max-old-space-size=4096",
                *os.environ.get("BENCH_NODE_ARGS", "").split(),
                str(BENCH_DIR / "loadgen" / "worker.mjs"),
            ],
            cwd=BENCH_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.replies.put(json.loads(line))
            except ValueError:
                continue
        self.replies.put(None)

    def send(self, cmd: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
            self.proc.stdin.flush()
        except OSError as exc:
            raise BenchError(f"load generator {self.index} is gone: {exc}") from exc

    def receive(self, cmd_id: int, timeout: float) -> dict[str, Any]:
        try:
            reply = self.replies.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"load generator {self.index}: no answer in {timeout:.0f}s") from None
        if reply is None:
            raise BenchError(f"load generator {self.index} exited (see its log)")
        if reply.get("id") != cmd_id:
            raise BenchError(f"load generator {self.index}: reply out of order")
        if not reply.get("ok"):
            raise BenchError(f"load generator {self.index}: {reply.get('error')}")
        return reply

    def stop(self) -> None:
        if self.proc.stdin:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class WorkerPool:
    """`size` Node worker processes; a command goes to each and all replies are awaited."""

    def __init__(self, size: int, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.workers = [_Worker(i, log_dir) for i in range(size)]
        self._ids = itertools.count(1)
        self.all({"cmd": "ping"}, timeout=30)

    @property
    def size(self) -> int:
        return len(self.workers)

    def pids(self) -> list[int]:
        return [w.proc.pid for w in self.workers if w.proc.poll() is None]

    def each(self, cmds: Sequence[dict[str, Any] | None], timeout: float) -> list[dict[str, Any]]:
        """Sends cmds[i] to worker i (None: skip it) and returns the replies in order."""
        sent: list[tuple[_Worker, int]] = []
        for worker, cmd in zip(self.workers, cmds, strict=False):
            if cmd is None:
                continue
            cmd_id = next(self._ids)
            worker.send({**cmd, "id": cmd_id})
            sent.append((worker, cmd_id))
        return [worker.receive(cmd_id, timeout) for worker, cmd_id in sent]

    def all(self, cmd: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
        return self.each([cmd] * self.size, timeout)

    def one(self, cmd: dict[str, Any], timeout: float) -> dict[str, Any]:
        return self.each([cmd], timeout)[0]

    def split(self, specs: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Client specs dealt round-robin, so each room's clients span processes."""
        parts: list[list[dict[str, Any]]] = [[] for _ in self.workers]
        for i, spec in enumerate(specs):
            parts[i % self.size].append(spec)
        return parts

    def close(self) -> None:
        for w in self.workers:
            w.stop()
