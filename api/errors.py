"""The REST error shape and the one place that turns exceptions into it.

Every error leaves as `{"error": {"code", "message", "fields"?}}`. Handlers raise `ApiError`;
`exception_handlers()` maps it, Starlette's `HTTPException` (unknown path, wrong method) and any
unexpected exception (a generic 500 that never carries exception details) to that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


class FieldError(TypedDict):
    field: str
    message: str


class ApiError(Exception):
    """An error with an HTTP status, a stable machine code and a human message."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        fields: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.fields = list(fields)
        self.headers = dict(headers or {})


def unauthorized(message: str = "authentication required") -> ApiError:
    return ApiError(401, message, headers={"WWW-Authenticate": "Bearer"})


def forbidden(message: str = "you are not allowed to do this") -> ApiError:
    return ApiError(403, message)


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} not found")


def missing_reference(field: str, what: str) -> ApiError:
    """A well-formed id in the request body that names nothing: a 404 naming the field (the
    request is valid; what it points at is not there, as for an id in the path)."""
    message = f"no such {what}"
    return ApiError(404, f"{field}: {message}", fields=[{"field": field, "message": message}])


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def invalid(field: str, message: str, *, status: int = 422) -> ApiError:
    code = "validation_error" if status == 422 else "bad_request"
    return ApiError(
        status, f"{field}: {message}", code=code, fields=[{"field": field, "message": message}]
    )


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = list(fields)
    return JSONResponse({"error": body}, status_code=status, headers=dict(headers or {}))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = "no such endpoint"
    return error_response(
        exc.status_code, _CODES.get(exc.status_code, "error"), message, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    # Never send exception details: they may carry secrets or internals (see the server log).
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def exception_handlers() -> dict[Any, Any]:
    return {ApiError: _api_error, HTTPException: _http_error, Exception: _unexpected}
