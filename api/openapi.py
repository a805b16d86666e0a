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
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

Handler = Callable[[Request], Awaitable[Response]]
Auth = Literal["none", "optional", "required"]
_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_REF = "#/components/schemas/{model}"
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
    media_type: str = "application/json"

    @property
    def path_params(self) -> list[str]:
        return _PATH_PARAM.findall(self.path)

    @property
    def operation_id(self) -> str:
        words = re.sub(r"[{}]", "", self.path).strip("/").replace("-", "_").split("/")
        return f"{self.method.lower()}_{'_'.join(words)}"


def routes_for(operations: Sequence[Operation]) -> list[Route]:
    """One Starlette route per path, dispatching on the method (so 405s list every method)."""
    by_path: dict[str, dict[str, Handler]] = {}
    for op in operations:
        by_path.setdefault(op.path, {})[op.method] = op.handler
    routes: list[Route] = []
    for path, handlers in by_path.items():
        routes.append(Route(path, _dispatch(dict(handlers)), methods=list(handlers)))
    return routes


def _dispatch(handlers: dict[str, Handler]) -> Handler:
    async def endpoint(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    return endpoint


def _models(operations: Sequence[Operation]) -> list[type[BaseModel]]:
    seen: dict[type[BaseModel], None] = {}
    for op in operations:
        for model in (op.body, op.response):
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
            item["requestBody"] = {
                "required": not op.body_optional,
                "content": {op.body_media_type: {"schema": refs[(op.body, "validation")]}},
            }
        paths.setdefault(_openapi_path(op.path), {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "collab_access"},
            },
        },
    }


def _openapi_path(path: str) -> str:
    return _PATH_PARAM.sub(r"{\1}", path)


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
        }
        for name in op.path_params
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(by_alias=True)
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {"name": name, "in": "query", "required": name in required, "schema": prop}
            )
    return params


def _responses(op: Operation, refs: dict[Any, Any], error_model: type[BaseModel]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(op.response, "validation")]}}
    elif op.media_type != "application/json":
        ok["content"] = {op.media_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(op.status): ok}
    codes = set(op.errors)
    if op.body is not None or op.query is not None or op.path_params:
        codes.add(422)
    if op.body is not None:
        codes.update({400, 413, 415})
    if op.auth == "required":
        codes.add(401)
    if op.permission:
        codes.add(403)
    error_ref = {"$ref": _REF.format(model=error_model.__name__)}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": _ERROR_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": error_ref}},
        }
    return responses


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
