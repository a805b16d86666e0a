"""Serving the built web app: SPA fallback, precompressed files, cache headers, no source maps."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api.errors import exception_handlers
from api.static import IMMUTABLE, NO_CACHE, SpaRoute

INDEX = b"<!doctype html><title>app</title><div id=root></div>"
SCRIPT = b"console.log('app');" * 100
BROTLI = b"brotli bytes stand-in"  # the server sends the .br file as it is; no need to decode


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(INDEX))
    (tmp_path / "assets" / "index-abc123.js").write_bytes(SCRIPT)
    (tmp_path / "assets" / "index-abc123.js.gz").write_bytes(gzip.compress(SCRIPT))
    (tmp_path / "assets" / "index-abc123.js.br").write_bytes(BROTLI)
    (tmp_path / "assets" / "index-abc123.js.map").write_text("{}")
    (tmp_path / "sw.js").write_text("self.addEventListener('fetch', () => {})")
    (tmp_path / ".hidden").write_text("secret")
    return tmp_path


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@pytest.fixture
async def client(dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[Route("/api/health", _health, methods=["GET"]), SpaRoute(dist)],
        exception_handlers=exception_handlers(),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def _raw(client: httpx.AsyncClient, path: str, encoding: str) -> httpx.Response:
    """A GET whose body is left as sent (httpx would decode Content-Encoding)."""
    request = client.build_request("GET", path, headers={"Accept-Encoding": encoding})
    response = await client.send(request, stream=True)
    response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response


@pytest.mark.parametrize(
    "path", ["/", "/notes", "/notes/0b6f9c1e-1f7e-4f43-9a53-1c2d3e4f5a6b", "/no/such/page"]
)
async def test_app_paths_answer_index_html_uncached(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.content == INDEX
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == NO_CACHE


async def test_unknown_api_paths_are_json_404_and_wrong_methods_405(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/api/nope", "/api", "/api/workbook/notes-typo", "/collab/nope"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    wrong = await client.post("/api/health")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    page_post = await client.post("/notes")
    assert page_post.status_code == 405
    assert page_post.headers["allow"] == "GET, HEAD"


async def test_hashed_assets_are_immutable_and_precompressed_by_accept_encoding(
    client: httpx.AsyncClient,
) -> None:
    path = "/assets/index-abc123.js"
    br = await _raw(client, path, "gzip, deflate, br")
    assert br.headers["content-encoding"] == "br"
    assert br.content == BROTLI
    assert br.headers["cache-control"] == IMMUTABLE
    assert br.headers["vary"] == "Accept-Encoding"
    assert br.headers["content-type"].split(";")[0] in {"text/javascript", "application/javascript"}

    gz = await _raw(client, path, "gzip")
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(gz.content) == SCRIPT

    refused = await _raw(client, path, "br;q=0, gzip;q=0")
    assert "content-encoding" not in refused.headers
    assert refused.content == SCRIPT

    index = await _raw(client, "/", "gzip")
    assert index.headers["content-encoding"] == "gzip"
    assert gzip.decompress(index.content) == INDEX
    assert index.headers["cache-control"] == NO_CACHE


async def test_head_answers_headers_only(client: httpx.AsyncClient) -> None:
    response = await client.head("/assets/index-abc123.js", headers={"Accept-Encoding": "br"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    assert response.content == b""


@pytest.mark.parametrize(
    "path",
    [
        "/assets/index-abc123.js.map",  # present on disk, never served
        "/assets/index-abc123.js.gz",
        "/assets/missing-000000.js",  # a missing chunk is a 404, never index.html
        "/.hidden",
        "/assets/../.hidden",
        "/favicon-missing.svg",
    ],
)
async def test_source_maps_compressed_twins_and_missing_files_are_404(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.content != INDEX


async def test_other_files_are_revalidated(client: httpx.AsyncClient) -> None:
    response = await client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["cache-control"] == NO_CACHE


async def test_without_a_build_the_placeholder_says_how_to_build(tmp_path: Path) -> None:
    app = Starlette(routes=[SpaRoute(tmp_path / "missing")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.get("/notes")
    assert response.status_code == 200
    assert "npm run build" in response.text
