"""The app shell: health, metrics, OpenAPI, docs, frontend placeholder and the error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.routing import Route

from api.app import collab_config
from api.settings import Settings

SAFE_STATUS = {200, 201, 204}


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "disabled"
    assert body["checks"]["objectStorage"]["status"] == "ok"


async def test_health_503_when_object_storage_is_broken(app_factory: Any) -> None:
    client = await app_factory(STORAGE_URL="file:///dev/null/objects")
    response = await client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["checks"]["objectStorage"]["status"] == "error"


async def test_health_503_when_redis_is_down(app_factory: Any) -> None:
    client = await app_factory(REDIS_URL="redis://127.0.0.1:1/0")
    response = await client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    await client.get("/api/health")
    await client.get("/api/no/such/path")
    text = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/api/health",status="200"}' in text
    assert 'route="<unmatched>",status="404"' in text
    assert "http_request_duration_seconds_bucket" in text
    assert "collab_connections" in text  # the collab server reports into the same registry


async def test_openapi_describes_every_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    app = client.app  # type: ignore[attr-defined]
    undocumented = {"/metrics", "/openapi.json", "/api/docs", "/"}
    for route in app.routes:
        if not isinstance(route, Route) or route.path in undocumented:
            continue
        assert route.path in spec["paths"], route.path
        for method in route.methods or set():
            if method != "HEAD":
                assert method.lower() in spec["paths"][route.path], (method, route.path)
    assert spec["components"]["schemas"]["ErrorBody"]


async def test_docs_page_lists_the_operations(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert "/api/health" in response.text
    assert "<script" not in response.text


async def test_frontend_placeholder_says_how_to_build(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "npm run build" in response.text


async def test_unknown_path_and_method_use_the_error_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    wrong = await client.delete("/api/health")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    put = await client.put("/api/workbook/notes/00000000-0000-4000-8000-000000000000")
    assert put.status_code == 405
    assert set(put.headers["allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}


def test_collab_limits_and_delays_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every COLLAB_* variable of the README table reaches the collab server's config."""
    env = {
        "COLLAB_MAX_MESSAGE_BYTES": "2000000",
        "COLLAB_MAX_DOCUMENT_BYTES": "3000000",
        "COLLAB_MAX_CONNECTIONS_PER_DOCUMENT": "7",
        "COLLAB_MAX_CONNECTIONS_PER_USER": "8",
        "COLLAB_MAX_MESSAGES_PER_SECOND": "9",
        "COLLAB_MESSAGE_BURST": "10",
        "COLLAB_SEND_QUEUE_BYTES": "4096",
        "COLLAB_SEND_QUEUE_TOTAL_BYTES": "8192",
        "COLLAB_UNLOAD_DELAY": "1.5",
        "COLLAB_AWARENESS_INTERVAL": "0.05",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = collab_config(Settings())
    assert (
        config.max_message_size,
        config.max_document_size,
        config.max_connections_per_document,
        config.max_connections_per_user,
        config.max_messages_per_second,
        config.message_burst,
        config.send_queue_bytes,
        config.send_queue_total_bytes,
        config.unload_delay,
        config.awareness_interval,
    ) == (2_000_000, 3_000_000, 7, 8, 9.0, 10, 4096, 8192, 1.5, 0.05)
    monkeypatch.setenv("COLLAB_AWARENESS_INTERVAL", "0")
    with pytest.raises(ValueError, match="COLLAB_AWARENESS_INTERVAL"):
        Settings()
