"""A stock yjs + y-websocket client sends stateless messages with `provider.ws.send` and
receives them through `provider.messageHandlers[100]`; a stock client that did not opt in
never receives one (the real socket, the transport `collab serve` runs)."""

from __future__ import annotations

import json
import uuid

import pytest
from prometheus_client import CollectorRegistry

from collab import CollabServer
from collab.kinds import DocumentKind
from tests.collab._kit import FAST, TokenAuth, uvicorn_app
from tests.collab.test_stateless import Hosts, Room
from tests.interop.nodeclients import YjsClient

pytestmark = pytest.mark.interop


async def test_stock_client_sends_and_receives_stateless_messages() -> None:
    kinds = [DocumentKind("sessions", Hosts(), stateless=Room())]
    server = CollabServer(FAST, [TokenAuth()], kinds=kinds, metrics_registry=CollectorRegistry())
    room = f"sessions/{uuid.uuid4().hex}"
    async with server, uvicorn_app(server) as url:
        sender, listener, plain = (YjsClient(label=n) for n in ("sender", "listener", "plain"))
        for client in (sender, listener, plain):
            await client.start()
        try:
            await sender.connect(url, room, "user-1")
            await listener.connect(url, room, "user-2", stateless=True)
            await plain.connect(url, room, "user-3")
            for client in (sender, listener, plain):
                await client.synced()
            await sender.send_stateless(json.dumps({"type": "echo", "text": "hello"}))
            [reply] = await sender.wait_for_stateless(1)
            assert reply["status"] == 0
            assert json.loads(reply["payload"]) == {"echo": "hello", "role": "host"}
            await sender.send_stateless(json.dumps({"type": "shout", "text": "hands up"}))
            [heard] = await listener.wait_for_stateless(1)
            assert json.loads(heard["payload"]) == {"from": "1", "text": "hands up"}
            await sender.send_stateless(json.dumps({"type": "bad"}))
            replies = await sender.wait_for_stateless(2)
            assert replies[1] == {"status": 1, "payload": "votes are closed"}
            # The plain client saw nothing: an edit sent after the shout reached it, and no
            # stateless frame came before it on the same socket.
            await sender.insert("x")
            await plain.wait_for_text("x")
            assert (await plain.call("waitForStateless", count=0))["value"] == []
        finally:
            for client in (sender, listener, plain):
                await client.close()
