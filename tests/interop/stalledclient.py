"""A y-websocket peer that stops reading its socket, for the slow-consumer (1013) case.

Written in Python on a bare socket rather than in Node on purpose: Node cannot shrink a TCP
socket's receive buffer, and Linux autotunes it up to `net.ipv4.tcp_rmem` max (32 MiB here),
so a paused Node socket swallows tens of megabytes before the server notices anything; and a
WebSocket library keeps reading ahead into its own buffers. Here SO_RCVBUF is set before
connecting (which also disables autotuning), the RFC 6455 handshake and frames are written by
hand, and nothing is read until `drain()`, so the server's own send buffer is what fills up.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import struct
from urllib.parse import urlsplit

from collab.protocol import encode_sync_step1


def _masked_binary_frame(payload: bytes) -> bytes:
    # RFC 6455 5.2: FIN + opcode 2, MASK bit set (clients must mask), 7/16/64-bit length.
    mask = os.urandom(4)
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x82, 0x80 | size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x82, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", 0x82, 0x80 | 127, size)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class StalledClient:
    """Connects, sends sync step 1, then reads nothing until `drain()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        parts = urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (parts.hostname, parts.port))
        # A small StreamReader limit: asyncio stops reading the socket once 4 KiB are buffered.
        self._reader, self._writer = await asyncio.open_connection(sock=sock, limit=4096)
        key = base64.b64encode(os.urandom(16)).decode()
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        self._writer.write(
            (
                f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        status = await self._reader.readline()
        assert b" 101 " in status, status
        while (await self._reader.readline()) not in (b"\r\n", b""):
            pass
        self._writer.write(_masked_binary_frame(encode_sync_step1(b"\x00")))
        await self._writer.drain()

    async def drain(self) -> int | None:
        """Read every frame until the connection ends; return the close code, if one came."""
        reader = self._reader
        assert reader is not None
        try:
            while True:
                first, second = await reader.readexactly(2)
                size = second & 0x7F
                if size == 126:
                    (size,) = struct.unpack("!H", await reader.readexactly(2))
                elif size == 127:
                    (size,) = struct.unpack("!Q", await reader.readexactly(8))
                payload = await reader.readexactly(size)
                if first & 0x0F == 0x8:  # close frame: 2-byte code, then the reason
                    return int(struct.unpack("!H", payload[:2])[0]) if size >= 2 else None
        except (asyncio.IncompleteReadError, ConnectionError):
            return None

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
