"""Password hashing with argon2id (RFC 9106), off the event loop."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    time_cost: int = 3
    memory_kib: int = 64 * 1024
    parallelism: int = 4


@dataclass(slots=True)
class Passwords:
    """Hash and verify passwords; both run in a worker thread (argon2 is deliberately slow)."""

    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    max_concurrent: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    _hasher: PasswordHasher = field(init=False)
    _dummy: str = field(init=False)
    _limiter: anyio.CapacityLimiter = field(init=False)

    def __post_init__(self) -> None:
        self._hasher = PasswordHasher(
            time_cost=self.policy.time_cost,
            memory_cost=self.policy.memory_kib,
            parallelism=self.policy.parallelism,
            type=Type.ID,
        )
        # Verified against when the email is unknown, so both paths cost the same.
        self._dummy = self._hasher.hash("not-a-real-password")
        # Each hash holds memory_kib of RAM: a login storm must queue, not exhaust memory.
        self._limiter = anyio.CapacityLimiter(self.max_concurrent)

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await anyio.to_thread.run_sync(
            self._verify, password_hash, password, limiter=self._limiter
        )

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and (
                password_hash is not None
            )
        except (VerificationError, InvalidHashError):
            return False
