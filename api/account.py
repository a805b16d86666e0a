"""`/api/workbook/auth/logout-all` and `/api/workbook/auth/password`: ending every session.

Both raise the user's token epoch (api/epochs.py), so every access token issued before is
refused at once on every route and every node; revoke every refresh token; and close the user's
live sockets on every node with 4401. A password change then signs this browser in again with
fresh tokens; "sign out everywhere" clears its cookies.
"""

from __future__ import annotations

import logging
import uuid

from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response

from api.auth import Session, clear_cookies, session_response
from api.errors import ApiError, FieldError, unauthorized
from api.openapi import Operation
from api.ratelimit import refuse_if_over
from api.schema import CamelModel, Success, parse_body, respond
from api.security import require
from api.services import Services, services
from collab import CloseCode
from storage.models import User
from storage.tokens import TokenRepository
from storage.users import UserRepository

__all__ = ["confirm_password", "end_every_session", "operations"]

log = logging.getLogger(__name__)


class PasswordChangeBody(CamelModel):
    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=8, max_length=128)


async def end_every_session(svc: Services, user_id: uuid.UUID, reason: str) -> None:
    """Refuse every token the user holds, everywhere: epoch up, refresh tokens revoked, this
    node's cache forgotten before the caller answers, the other nodes told, sockets closed."""
    await UserRepository(svc.db).raise_token_epoch(user_id)
    await TokenRepository(svc.db).revoke_all_for_user(user_id)
    svc.epochs.forget(user_id)
    if svc.epoch_bus is not None:
        await svc.epoch_bus.announce(user_id)
    if svc.collab is not None:
        await svc.collab.close_user_everywhere(str(user_id), CloseCode.UNAUTHORIZED, reason)


async def logout_all(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    await end_every_session(svc, principal.user_id, "signed out everywhere")
    log.info("user %s signed out everywhere", principal.user_id)
    response = respond(Success())
    clear_cookies(response, svc)
    return response


async def confirm_password(svc: Services, user_id: uuid.UUID, password: str, field: str) -> User:
    """The user, once ``password`` is theirs. A wrong one counts as a failed sign-in of the
    account (the same limit) and is a 403 naming ``field``."""
    limits, account = svc.limits, str(user_id)
    await refuse_if_over(svc.limiter, limits.login_account, account, enabled=limits.enabled)
    user = await UserRepository(svc.db).get(user_id)
    if user is None:
        raise unauthorized("account no longer exists")
    if not await svc.passwords.verify(user.password_hash, password):
        if limits.enabled:
            await svc.limiter.hit(limits.login_account, account)
        message = "the current password is wrong"
        fields: list[FieldError] = [{"field": field, "message": message}]
        raise ApiError(403, f"{field}: {message}", code="forbidden", fields=fields)
    return user


async def change_password(request: Request) -> Response:
    svc = services(request)
    principal = require(request, svc.tokens, "workbook.read")
    body = await parse_body(request, PasswordChangeBody)
    users = UserRepository(svc.db)
    user = await confirm_password(svc, principal.user_id, body.current_password, "currentPassword")
    await users.update(user.id, password_hash=await svc.passwords.hash(body.new_password))
    await end_every_session(svc, user.id, "password changed")
    log.info("user %s changed the password", user.id)
    fresh = await users.get(user.id)
    if fresh is None:  # deleted in between
        raise unauthorized("account no longer exists")
    return await session_response(svc, fresh, 200)


_P = "/api/workbook/auth"
operations = [
    Operation(
        "POST",
        f"{_P}/logout-all",
        logout_all,
        "Sign out everywhere: every token of this account stops working on every device",
        "auth",
        response=Success,
        permission="workbook.read",
    ),
    Operation(
        "POST",
        f"{_P}/password",
        change_password,
        "Change the password; every other session ends, this one gets new tokens",
        "auth",
        body=PasswordChangeBody,
        response=Session,
        permission="workbook.read",
        errors=(403, 429),
    ),
]
