"""Presence through the server with stock y-websocket clients: appears, carries the server's
identity stamp, and disappears on a clean disconnect and when the client process is killed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from backends import Note, RestBackend
from nodeclients import NodeScriptError, YjsClient
from serverprocess import ServerProcess

pytestmark = pytest.mark.interop

Clients = Callable[[str], Awaitable[YjsClient]]

# Documented bound (docs/protocol.md, "Interop tests"): the server announces a removal as soon
# as it sees the socket close. A killed process's socket is closed by its kernel, so this is
# network + relay latency; y-protocols' own 30 s `outdatedTimeout` is only the fallback.
REMOVAL_TIMEOUT = 10.0


async def _everyone_left(watcher: YjsClient, server: ServerProcess) -> float:
    """Wait until the watcher sees no remote state; return the milliseconds it took."""
    try:
        states, elapsed_ms = await watcher.wait_for_awareness(0, timeout=REMOVAL_TIMEOUT)
    except NodeScriptError as exc:
        left = await watcher.awareness()
        raise AssertionError(f"still present: {left}\nserver log:\n{server.log(30)}") from exc
    assert states == {}
    return elapsed_ms


async def _pair(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> tuple[YjsClient, YjsClient, str]:
    writer = await backend.user("Ada")
    await backend.share(note.id, note.owner, writer, "write")
    watcher = await yjs("watcher")
    await watcher.connect(server.ws_url, note.name, note.owner.token)
    await watcher.synced()
    peer = await yjs("ada")
    await peer.connect(server.ws_url, note.name, writer.token, awareness={"cursor": 3})
    await peer.synced()
    return watcher, peer, writer.id


async def test_awareness_appears_with_the_server_stamped_identity(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    watcher, peer, ada_id = await _pair(server, note, backend, yjs)
    states = await watcher.wait_for_awareness_field("cursor", 3)
    (state,) = states.values()
    assert state["user"]["id"] == ada_id
    assert state["user"]["name"] == "Ada"

    # A client cannot impersonate another user: the server overwrites `user`.
    await peer.set_awareness({"cursor": 4, "user": {"id": note.owner.id, "name": "Mallory"}})
    (state,) = (await watcher.wait_for_awareness_field("cursor", 4)).values()
    assert state["user"]["id"] == ada_id
    assert state["user"]["name"] == "Ada"


async def test_awareness_disappears_on_disconnect(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    watcher, peer, _ = await _pair(server, note, backend, yjs)
    await watcher.wait_for_awareness_field("cursor", 3)
    await peer.call("disconnect")
    await _everyone_left(watcher, server)


async def test_awareness_disappears_when_the_client_process_is_killed(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    watcher, peer, _ = await _pair(server, note, backend, yjs)
    await watcher.wait_for_awareness_field("cursor", 3)
    peer.kill()  # SIGKILL: no awareness goodbye, no close frame
    elapsed_ms = await _everyone_left(watcher, server)
    print(f"awareness removal after SIGKILL of the client: {elapsed_ms:.0f} ms")


async def test_reconnecting_client_is_visible_again_at_once(
    server: ServerProcess, note: Note, backend: RestBackend, yjs: Clients
) -> None:
    # y-websocket #122: a reconnecting client re-sends its old clock; without the server's
    # help peers would ignore it for ~15-30 s.
    watcher, peer, _ = await _pair(server, note, backend, yjs)
    await watcher.wait_for_awareness_field("cursor", 3)
    await peer.call("disconnect")
    await _everyone_left(watcher, server)
    await peer.call("reconnect")
    await peer.synced()
    await watcher.wait_for_awareness_field("cursor", 3, timeout=REMOVAL_TIMEOUT)
