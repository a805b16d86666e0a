"""`/api/workbook/auth/*`: register, login, refresh (rotating, with reuse detection), logout, me.

Responses keep the seed's shape (`{success, user, token, refreshToken}`) for API clients and also
set the browser cookies: the access token (HttpOnly, path /), the refresh token (HttpOnly, only
sent to /api/workbook/auth) and the readable CSRF token the browser echoes in X-CSRF-Token.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.errors import ApiError, conflict, forbidden, unauthorized
from api.openapi import Operation
from api.ratelimit import enforce, refuse_if_over
from api.schema import WHITESPACE, CamelModel, Success, parse_body, respond
from api.security import (
    ACCESS_COOKIE,
    CSRF_COOKIE,
    REFRESH_COOKIE,
    REFRESH_COOKIE_PATH,
    check_csrf,
    new_csrf_token,
    require,
)
from api.services import Services, services
from api.tokens import hash_refresh_token, new_refresh_token
from storage.models import User
from storage.tokens import TokenInvalid, TokenRepository, TokenReuse
from storage.users import EmailTaken, UserRepository, normalize_email

log = logging.getLogger(__name__)


EMAIL_PATTERN = rf"^[^@{WHITESPACE}]+@[^@{WHITESPACE}]+\.[^@{WHITESPACE}]+$"


class RegisterBody(CamelModel):
    email: str = Field(max_length=255, pattern=EMAIL_PATTERN)
    password: str = Field(min_length=8, max_length=128)
    name: str = Field(min_length=1, max_length=255)


class LoginBody(CamelModel):
    email: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=128)


class RefreshBody(CamelModel):
    refresh_token: str | None = Field(None, min_length=1, max_length=512)


class UserOut(CamelModel):
    id: str
    email: str
    name: str
    role: Literal["user", "premium", "host", "admin"]
    subscription_tier: Literal["free", "premium"]
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=str(user.id),
            email=user.email,
            name=user.name,
            role=user.role.value,
            subscription_tier=user.subscription_tier.value,
            created_at=user.created_at,
        )


class TokenPair(CamelModel):
    success: bool = True
    token: str
    refresh_token: str
    expires_at: int


class Session(TokenPair):
    user: UserOut


class Me(CamelModel):
    success: bool = True
    user: UserOut


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _issue(svc: Services, user: User) -> tuple[str, str, int]:
    token, expires_at = svc.tokens.issue(
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=user.role.value,
        tier=user.subscription_tier.value,
        epoch=user.token_epoch,
    )
    refresh = new_refresh_token()
    await TokenRepository(svc.db).create(
        user.id,
        token_hash=hash_refresh_token(refresh),
        expires_at=datetime.now(UTC) + timedelta(seconds=svc.auth.refresh_ttl_seconds),
    )
    return token, refresh, expires_at


def _set_cookies(response: Response, svc: Services, token: str, refresh: str) -> None:
    secure = svc.auth.cookie_secure
    response.set_cookie(
        ACCESS_COOKIE,
        token,
        max_age=svc.tokens.ttl_seconds,
        path="/",
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        max_age=svc.auth.refresh_ttl_seconds,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        secure=secure,
        samesite="lax",
    )
    response.set_cookie(
        CSRF_COOKIE,
        new_csrf_token(),
        max_age=svc.auth.refresh_ttl_seconds,
        path="/",
        httponly=False,
        secure=secure,
        samesite="lax",
    )


def clear_cookies(response: Response, svc: Services) -> None:
    secure = svc.auth.cookie_secure
    response.delete_cookie(ACCESS_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(
        REFRESH_COOKIE, path=REFRESH_COOKIE_PATH, secure=secure, httponly=True, samesite="lax"
    )
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")


async def session_response(svc: Services, user: User, status: int) -> Response:
    token, refresh, expires_at = await _issue(svc, user)
    body = Session(user=UserOut.of(user), token=token, refresh_token=refresh, expires_at=expires_at)
    response = respond(body, status)
    _set_cookies(response, svc, token, refresh)
    return response


async def register(request: Request) -> Response:
    svc = services(request)
    await enforce(
        svc.limiter, svc.limits.register, client_key(request), enabled=svc.limits.enabled
    )
    if not svc.auth.registration_open:
        raise forbidden("registration is closed on this server")
    body = await parse_body(request, RegisterBody)
    password_hash = await svc.passwords.hash(body.password)
    try:
        user = await UserRepository(svc.db).create(
            email=body.email, name=body.name.strip() or body.email, password_hash=password_hash
        )
    except EmailTaken as exc:
        raise conflict("an account with this email already exists") from exc
    log.info("registered user %s", user.id)
    return await session_response(svc, user, 201)


async def login(request: Request) -> Response:
    """Only failed attempts count, per account and per client IP (a classroom behind one
    address signs in; guessing one account's password stops after a few tries). A refused
    attempt checks no password and counts nothing; a success resets nothing."""
    svc = services(request)
    body = await parse_body(request, LoginBody)
    limits, ip, account = svc.limits, client_key(request), normalize_email(body.email)
    await refuse_if_over(svc.limiter, limits.login_ip, ip, enabled=limits.enabled)
    await refuse_if_over(svc.limiter, limits.login_account, account, enabled=limits.enabled)
    user = await UserRepository(svc.db).get_by_email(body.email)
    valid = await svc.passwords.verify(user.password_hash if user else None, body.password)
    if user is None or not valid:
        if limits.enabled:
            await svc.limiter.hit(limits.login_ip, ip)
            await svc.limiter.hit(limits.login_account, account)
        raise unauthorized("invalid email or password")
    return await session_response(svc, user, 200)


def _presented_refresh(request: Request, body: RefreshBody) -> str:
    if body.refresh_token:
        return body.refresh_token
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise unauthorized("no refresh token: send refreshToken or the collab_refresh cookie")
    check_csrf(request)  # the cookie rides along on its own, so prove the page sent this
    return cookie


async def refresh(request: Request) -> Response:
    svc = services(request)
    body = await parse_body(request, RefreshBody, optional=True)
    presented = _presented_refresh(request, body)
    replacement = new_refresh_token()
    try:
        rotated = await TokenRepository(svc.db).rotate(
            hash_refresh_token(presented),
            hash_refresh_token(replacement),
            datetime.now(UTC) + timedelta(seconds=svc.auth.refresh_ttl_seconds),
        )
    except TokenReuse as exc:
        log.warning("refresh token reuse for user %s; family revoked", exc.user_id)
        raise unauthorized(
            "refresh token already used; every session of this login was revoked"
        ) from exc
    except TokenInvalid as exc:
        raise unauthorized("invalid or expired refresh token") from exc
    user = await UserRepository(svc.db).get(rotated.user_id)
    if user is None:
        raise unauthorized("account no longer exists")
    token, expires_at = svc.tokens.issue(
        user_id=user.id,
        name=user.name,
        email=user.email,
        role=user.role.value,
        tier=user.subscription_tier.value,
        epoch=user.token_epoch,
    )
    response = respond(TokenPair(token=token, refresh_token=replacement, expires_at=expires_at))
    _set_cookies(response, svc, token, replacement)
    return response


async def logout(request: Request) -> Response:
    svc = services(request)
    body = await parse_body(request, RefreshBody, optional=True)
    presented = body.refresh_token or request.cookies.get(REFRESH_COOKIE)
    if body.refresh_token is None and presented:
        check_csrf(request)
    if presented:
        await TokenRepository(svc.db).revoke(hash_refresh_token(presented))
    response = respond(Success())
    clear_cookies(response, svc)
    return response


async def me(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    user = await UserRepository(svc.db).get(principal.user_id)
    if user is None:
        raise ApiError(401, "account no longer exists", code="unauthorized")
    return respond(Me(user=UserOut.of(user)))


_P = "/api/workbook/auth"
operations = [
    Operation(
        "POST",
        f"{_P}/register",
        register,
        "Create an account and sign in",
        "auth",
        body=RegisterBody,
        response=Session,
        status=201,
        auth="none",
        errors=(403, 409, 429),
    ),
    Operation(
        "POST",
        f"{_P}/login",
        login,
        "Sign in with email and password",
        "auth",
        body=LoginBody,
        response=Session,
        auth="none",
        errors=(401, 429),
    ),
    Operation(
        "POST",
        f"{_P}/refresh",
        refresh,
        "Rotate the refresh token, get a new access token",
        "auth",
        body=RefreshBody,
        body_optional=True,
        response=TokenPair,
        auth="none",
        errors=(401, 403),
    ),
    Operation(
        "POST",
        f"{_P}/logout",
        logout,
        "Revoke this login's refresh tokens, clear cookies",
        "auth",
        body=RefreshBody,
        body_optional=True,
        response=Success,
        auth="none",
        errors=(403,),
    ),
    Operation(
        "GET", f"{_P}/me", me, "The signed-in user", "auth", response=Me, permission="workbook.read"
    ),
]
