"""Starlette adapter: ``routes(server)`` mounts ``/collab/{kind}/{doc_id}``.

The socket is always accepted first and refused afterwards with a 44xx close code: a
y-websocket client that is refused during the handshake (HTTP 403) retries forever, while a
4xxx close code tells it why. Credentials: ``?token=<access JWT>`` (what y-websocket's
``params`` option sends), cookies, and headers, all handed to ``on_authenticate``.

Under ``collab.transport.CollabWebSocketProtocol`` (what ``collab serve`` runs) the endpoint
claims the socket after the accept and frames bypass ASGI; under any other ASGI server it
serves the Starlette ``WebSocket`` through a ``BufferedChannel``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from collab.channel import CLAIM_EXTENSION, ConnectRequest
from collab.errors import ConnectionClosed, UnsupportedData
from collab.server import CollabServer

__all__ = ["StarletteChannel", "routes"]


class StarletteChannel:
    """A ``StreamChannel`` over an accepted Starlette ``WebSocket`` (binary frames only)."""

    def __init__(self, websocket: WebSocket) -> None:
        self.websocket = websocket

    async def receive(self) -> bytes:
        """The next binary frame; a text frame raises ``UnsupportedData`` (1003)."""
        try:
            message = await self.websocket.receive()
        except (RuntimeError, OSError) as exc:
            raise ConnectionClosed() from exc
        if message["type"] == "websocket.disconnect":
            raise ConnectionClosed(message.get("code"))
        data = message.get("bytes")
        if data is None:
            raise UnsupportedData("text frame")
        return bytes(data)

    async def send(self, data: bytes) -> None:
        """Send one binary frame."""
        try:
            await self.websocket.send_bytes(data)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise ConnectionClosed() from exc

    async def close(self, code: int, reason: str) -> None:
        """Send the close frame unless the socket is already closed (idempotent)."""
        ws = self.websocket
        if (
            ws.application_state == WebSocketState.DISCONNECTED
            or ws.client_state == WebSocketState.DISCONNECTED
        ):
            return
        try:
            await ws.close(code, reason)
        except (RuntimeError, OSError):
            return


def routes(server: CollabServer) -> list[BaseRoute]:
    """The collab WebSocket route for a Starlette app: ``/collab/{kind}/{doc_id}``."""

    async def endpoint(websocket: WebSocket) -> None:
        claim = websocket.scope.get("extensions", {}).get(CLAIM_EXTENSION)
        await websocket.accept()
        request = ConnectRequest(
            kind=websocket.path_params["kind"],
            doc_id=websocket.path_params["doc_id"],
            token=websocket.query_params.get("token"),
            cookies=dict(websocket.cookies),
            headers=dict(websocket.headers.items()),
            params=dict(websocket.query_params.items()),
        )
        if claim is not None:
            await server.serve(claim["claim"](), request)
        else:
            await server.serve_stream(StarletteChannel(websocket), request)

    return [WebSocketRoute("/collab/{kind}/{doc_id}", endpoint)]
