"""Who hosts a room's media: one claim per room in Redis (docs/media.md, "One media home per
room").

The claim is the key ``<prefix>media:home:<room>`` holding the home node's id with a TTL. The
first node that needs the room's media sets it (SET NX PX); the home refreshes it every third
of the TTL while it hosts the room and deletes it when the room's media ends. A node that dies
stops refreshing, so its claim lapses after at most the TTL and the next node that needs the
room claims it; a node that finds the home gone from Redis earlier (nobody reads its request
channel) may take the claim over at once (``take_over``, a compare-and-set). Every change is
a Lua script, so it checks and writes atomically.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Claims", "RedisClaims"]

# Set the claim if nobody holds it; either way return the holder.
_CLAIM = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('get', KEYS[1])
"""
# Extend each claim still ours; return the (1-based) indexes of those that are not.
_REFRESH = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then redis.call('pexpire', key, ARGV[2])
  else table.insert(lost, i) end
end
return lost
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
_TAKE_OVER = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('set', KEYS[1], ARGV[2], 'PX', ARGV[3]) return 1
end
return 0
"""


class Claims(Protocol):
    """The claims of one node (``node``) on rooms' media."""

    node: str
    ttl: float  # seconds a claim lives without a refresh

    async def claim(self, room: str) -> str:
        """Claim ``room`` unless another node holds it; return the holder (maybe this node)."""
        ...

    async def holder(self, room: str) -> str | None:
        """The room's home, or None when nobody hosts its media."""
        ...

    async def refresh(self, rooms: list[str]) -> list[str]:
        """Extend this node's claims on ``rooms``; return those it no longer holds."""
        ...

    async def release(self, room: str) -> None:
        """Give up the claim on ``room`` if this node holds it (idempotent)."""
        ...

    async def take_over(self, room: str, dead: str) -> bool:
        """Claim ``room`` if ``dead`` still holds it; whether this node now does."""
        ...


class RedisClaims:
    """``Claims`` in Redis.

    Args:
        redis: a client (bytes responses).
        node: this node's id.
        prefix: the deployment's key prefix (``REDIS_PREFIX``).
        ttl: seconds a claim outlives its last refresh (the longest a dead home blocks a room).
    """

    def __init__(self, redis: Redis[bytes], node: str, *, prefix: str, ttl: float) -> None:
        self._redis, self.node, self._prefix, self.ttl = redis, node, prefix, ttl
        self._claim = redis.register_script(_CLAIM)
        self._refresh = redis.register_script(_REFRESH)
        self._release = redis.register_script(_RELEASE)
        self._take_over = redis.register_script(_TAKE_OVER)

    def key(self, room: str) -> str:
        return f"{self._prefix}media:home:{room}"

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def claim(self, room: str) -> str:
        held = await self._claim([self.key(room)], [self.node, self._ttl_ms])
        return _text(held) or self.node  # (None only if it lapsed between SET and GET)

    async def holder(self, room: str) -> str | None:
        return _text(await self._redis.get(self.key(room)))

    async def refresh(self, rooms: list[str]) -> list[str]:
        if not rooms:
            return []
        lost = await self._refresh([self.key(r) for r in rooms], [self.node, self._ttl_ms])
        return [rooms[int(i) - 1] for i in lost]

    async def release(self, room: str) -> None:
        await self._release([self.key(room)], [self.node])

    async def take_over(self, room: str, dead: str) -> bool:
        taken = await self._take_over([self.key(room)], [dead, self.node, self._ttl_ms])
        return bool(taken)


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)
