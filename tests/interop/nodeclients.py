"""Python handles on the Node scripts in `js/`: one child process per client, JSON lines.

`YjsClient` drives `js/client.mjs` (stock yjs + y-websocket `WebsocketProvider`), `RawClient`
drives `js/raw.mjs` (hand-built y-protocols frames). Every call waits for its reply with a
deadline; a script that dies or times out fails the test with its stderr attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any

JS_DIR = Path(__file__).resolve().parent / "js"
REPO = Path(__file__).resolve().parents[2]
NODE = os.environ.get("NODE", "node")


class NodeScriptError(AssertionError):
    """The script replied with an error, died, or did not answer in time."""


class NodeProcess:
    """One running Node script; `call(cmd, **args)` sends a command and returns its result."""

    def __init__(self, script: str, *, label: str) -> None:
        self.script = script
        self.label = label
        self.events: list[dict[str, Any]] = []
        self._proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._event_arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._stderr: list[str] = []
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._proc = await asyncio.create_subprocess_exec(
            NODE,
            str(JS_DIR / self.script),
            cwd=REPO,  # node resolves yjs & co from the repository's node_modules
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=16 * 1024 * 1024,
        )
        self._reader = asyncio.create_task(self._read_stdout())
        self._stderr_task = asyncio.create_task(self._read_stderr())
        await self.wait_event("ready", timeout=15)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    async def _read_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            message = json.loads(line)
            if "id" in message and message["id"] in self._pending:
                future = self._pending.pop(message["id"])
                if not future.done():
                    if message.get("ok"):
                        future.set_result(message.get("result"))
                    else:
                        future.set_exception(
                            NodeScriptError(f"{self.label}: {message.get('error')}")
                        )
            else:
                self.events.append(message)
                self._event_arrived.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NodeScriptError(f"{self.label} exited{self._stderr_tail()}"))
        self._pending.clear()
        self._event_arrived.set()

    async def _read_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        while line := await self._proc.stderr.readline():
            self._stderr.append(line.decode(errors="replace").rstrip())
            del self._stderr[:-50]

    def _stderr_tail(self) -> str:
        return ("\nstderr:\n" + "\n".join(self._stderr[-20:])) if self._stderr else ""

    async def call(self, cmd: str, *, timeout: float = 20.0, **args: Any) -> Any:
        """Send one command and return its result; raise `NodeScriptError` on failure."""
        assert self._proc is not None and self._proc.stdin is not None
        if self._proc.returncode is not None:
            raise NodeScriptError(f"{self.label} is not running{self._stderr_tail()}")
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._proc.stdin.write(json.dumps({"id": request_id, "cmd": cmd, **args}).encode() + b"\n")
        await self._proc.stdin.drain()
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError as exc:
            raise NodeScriptError(
                f"{self.label}: no reply to {cmd} within {timeout}s{self._stderr_tail()}"
            ) from exc

    async def wait_event(self, name: str, *, timeout: float = 10.0) -> dict[str, Any]:
        """Return the first event called `name` (already received or arriving within timeout)."""
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if event.get("event") == name:
                        return event
                if self._proc is not None and self._proc.returncode is not None:
                    raise NodeScriptError(f"{self.label} exited{self._stderr_tail()}")
                self._event_arrived.clear()
                await self._event_arrived.wait()

    def kill(self) -> None:
        """SIGKILL the process: no close frame, no awareness goodbye."""
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._proc.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Stop the script (politely, then by force) and reap it. Idempotent."""
        proc = self._proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(ConnectionError, NodeScriptError, TimeoutError):
                await self.call("exit", timeout=3)
            try:
                async with asyncio.timeout(5):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        for task in (self._reader, self._stderr_task):
            if task is not None:
                with contextlib.suppress(Exception):
                    await task
        await proc.wait()


