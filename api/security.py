"""Who is calling and what they may do: bearer/cookie authentication, CSRF, roles and permissions.

API clients send `Authorization: Bearer <access JWT>`; browsers carry the same token in the
HttpOnly `collab_access` cookie. Cookie-authenticated unsafe requests must echo the readable
`collab_csrf` cookie in `X-CSRF-Token` (double submit); bearer requests are exempt because a
browser never attaches that header on its own.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Literal

from starlette.requests import Request

from api.epochs import CHECKED_STATE, REVOKED_STATE
from api.errors import ApiError, forbidden, unauthorized
from api.tokens import AccessTokens

Role = Literal["user", "premium", "host", "admin"]
ROLES: tuple[Role, ...] = ("user", "premium", "host", "admin")

ACCESS_COOKIE = "collab_access"
REFRESH_COOKIE = "collab_refresh"
CSRF_COOKIE = "collab_csrf"
CSRF_HEADER = "x-csrf-token"
REFRESH_COOKIE_PATH = "/api/workbook/auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

Permission = Literal[
    "workbook.read", "workbook.write", "content.premium", "sessions.host", "admin.access"
]

# The seed's map, with one deliberate change: `workbook.write` (own notes, shares, progress)
# includes `user`, because notes are every user's own workbook. What the seed reserved for paying
# users is premium *content*, so that is its own permission.
PERMISSIONS: dict[Permission, frozenset[Role]] = {
    "workbook.read": frozenset({"user", "premium", "host", "admin"}),
    "workbook.write": frozenset({"user", "premium", "host", "admin"}),
    "content.premium": frozenset({"premium", "admin"}),
    "sessions.host": frozenset({"premium", "host", "admin"}),
    "admin.access": frozenset({"admin"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: uuid.UUID
    name: str
    email: str
    role: str
    via_cookie: bool
    tier: str = "free"

    def can(self, permission: Permission) -> bool:
        return self.role in PERMISSIONS[permission]

    @property
    def premium(self) -> bool:
        """May use premium content: a premium or admin role, or a premium subscription."""
        return self.can("content.premium") or self.tier == "premium"

    @property
    def admin(self) -> bool:
        return self.can("admin.access")


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise unauthorized("Authorization header must be 'Bearer <token>'")
    return value.strip()


def optional_principal(request: Request, tokens: AccessTokens) -> Principal | None:
    """The caller, or None when no credentials were sent. Bad credentials are a 401."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    token = bearer_token(request)
    via_cookie = False
    if token is None:
        token = request.cookies.get(ACCESS_COOKIE)
        via_cookie = True
    if not token:
        return None
    claims = tokens.decode(token)
    # The token epoch (api/epochs.py) is async to check: EpochGate checked it before the route.
    if getattr(request.state, CHECKED_STATE, None) != token:
        raise RuntimeError("EpochGate did not check this request's token (api.app installs it)")
    refusal = getattr(request.state, REVOKED_STATE, None)
    if isinstance(refusal, ApiError):
        raise refusal
    principal = Principal(
        user_id=claims.user_id,
        name=claims.name,
        email=claims.email,
        role=claims.role,
        via_cookie=via_cookie,
        tier=claims.tier,
    )
    if via_cookie and request.method not in SAFE_METHODS:
        check_csrf(request)
    request.state.principal = principal
    return principal


def require(request: Request, tokens: AccessTokens, permission: Permission) -> Principal:
    principal = optional_principal(request, tokens)
    if principal is None:
        raise unauthorized()
    if not principal.can(permission):
        raise forbidden(f"requires the {permission} permission")
    return principal


def check_csrf(request: Request) -> None:
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not secrets.compare_digest(cookie, header):
        raise ApiError(
            403,
            "cookie-authenticated writes must send the collab_csrf cookie value in X-CSRF-Token",
            code="csrf_failed",
        )


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)
