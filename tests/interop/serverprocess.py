"""The server under test as a real OS process on a free loopback port.

`ServerProcess` starts a command (normally `collab serve`), waits until the port answers,
and stops it with SIGTERM (graceful: flush, close 1001) or SIGKILL. It can be started again
on the same data directory and port, which is what the restart tests need. It is synchronous
so that session fixtures can own it; async tests call `stop`/`start` through
`asyncio.to_thread`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Service settings of the developer's shell never leak into the server under test.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "STORAGE_URL", "S3_ENDPOINT_URL", "COLLAB_")


def _inherited_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_NOT_INHERITED)}


class ServerProcess:
    """One server process; `start()` and `terminate()`/`kill()` may alternate."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        port: int,
        log_path: Path,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(env)
        self.port = port
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None, "not started"
        return self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        assert not self.running, "already running"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                env={**_inherited_env(), **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The child has no readiness pipe: poll its port until it accepts, failing fast when
        # the process dies. Each attempt is a real connection; the pause only spaces them out.
        deadline = time.monotonic() + timeout
        while True:
            if self._proc.poll() is not None:
                raise AssertionError(
                    f"server exited with {self._proc.returncode} while starting:\n{self.log()}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(
                        f"server did not listen within {timeout}s:\n{self.log()}"
                    ) from None
                time.sleep(0.05)

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for the graceful exit; return the exit status."""
        proc = self._proc
        assert proc is not None
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"server ignored SIGTERM for {timeout}s:\n{self.log()}"
                ) from None
        return int(proc.returncode)

    def kill(self) -> None:
        """SIGKILL: no flush, no close frames."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def log(self, tail: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(lines[-tail:])


ServerFactory = Callable[..., ServerProcess]
"""The `server_factory` fixture: `make(name, *, data_dir=, port=, start=True, **env)`."""
