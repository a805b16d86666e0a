"""Wire models and request parsing: camelCase JSON in and out, every failure a named field.

Bodies are parsed in pydantic's strict JSON mode (no "5" -> 5 coercion); query strings, which are
text by nature, in lax mode. A body that is not JSON, or not sent as JSON, is a 400; a body that
is JSON but does not fit the model is a 422 listing every failing field by its camelCase name.
"""

from __future__ import annotations

import json
import math
import re
import typing
import uuid
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError
from starlette.requests import Request
from starlette.responses import JSONResponse

from api.errors import ApiError, FieldError, invalid

MAX_BODY_BYTES = 1 << 20
UUID_PATTERN = r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$"  # ids in paths
# What `str.strip()` removes, spelled out: `\s` differs between Python, ECMA (OpenAPI clients)
# and Rust (pydantic) regexes, so patterns shared by the server and the spec never use it.
WHITESPACE = r"\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CANONICAL_UUID = re.compile(UUID_PATTERN)
_EXACT_INT = 2**53  # integral JSON numbers up to this are integers, whatever their spelling


def ascii_uint(text: str, *, max_digits: int = 18) -> int | None:
    """`text` as an integer when it is 1 to `max_digits` ASCII digits, else None.

    For untrusted text: `str.isdigit()` also accepts digits that `int()` refuses (``"²"``),
    `int()` accepts other scripts' digits, signs, underscores and spaces, and refuses more than
    4300 digits; any of those reaching `int()` unchecked is a 500.
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None


class CamelModel(BaseModel):
    """Base for every request and response body: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        str_strip_whitespace=False,
    )


class Empty(CamelModel):
    """A request without fields."""


class Success(CamelModel):
    success: bool = True


M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


def _refuse_null(value: T) -> T:
    if value is None:
        raise PydanticCustomError("not_null", "may not be null: leave it out to keep the value")
    return value


def _drop_null(schema: dict[str, Any]) -> None:
    branches = schema.pop("anyOf", None)
    if branches is None:
        return
    kept = [branch for branch in branches if branch.get("type") != "null"]
    if len(kept) == 1:
        schema.update(kept[0])
    else:
        schema["anyOf"] = kept
    if "default" in schema and schema["default"] is None:
        del schema["default"]


def require_a_field(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an update body that must name at least one of its fields."""
    schema["anyOf"] = [{"required": [name]} for name in schema.get("properties", {})]


# The OpenAPI schema of an optional field that refuses null: the non-null type, no default.
NotNullSchema = Field(json_schema_extra=_drop_null)
# An update field that may be left out (None: keep the current value) but not sent as null (a
# 422); its OpenAPI schema says the same.
Omittable = Annotated[T | None, AfterValidator(_refuse_null), NotNullSchema]


def field_errors(exc: ValidationError) -> list[FieldError]:
    fields: list[FieldError] = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "body"
        # a validator's own ValueError is the message; pydantic prefixes "Value error, "
        message = str(error["msg"]).removeprefix("Value error, ")
        fields.append({"field": location, "message": message})
    return fields


def _validation_failed(exc: ValidationError) -> ApiError:
    fields = field_errors(exc)
    names = ", ".join(sorted({f["field"] for f in fields}))
    return ApiError(422, f"invalid fields: {names}", fields=fields)


async def read_body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None:
        declared = ascii_uint(length)
        if declared is None:
            raise invalid("content-length", "must be a number of bytes", status=400)
        if declared > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    return body


def _json_number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: an int when it is integral (JSON Schema's
    `integer` includes `3.0`), a finite float otherwise."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    if value.is_integer() and abs(value) <= _EXACT_INT:
        return int(value)
    return value


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


async def parse_body(request: Request, model: type[M], *, optional: bool = False) -> M:
    """Parse the JSON body into `model`; an empty body counts as `{}` when `optional`."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return validate(model, {})
        raise invalid("body", "a JSON object is required", status=400)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            "send the body as application/json",
            code="unsupported_media_type",
            fields=[{"field": "content-type", "message": "must be application/json"}],
        )
    try:
        data = json.loads(body, parse_float=_json_number, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise invalid("body", f"malformed JSON: {exc}", status=400) from exc
    if not isinstance(data, dict):
        raise invalid("body", "must be a JSON object", status=400)
    _refuse_nul(_known(model, data))
    try:
        # Validated as JSON again (strict JSON mode parses ids, dates and enums from strings),
        # now with integral numbers spelled as integers.
        return model.model_validate_json(json.dumps(data), strict=True)
    except ValidationError as exc:
        raise _validation_failed(exc) from exc


def _nul_fields(value: object, path: str) -> list[str]:
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    if isinstance(value, dict):
        found = [f"{path}.{k}" if path else str(k) for k in value if "\x00" in str(k)]
        return found + [
            f for k, v in value.items() for f in _nul_fields(v, f"{path}.{k}" if path else k)
        ]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _nul_fields(v, f"{path}.{i}")]
    return []


def _known(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """The fields of `data` that `model` reads (by alias or name); the rest is ignored."""
    names = {name for field, info in model.model_fields.items() for name in (field, info.alias)}
    return {key: value for key, value in data.items() if key in names}


def _refuse_nul(data: object) -> None:
    # PostgreSQL text cannot hold U+0000; refuse it up front instead of failing in the driver.
    found = _nul_fields(data, "")
    if found:
        message = "must not contain NUL (U+0000) characters"
        raise ApiError(
            422,
            f"invalid fields: {', '.join(found)}",
            fields=[{"field": field, "message": message} for field in found],
        )


def validate(model: type[M], data: object) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_failed(exc) from exc


def _is_list(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, set):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation))


def parse_query(request: Request, model: type[M]) -> M:
    """Parse the query string; list fields accept repeated keys and comma-separated values."""
    list_keys = set()
    for name, info in model.model_fields.items():
        if _is_list(info.annotation):
            list_keys.update({name, info.alias or name})
    data: dict[str, object] = {}
    params = request.query_params
    for key in params:
        values = params.getlist(key)
        if key in list_keys:
            data[key] = [part for value in values for part in value.split(",") if part]
        else:
            data[key] = values[-1]
    _refuse_nul(_known(model, data))
    return validate(model, data)


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """The path parameter `name` in the canonical 8-4-4-4-12 hex form (the OpenAPI pattern).

    Anything else is a 404 naming the parameter: such a path names no resource, like a
    well-formed id that names nothing.
    """
    raw = str(request.path_params.get(name, ""))
    if not _CANONICAL_UUID.fullmatch(raw):
        message = "no such resource: ids are UUIDs (8-4-4-4-12 hex digits)"
        raise ApiError(404, f"{name}: {message}", fields=[{"field": name, "message": message}])
    return uuid.UUID(raw)


def respond(model: BaseModel, status: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json", by_alias=True), status_code=status)
