"""The server process never writes an access token to its log (y-websocket sends it in the
query string, which ASGI servers like to log)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from backends import Note
from nodeclients import YjsClient
from serverprocess import ServerProcess

pytestmark = pytest.mark.interop


async def test_tokens_never_reach_the_server_log(
    server: ServerProcess, note: Note, yjs: Callable[[str], Awaitable[YjsClient]]
) -> None:
    client = await yjs("editor")
    await client.connect(server.ws_url, note.name, note.owner.token)
    await client.synced()
    await client.insert("logged?")
    await client.close()
    log = server.log_path.read_text(errors="replace")
    assert note.name in log  # the connection was logged...
    assert note.owner.token not in log  # ...but not its credentials
