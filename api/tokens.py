"""Access tokens (HS256 JWT, short-lived) and opaque refresh tokens (stored only as a hash).

Access claims follow the team contract: `sub` (user id), `name`, `email`, `role`,
`type: "access"`, `exp`, `iat`, `jti`, and `ep`: the user's token epoch when it was issued
(api/epochs.py refuses a token whose epoch the user has left; absent means 0). Refresh tokens
are 256 random bits; the database keeps their SHA-256, so a leaked table cannot be replayed.
Rotation and reuse detection live in the storage repository; this module only mints and hashes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from api.errors import unauthorized

ALGORITHM = "HS256"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    name: str
    email: str
    role: str
    tier: str
    expires_at: int
    epoch: int = 0


_VERIFIED_MAX = 4096  # verified tokens remembered (~0.5 KB each)


@dataclass(frozen=True, slots=True)
class AccessTokens:
    """Mints and verifies access tokens.

    A verified token is remembered (keyed by the whole token, signature included) until it
    expires, so its signature is checked once although the same token comes back on every
    REST call and every document a client opens. Only expiry depends on the time, and it is
    checked again on every hit. Revocation is per user, not per token: the user's token epoch
    (api/epochs.py), checked after this on every route and every socket.
    """

    secret: str
    ttl_seconds: int = 900
    leeway_seconds: int = 5
    _verified: dict[str, AccessClaims] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def issue(
        self,
        *,
        user_id: uuid.UUID,
        name: str,
        email: str,
        role: str,
        tier: str = "free",
        epoch: int = 0,
    ) -> tuple[str, int]:
        now = int(time.time())
        expires_at = now + self.ttl_seconds
        claims: dict[str, Any] = {
            "sub": str(user_id),
            "name": name,
            "email": email,
            "role": role,
            "tier": tier,
            "type": "access",
            "iat": now,
            "exp": expires_at,
            "jti": uuid.uuid4().hex,
            "ep": epoch,
        }
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), expires_at

    def decode(self, token: str) -> AccessClaims:
        known = self._verified.get(token)
        if known is not None:
            if known.expires_at + self.leeway_seconds > time.time():
                return known
            del self._verified[token]
            raise unauthorized("access token expired")
        claims = self._verify(token)
        if len(self._verified) >= _VERIFIED_MAX:
            del self._verified[next(iter(self._verified))]  # the oldest
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=[ALGORITHM],
                leeway=self.leeway_seconds,
                options={"require": ["sub", "exp", "iat", "type"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise unauthorized("access token expired") from exc
        except jwt.PyJWTError as exc:
            raise unauthorized("invalid access token") from exc
        if claims.get("type") != "access":
            raise unauthorized("not an access token")
        try:
            user_id = uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise unauthorized("invalid access token") from exc
        epoch = claims.get("ep", 0)
        if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
            raise unauthorized("invalid access token")
        return AccessClaims(
            epoch=epoch,
            user_id=user_id,
            name=str(claims.get("name", "")),
            email=str(claims.get("email", "")),
            role=str(claims.get("role", "user")),
            tier=str(claims.get("tier", "free")),
            expires_at=int(claims["exp"]),
        )


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
