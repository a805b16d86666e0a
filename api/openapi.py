"""Operations: one declaration per endpoint that yields both the Starlette route and its OpenAPI.

Route modules export `operations: list[Operation]`; `create_app` turns them into routes and this
module turns the same list into `/openapi.json` and the `/api/docs` page, so the description can
never drift from what is served.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Match, Route
from starlette.types import Receive, Scope, Send

from api.schema import UUID_PATTERN

Handler = Callable[[Request], Awaitable[Response]]
Auth = Literal["none", "optional", "required"]
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_REF = "#/components/schemas/{model}"
# The server refuses U+0000 in every string and key of a body or query (api.schema._refuse_nul).
NO_NUL = "^[^\\x00]*$"
NO_NUL_OR_COMMA = "^[^\\x00,]*$"
JSON_VALUE = "JsonValue"
JSON_BODY_ERRORS = (400, 413, 415, 422)
_ERROR_TEXT = {
    400: "Malformed request",
    401: "Missing, invalid or expired credentials",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported body media type (or, for uploads, file type)",
    422: "Validation failed; `error.fields` names each field",
    429: "Rate limited; see Retry-After",
    503: "Dependency unavailable",
}


@dataclass(frozen=True, slots=True)
class Header:
    """A request header an operation reads (documented as a header parameter)."""

    name: str
    description: str
    pattern: str | None = None
    required: bool = True


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    auth: Auth = "required"
    permission: str | None = None
    errors: tuple[int, ...] = ()
    body_optional: bool = False
    body_media_type: str = "application/json"
    # The statuses a bad body can cause (the defaults are those of `api.schema.parse_body`).
    body_errors: tuple[int, ...] = JSON_BODY_ERRORS
    # Multipart parts' allowed content types, e.g. (("audio", ("audio/mpeg", ...)),).
    body_encoding: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The success body's media types when it is not `response` (JSON).
    media_type: str | tuple[str, ...] = "application/json"
    # Other answers with their own JSON body, e.g. ((202, ExportJob),).
    responses: tuple[tuple[int, type[BaseModel]], ...] = ()
    headers: tuple[Header, ...] = ()
    # Path parameters that are not UUIDs: name -> the pattern the handler checks.
    path_patterns: tuple[tuple[str, str], ...] = ()

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def operation_id(self) -> str:
        words = re.sub(r"[{}]", "", self.path).strip("/").replace("-", "_").split("/")
        return f"{self.method.lower()}_{'_'.join(words)}"


class OperationRoute(Route):
    """The operations of one path. It claims the path for every method, so a method the path
    lacks is answered here with 405 and `Allow` naming exactly the path's methods, instead of
    falling through to a later route (the frontend mount at "/" matches every path)."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        return (Match.FULL if match is Match.PARTIAL else match), child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.methods and scope["method"] not in self.methods:
            allow = ", ".join(sorted(self.methods))
            raise HTTPException(405, f"method not allowed; use {allow}", headers={"Allow": allow})
        await super().handle(scope, receive, send)


def routes_for(operations: Sequence[Operation]) -> list[Route]:
    """One route per path, dispatching on the method (HEAD runs GET and is in `Allow`)."""
    by_path: dict[str, dict[str, Handler]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op.handler
    routes: list[Route] = []
    for path, handlers in by_path.items():
        routes.append(OperationRoute(path, _dispatch(dict(handlers)), methods=list(handlers)))
    return routes


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint


def _models(operations: Sequence[Operation]) -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    for op in operations:
        for model in (op.body, op.response, *(model for _, model in op.responses)):
            if model is not None:
                seen[model] = None
    return list(seen)


def build_openapi(
    operations: Sequence[Operation], *, title: str, version: str, error_model: type[BaseModel]
) -> dict[str, Any]:
    models = [*_models(operations), error_model]
    refs, defs = models_json_schema(
        [(m, "validation") for m in models], ref_template=_REF, by_alias=True
    )
    schemas: dict[str, Any] = defs.get("$defs", {})
    for name in _json_request_models(operations, schemas):
        schemas[name] = _without_nul(schemas[name])
    schemas[JSON_VALUE] = _JSON_VALUE_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        item: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op),
            "responses": _responses(op, refs, error_model),
        }
        if op.auth != "none":
            item["security"] = [{"bearer": []}, {"cookie": []}]
            if op.auth == "optional":
                item["security"].append({})
        if op.permission:
            item["x-permission"] = op.permission
        if op.body is not None:
            media: dict[str, Any] = {"schema": refs[(op.body, "validation")]}
            if op.body_encoding:
                media["encoding"] = {
                    part: {"contentType": ", ".join(types)} for part, types in op.body_encoding
                }
            item["requestBody"] = {
                "required": not op.body_optional,
                "content": {op.body_media_type: media},
            }
        paths.setdefault(_openapi_path(op.path), {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "collab_access"},
            },
        },
    }