class YjsClient(NodeProcess):
    """A stock `WebsocketProvider` on a `Y.Doc`; it edits the `Y.Text` named at connect."""

    def __init__(self, *, label: str) -> None:
        super().__init__("client.mjs", label=label)

    async def connect(
        self,
        base_url: str,
        room: str,
        token: str | None,
        *,
        awareness: dict[str, Any] | None = None,
        text: str = "content",
        stateless: bool = False,
    ) -> int:
        result = await self.call(
            "connect",
            url=f"{base_url}/collab",
            room=room,
            token=token,
            awareness=awareness,
            text=text,
            statelessOptIn=stateless,
        )
        return int(result["clientId"])

    async def send_stateless(self, payload: str) -> None:
        await self.call("sendStateless", payload=payload)

    async def wait_for_stateless(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until `count` stateless messages arrived; return them (status, payload)."""
        result = await self.call(
            "waitForStateless", count=count, timeoutMs=int(timeout * 1000), timeout=timeout + 5
        )
        return list(result["value"])

    async def shared(self, name: str, kind: str = "array") -> Any:
        """A top-level `Y.Array` (kind "array") or `Y.Map` ("map") as JSON."""
        return await self.call("getShared", name=name, type=kind)

    async def wait_for_shared(
        self, name: str, contains: str, kind: str = "array", timeout: float = 10.0
    ) -> Any:
        """Wait until the JSON of a top-level array or map contains `contains`; return it."""
        result = await self.call(
            "waitForShared", name=name, type=kind, contains=contains,
            timeoutMs=int(timeout * 1000), timeout=timeout + 5,
        )
        return result["value"]

    async def push_array(self, name: str, value: Any) -> int:
        """Push onto a top-level `Y.Array` of the local document (sent like any edit)."""
        return int(await self.call("pushArray", name=name, value=value))

    async def set_map(self, name: str, key: str, value: Any) -> None:
        await self.call("setMap", name=name, key=key, value=value)

    async def synced(self, timeout: float = 10.0) -> None:
        await self.call("waitForSynced", timeoutMs=int(timeout * 1000), timeout=timeout + 5)

    async def insert(self, text: str, index: int | None = None) -> int:
        return int(await self.call("insert", text=text, index=index))

    async def delete(self, index: int, length: int) -> int:
        return int(await self.call("delete", index=index, length=length))

    async def text(self) -> str:
        return str(await self.call("getText"))

    async def wait_for_text(self, expected: str, timeout: float = 10.0) -> float:
        """Wait until the text equals `expected`; return the milliseconds it took."""
        result = await self.call(
            "waitForText", expected=expected, timeoutMs=int(timeout * 1000), timeout=timeout + 5
        )
        return float(result["elapsedMs"])

    async def wait_for_length(self, length: int, timeout: float = 10.0) -> None:
        await self.call(
            "waitForLength", length=length, timeoutMs=int(timeout * 1000), timeout=timeout + 5
        )

    async def set_awareness(self, state: dict[str, Any] | None) -> None:
        await self.call("setAwareness", state=state)

    async def awareness(self) -> dict[str, Any]:
        return dict(await self.call("getAwareness"))

    async def wait_for_awareness(
        self, count: int, timeout: float = 10.0
    ) -> tuple[dict[str, Any], float]:
        """Wait for exactly `count` remote states; return them and the milliseconds it took."""
        result = await self.call(
            "waitForAwareness", count=count, timeoutMs=int(timeout * 1000), timeout=timeout + 5
        )
        return dict(result["value"]), float(result["elapsedMs"])

    async def wait_for_awareness_field(
        self, field: str, value: Any, timeout: float = 10.0
    ) -> dict[str, Any]:
        """Wait until a remote state has `field == value`; return all remote states."""
        result = await self.call(
            "waitForAwarenessField",
            field=field,
            value=value,
            timeoutMs=int(timeout * 1000),
            timeout=timeout + 5,
        )
        return dict(result["value"])

    async def wait_for_close(self, timeout: float = 10.0) -> tuple[int, str]:
        result = await self.call(
            "waitForClose", timeoutMs=int(timeout * 1000), timeout=timeout + 5
        )
        return int(result["value"]["code"]), str(result["value"]["reason"])

    async def status(self) -> dict[str, Any]:
        return dict(await self.call("status"))

    async def stats(self) -> dict[str, int]:
        return dict(await self.call("stats"))

    async def state_size(self) -> int:
        return int(await self.call("stateSize"))


class RawClient(NodeProcess):
    """A bare `ws` socket speaking hand-built y-protocols frames."""

    def __init__(self, *, label: str) -> None:
        super().__init__("raw.mjs", label=label)

    async def open(self, url: str) -> None:
        await self.call("open", url=url)

    async def wait_for_close(self, timeout: float = 10.0) -> tuple[int, str]:
        result = await self.call("waitForClose", timeoutMs=int(timeout * 1000), timeout=timeout + 5)
        return int(result["code"]), str(result["reason"])
