"""The media home's request/reply transport over Redis pub/sub (``media.homewire`` messages).

Each node reads one channel for requests to it and one for replies to its own requests
(``request_channel``/``reply_channel``), on one subscription of its own. ``ask`` publishes a
request to another node and waits for the reply with the same id; Redis answers a PUBLISH with
the number of subscribers that got it, so a request nobody read (the node is gone) fails at
once with ``NobodyThere`` instead of waiting out the timeout. Requests to this node are served
concurrently, each by ``serve``, whose reply goes back to the asking node's channel.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc

from media.config import MediaRefused
from media.homewire import (
    Reply,
    Request,
    WireError,
    decode,
    encode,
    reply_channel,
    request_channel,
)

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["NobodyThere", "RedisBus"]

log = logging.getLogger(__name__)


class NobodyThere(Exception):
    """Nobody reads the node's request channel: its process is gone (or resubscribing)."""


@dataclass(eq=False, slots=True)
class _Pending:
    done: anyio.Event = field(default_factory=anyio.Event)
    reply: Reply | None = None


class RedisBus:
    """One node's end of the transport.

    Args:
        redis: the client (its pub/sub connection is taken from its pool).
        node: this node's id.
        prefix: the deployment's Redis prefix.
        timeout: seconds ``ask`` waits for a reply.
        serve: answers a request to this node (must not raise).
    """

    def __init__(self, redis: Redis[bytes], node: str, *, prefix: str, timeout: float,
                 serve: Callable[[Request], Awaitable[Reply]]) -> None:
        self._redis, self._node, self._prefix = redis, node, prefix
        self.timeout = timeout
        self._serve = serve
        self._pending: dict[str, _Pending] = {}

    async def ask(self, home: str, op: str, room: str, args: dict[str, Any]) -> Reply:
        """Send one request to ``home`` and wait for its reply.

        Raises:
            NobodyThere: nobody read the request.
            MediaRefused: media_unavailable, no reply within ``timeout`` (the request may
                still be carried out there).
            redis.exceptions.RedisError, OSError: Redis unreachable.
        """
        request = Request(uuid.uuid4().hex, self._node, op, room, args)
        pending = self._pending[request.id] = _Pending()
        try:
            receivers = await self._redis.publish(request_channel(self._prefix, home),
                                                  encode(request))
            if not receivers:
                raise NobodyThere(home)
            with anyio.move_on_after(self.timeout):
                await pending.done.wait()
        finally:
            del self._pending[request.id]
        if pending.reply is None:
            raise MediaRefused("media_unavailable",
                               f"the media home {home} did not answer in {self.timeout:g} s")
        return pending.reply

    async def readers(self, nodes: list[str]) -> dict[str, int]:
        """How many subscribers each node's request channel has (0: the node is gone)."""
        if not nodes:
            return {}
        counts = await self._redis.pubsub_numsub(
            *(request_channel(self._prefix, node) for node in nodes))
        return {node: int(count) for node, (_, count) in zip(nodes, counts, strict=True)}

    async def run(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        """Read requests and replies until cancelled, resubscribing after an outage; ready
        once subscribed, or once the first try failed (the node starts degraded, as it does
        without Redis)."""
        started = False
        async with anyio.create_task_group() as tg:
            while True:
                pubsub = self._redis.pubsub()
                try:
                    try:
                        await pubsub.subscribe(request_channel(self._prefix, self._node),
                                               reply_channel(self._prefix, self._node))
                    finally:
                        if not started:
                            started = True
                            task_status.started()
                    while True:
                        message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                           timeout=30.0)
                        if message is not None and message.get("type") == "message":
                            self._dispatch(bytes(message["data"]), tg)
                except anyio.get_cancelled_exc_class():
                    raise
                except Exception:
                    log.warning("media home channel lost; resubscribing", exc_info=True)
                finally:
                    with anyio.CancelScope(shield=True):
                        await pubsub.aclose()  # type: ignore[attr-defined]
                await anyio.sleep(1.0)

    def _dispatch(self, data: bytes, tg: anyio.abc.TaskGroup) -> None:
        try:
            message = decode(data)
        except WireError as exc:
            log.warning("ignoring a malformed media home message (%s)", exc)
            return
        if isinstance(message, Reply):
            pending = self._pending.get(message.id)
            if pending is not None:  # (else: it timed out; the home's work stands)
                pending.reply = message
                pending.done.set()
        else:
            tg.start_soon(self._answer, message)

    async def _answer(self, request: Request) -> None:
        reply = await self._serve(request)
        try:
            await self._redis.publish(reply_channel(self._prefix, request.sender), encode(reply))
        except Exception:
            log.warning("could not answer %s's media call", request.sender, exc_info=True)