def _json_request_models(operations: Sequence[Operation], schemas: dict[str, Any]) -> set[str]:
    """The component names a JSON request body can reach (its model and the models inside)."""
    names = {
        op.body.__name__
        for op in operations
        if op.body is not None and op.body_media_type == "application/json"
    }
    pending = list(names)
    while pending:
        for ref in re.findall(r"#/components/schemas/(\w+)", str(schemas.get(pending.pop()))):
            if ref not in names:
                names.add(ref)
                pending.append(ref)
    return names & set(schemas)


_REF_JSON_VALUE = {"$ref": _REF.format(model=JSON_VALUE)}
# Any JSON value the server accepts where the schema leaves the value open: no U+0000 anywhere.
_JSON_VALUE_SCHEMA: dict[str, Any] = {
    "description": "Any JSON value without U+0000 in its strings and keys",
    "anyOf": [
        {"type": "string", "pattern": NO_NUL},
        {"type": ["number", "boolean", "null"]},
        {"type": "array", "items": _REF_JSON_VALUE},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "additionalProperties": _REF_JSON_VALUE,
        },
    ],
}
_SUBSCHEMA = ("items", "additionalProperties", "not", "contains")
_SUBSCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties")


def _without_nul(schema: Any) -> Any:
    """`schema` (of a request value) with the server's rule that no string or key holds U+0000:
    strings get `NO_NUL`, open maps name their keys by it, and open values are `JsonValue`.
    A model's unknown properties are ignored, whatever they hold (`api.schema._known`)."""
    if schema is True or schema == {}:
        return _REF_JSON_VALUE
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    for key in _SUBSCHEMA:
        if key in out:
            out[key] = _without_nul(out[key])
    for key in _SUBSCHEMA_LISTS:
        if key in out:
            out[key] = [_without_nul(sub) for sub in out[key]]
    for key in _SUBSCHEMA_MAPS:
        if key in out:
            out[key] = {name: _without_nul(sub) for name, sub in out[key].items()}
    types = out.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and out.get("format") != "binary":
        if "pattern" not in out:
            out["pattern"] = NO_NUL
        elif out["pattern"] != NO_NUL:
            out["allOf"] = [*out.get("allOf", []), {"pattern": NO_NUL}]
    if "object" in types and "properties" not in out:  # an open map; a model ignores extras
        out["propertyNames"] = {"pattern": NO_NUL}
        out.setdefault("additionalProperties", _REF_JSON_VALUE)
    return out


