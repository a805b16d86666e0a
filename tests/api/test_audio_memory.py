"""A large upload is never held in memory: `collab serve` as a real process takes a 60 MB WAV
and its peak resident memory grows by far less than the file (the body streams to a temporary
file, is probed from there and copied to the store a chunk at a time). Reading the upload into
memory, as the server once did, grew it by at least the file's size."""

from __future__ import annotations

import struct
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.interop.serverprocess import ServerProcess, free_port

pytestmark = pytest.mark.slow

MIB = 2**20
SIZE = 60 * MIB
RATE = 16_000


def _wav_header(data_bytes: int) -> bytes:
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, RATE, RATE * 2, 2, 16)
            + b"data" + struct.pack("<I", data_bytes))


def _peak_rss(pid: int) -> int:
    """VmHWM: the most resident memory the process had since its peak was last reset."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux /proc to read and reset the peak resident memory")
    port = free_port()
    (tmp_path / "data").mkdir()
    env = {
        "COLLAB_ENV": "test", "COLLAB_DATA_DIR": str(tmp_path / "data"),
        "COLLAB_AUTO_MIGRATE": "true", "JWT_SECRET": uuid.uuid4().hex * 2,
        "RATE_LIMITS_ENABLED": "false", "COOKIE_SECURE": "false",
        "PASSWORD_HASH_TIME_COST": "1", "PASSWORD_HASH_MEMORY_KIB": "1024",
        "PASSWORD_HASH_PARALLELISM": "1", "TRANSCRIPTION_ENGINE": "none",
        "COLLAB_FRONTEND_DIR": str(tmp_path / "no-frontend"),
    }
    collab = Path(sys.executable).with_name("collab")
    process = ServerProcess([str(collab), "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, port=port, log_path=tmp_path / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.terminate()


def _multipart(boundary: str, size: int) -> tuple[Iterator[bytes], int]:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nLong talk\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="talk.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode() + _wav_header(size - 44)
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        silence = b"\0" * MIB
        left = size - 44
        while left:
            yield silence[: min(left, MIB)]
            left -= min(left, MIB)
        yield tail

    return body(), len(head) + size - 44 + len(tail)


def test_a_60_mb_upload_does_not_grow_the_server_by_its_size(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.http_url, timeout=120) as http:
        registered = http.post("/api/workbook/auth/register", json={
            "email": f"big-{uuid.uuid4().hex[:8]}@example.com",
            "password": "correct horse battery staple", "name": "Big"})
        assert registered.status_code == 201, registered.text
        me = {"Authorization": f"Bearer {registered.json()['token']}"}

        def upload(size: int) -> httpx.Response:
            boundary = uuid.uuid4().hex
            body, length = _multipart(boundary, size)
            return http.post("/api/workbook/audio", content=body, headers={
                **me, "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(length)})

        warm = upload(2 * MIB)  # PyAV, the store and the database are loaded by now
        assert warm.status_code == 201, warm.text
        _reset_peak(server.pid)
        before = _peak_rss(server.pid)
        big = upload(SIZE)
        assert big.status_code == 201, big.text
        grown = _peak_rss(server.pid) - before

        recording = big.json()["recording"]
        assert recording["fileSize"] == SIZE and recording["format"] == "wav"
        assert recording["durationSeconds"] == pytest.approx((SIZE - 44) / (RATE * 2), abs=0.1)
        assert grown < SIZE / 3, f"the server grew by {grown / MIB:.1f} MiB for a 60 MiB upload"

        # Played back a chunk at a time too.
        _reset_peak(server.pid)
        before = _peak_rss(server.pid)
        received = 0
        with http.stream("GET", f"/api/workbook/audio/{recording['id']}/file",
                         headers=me) as file:
            assert file.status_code == 200 and file.headers["content-length"] == str(SIZE)
            for chunk in file.iter_bytes():
                received += len(chunk)
        assert received == SIZE
        grown = _peak_rss(server.pid) - before
        assert grown < SIZE / 3, f"the download grew the server by {grown / MIB:.1f} MiB"
