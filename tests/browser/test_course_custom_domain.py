"""Mux Player's own token path, through MUX_CUSTOM_DOMAIN.

With a custom domain the page hands the player a playback id, its tokens and the domain (no
local stream URL), so Mux Player builds the URLs itself, as in production:
``https://stream.<domain>/<playbackId>.m3u8?token=<video token>`` for the playlist, the
playlist's relative segment URLs below it, and ``https://image.<domain>/<playbackId>/
thumbnail.webp?token=<thumbnail token>`` for the poster. The domain does not resolve: Playwright
intercepts both hosts and forwards each request, path and query unchanged, to this server's
stand-in for Mux (`/mux-local/stream/...`, `/mux-local/image/.../thumbnail.jpg`), which plays
only for a token Mux would accept (RS256 with the public key, `kid`, `aud`, `sub`, `exp`).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.harness import Server, start_server
from tests.browser.test_courses import ELEMENT, current_time, play_until, wait_ready
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser

DOMAIN = "media.example.test"
CORS = {"access-control-allow-origin": "*"}


@pytest.fixture(scope="module")
def custom_domain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(
        tmp_path_factory.mktemp("collab-custom-domain"),
        {"MUX_CUSTOM_DOMAIN": DOMAIN},
        setup=[["sample-course"]],
    )


def forward_mux_hosts(page: Page, server: Server) -> list[tuple[str, int]]:
    """Route stream.<domain> and image.<domain> to the stand-in; (url, status) of each."""
    seen: list[tuple[str, int]] = []

    def stream(route: Route) -> None:
        url = urlsplit(route.request.url)
        target = f"{server.url}/mux-local/stream{url.path}?{url.query}"
        response = route.fetch(url=target)
        seen.append((route.request.url, response.status))
        route.fulfill(response=response, headers={**response.headers, **CORS})

    def image(route: Route) -> None:
        url = urlsplit(route.request.url)
        playback_id, _, name = url.path.strip("/").partition("/")
        if name != "thumbnail.webp":  # storyboards: the stand-in has none
            seen.append((route.request.url, 404))
            route.fulfill(status=404, headers=CORS, body="")
            return
        target = f"{server.url}/mux-local/image/{playback_id}/thumbnail.jpg?{url.query}"
        response = route.fetch(url=target)
        seen.append((route.request.url, response.status))
        route.fulfill(response=response, headers={**response.headers, **CORS})

    page.route(f"https://stream.{DOMAIN}/**", stream)
    page.route(f"https://image.{DOMAIN}/**", image)
    return seen


def test_the_player_fetches_through_the_custom_domain_with_the_token_in_the_query(
    custom_domain_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), custom_domain_server, "Cid Custom")
    seen = forward_mux_hosts(page, custom_domain_server)
    local: list[str] = []
    page.on("request", lambda r: local.append(r.url) if "/mux-local/" in r.url else None)
    page.goto(f"{custom_domain_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    page.get_by_role("link", name="Welcome", exact=True).click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    wait_ready(page)
    attributes = page.evaluate(
        f"""() => {{ const p = {ELEMENT}; return {{
            playbackId: p.getAttribute('playback-id'),
            customDomain: p.getAttribute('custom-domain'),
            src: p.getAttribute('src'),
        }} }}"""
    )
    assert attributes["playbackId"] == "sample-m1-l1"
    assert attributes["customDomain"] == DOMAIN
    assert not attributes["src"]  # the player builds the URL itself
    play_until(page, 3)
    assert current_time(page) >= 3
    assert local == [], "the page went to the stand-in directly, not through the domain"

    playlists = [u for u, s in seen if urlsplit(u).path == "/sample-m1-l1.m3u8"]
    segments = [u for u, s in seen if urlsplit(u).path.startswith("/sample-m1-l1/segment-")]
    assert playlists and segments, seen
    for url in playlists + segments:
        parts = urlsplit(url)
        assert parts.netloc == f"stream.{DOMAIN}" and parts.scheme == "https", url
        assert parts.query.startswith("token=ey") and "&" not in parts.query, url
    assert all(status == 200 for url, status in seen if "stream." in url), seen
    poster = f"https://image.{DOMAIN}/sample-m1-l1/thumbnail.webp?token=ey"
    posters = [(u, s) for u, s in seen if u.startswith(poster)]
    assert posters and all(s == 200 for _, s in posters), seen


def test_a_token_the_stand_in_refuses_stops_the_custom_domain_player(
    custom_domain_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    """The forwarding is not a bypass: a token with a wrong signature gets Mux's 403."""
    page, _ = sign_up(new_context(), custom_domain_server, "Rex Refused")
    seen = forward_mux_hosts(page, custom_domain_server)

    def tamper(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        head, claims, signature = body["token"].split(".")
        body["token"] = f"{head}.{claims}.{signature[::-1]}"
        route.fulfill(response=response, json=body)

    page.route("**/api/mux/playback-token", tamper)
    page.goto(f"{custom_domain_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    page.get_by_role("link", name="Welcome", exact=True).click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    for _ in range(150):  # up to 15 s for the player to ask for the playlist
        if any(urlsplit(u).path == "/sample-m1-l1.m3u8" for u, _ in seen):
            break
        page.wait_for_timeout(100)
    page.wait_for_timeout(2000)  # and for whatever it does next
    playlists = [s for u, s in seen if urlsplit(u).path == "/sample-m1-l1.m3u8"]
    assert playlists and all(s == 403 for s in playlists), seen
    assert not any("/segment-" in u for u, _ in seen), seen
    assert page.evaluate(f"() => {ELEMENT}.readyState") == 0


def test_an_expired_token_on_the_custom_domain_is_replaced(
    custom_domain_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    """The stream host refuses the expired token (403); the page learns it (the player's
    muxCode 2403210, or its stuck-player check asking stream.<domain> itself, whichever comes
    first), fetches a new token and remounts the player, all through the custom domain."""
    page, _ = sign_up(new_context(), custom_domain_server, "Exa Expired")
    seen = forward_mux_hosts(page, custom_domain_server)
    key = json.loads((custom_domain_server.data_dir / "mux-dev-key.json").read_text())
    private = serialization.load_pem_private_key(base64.b64decode(key["privateKey"]), None)
    expired: list[str] = []

    def expire_first(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        if json.loads(route.request.post_data or "{}").get("type") == "video" and not expired:
            kid = key["keyId"]
            claims = {"sub": "sample-m1-l3", "aud": "v", "exp": int(time.time()) - 60, "kid": kid}
            token = jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]
            body["token"] = token
            body["expiresAt"] = int(time.time()) + 7200  # says it has not expired
            expired.append(token)
        route.fulfill(response=response, json=body)

    page.route("**/api/mux/playback-token", expire_first)
    page.goto(f"{custom_domain_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    page.get_by_role("link", name="Working offline", exact=True).click()
    wait_ready(page)
    assert expired, "the expired token was never served"
    token = page.evaluate(f"() => {ELEMENT}.tokens?.playback || {ELEMENT}.playbackToken || ''")
    assert token and token != expired[0]
    refused = [u for u, s in seen if s == 403]
    assert any(expired[0] in u for u in refused), seen
    play_until(page, 2)