def _openapi_path(path: str) -> str:
    return _PATH_PARAM.sub(r"{\1}", path)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    patterns = dict(op.path_patterns)
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": (
                {"type": "string", "pattern": patterns[name]}
                if name in patterns
                else {"type": "string", "format": "uuid", "pattern": UUID_PATTERN}
            ),
        }
        for name in op.path_params
    ]
    for header in op.headers:
        header_schema: dict[str, Any] = {"type": "string"}
        if header.pattern is not None:
            header_schema["pattern"] = header.pattern
        params.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": header_schema,
            }
        )
    if op.query is not None:
        schema = op.query.model_json_schema(by_alias=True)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    "schema": _query_schema(_without_nul(prop)),
                }
            )
    return params


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A list in the query is repeated keys or comma-separated values (`api.schema.parse_query`),
    so its strings hold no comma."""
    items = schema.get("items")
    if schema.get("type") == "array" and isinstance(items, dict) and items.get("type") == "string":
        return {**schema, "items": {**items, "pattern": NO_NUL_OR_COMMA}}
    return schema


def _responses(op: Operation, refs: dict[Any, Any], error_model: type[BaseModel]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    types = (op.media_type,) if isinstance(op.media_type, str) else op.media_type
    if op.response is not None:
        # JSON is the model; other media types (e.g. a `?format=csv` export) are text.
        ok["content"] = {
            t: {"schema": refs[(op.response, "validation")]}
            if t == "application/json"
            else {"schema": {"type": "string"}}
            for t in ("application/json", *types)
        }
    elif op.media_type != "application/json":
        ok["content"] = {t: {"schema": _body_schema(t)} for t in types}
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors)
    if op.body is not None or op.query is not None:
        codes.add(422)
    if op.path_params:
        codes.add(404)
    if op.body is not None:
        codes.update(op.body_errors)
    if op.auth == "required":
        codes.add(401)
    if op.permission:
        codes.add(403)
    bodies = dict(op.responses)
    error_ref = {"$ref": _REF.format(model=error_model.__name__)}
    for code in sorted(codes | set(bodies)):
        schema = refs[(bodies[code], "validation")] if code in bodies else error_ref
        responses[str(code)] = {
            "description": _ERROR_TEXT.get(code, "Error" if code >= 400 else "Accepted"),
            "content": {"application/json": {"schema": schema}},
        }
    return responses


def _body_schema(media_type: str) -> dict[str, Any]:
    if media_type == "application/json":
        return {"type": "object"}
    return {"type": "string", "format": "binary"}


def openapi_endpoint(spec: dict[str, Any]) -> Handler:
    async def endpoint(request: Request) -> Response:
        return JSONResponse(spec)

    return endpoint


def docs_endpoint(spec: dict[str, Any]) -> Handler:
    page = render_docs(spec)

    async def endpoint(request: Request) -> Response:
        return HTMLResponse(page)

    return endpoint


def render_docs(spec: dict[str, Any]) -> str:
    """A self-contained HTML listing of the API (no scripts, no CDN)."""
    esc = html.escape
    rows: list[str] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = ", ".join(esc(p["name"]) for p in op.get("parameters", []))
            content = op.get("requestBody", {}).get("content", {})
            body: dict[str, Any] = next(iter(content.values()), {})
            body_name = esc(str(body.get("schema", {}).get("$ref", "")).rsplit("/", 1)[-1])
            codes = ", ".join(esc(code) for code in op["responses"])
            rows.append(
                f"<tr><td><code>{esc(method.upper())}</code></td><td><code>{esc(path)}</code></td>"
                f"<td>{esc(op['summary'])}</td><td>{esc(op.get('x-permission', ''))}</td>"
                f"<td>{params}</td><td>{body_name}</td><td>{codes}</td></tr>"
            )
    schemas = []
    for name, schema in spec["components"]["schemas"].items():
        fields = ", ".join(f"<code>{esc(field)}</code>" for field in schema.get("properties", {}))
        schemas.append(f"<li><a id='{esc(name)}'></a><b>{esc(name)}</b>: {fields}</li>")
    title = esc(spec["info"]["title"])
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title} API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.2em .6em;"
        "border-bottom:1px solid #ddd;text-align:left}</style></head><body>"
        f"<h1>{title} API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>. "
        'Errors are <code>{"error": {"code", "message", "fields"}}</code>. '
        "Auth: <code>Authorization: Bearer &lt;access JWT&gt;</code>, or the browser cookies set "
        "by login (unsafe methods then need <code>X-CSRF-Token</code> = the "
        "<code>collab_csrf</code> cookie).</p><p>Live documents (not in OpenAPI): WebSocket "
        "<code>/collab/notes/{noteId}?token=&lt;access JWT&gt;</code>, the standard y-websocket "
        "protocol; close codes 4401 unauthorized, 4403 forbidden, 4404 unknown, 4410 deleted.</p>"
        "<table><tr><th>method</th><th>path</th><th>summary</th><th>permission</th>"
        "<th>parameters</th><th>body</th><th>responses</th></tr>"
        + "".join(rows)
        + "</table><h2>Schemas</h2><ul>"
        + "".join(schemas)
        + "</ul></body></html>"
    )
