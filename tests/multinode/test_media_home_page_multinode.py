"""The room page across two real `collab serve` processes when the room's media home dies.

Debian's Chromium with fake devices: the host's page (socket on node1) turns on the camera, so
node1 hosts the room's media; Ann's page (socket on node2) sees the host's camera move through
node1 and turns hers on, which node2 forwards to node1. node1 is killed. Ann's socket stays on
node2, which takes the room over and empties its `media` map; Ann's page sees its own entry
leave the map while it still sends, and publishes again on a fresh connection, to node2
(docs/media.md, "One media home per room"). Chromium and both nodes share this namespace, as
in tests/browser/test_room_media_page.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
from playwright.sync_api import Browser, expect

from tests.browser.harness import Server
from tests.browser.test_notes_page import sign_up
from tests.browser.test_room_media_page import ADVANCING, TIMEOUT, _context, media_browser
from tests.databases import admin_sql
from tests.interop.serverprocess import ServerProcess

__all__ = ["media_browser"]

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.postgres]

# Ann's own row in the people list: whether it lists her camera, sampled every 50 ms, and
# whether it came back after being gone.
WATCH_OWN_ENTRY = """() => {
  window.__own = { gone: false, back: false }
  setInterval(() => {
    const row = [...document.querySelectorAll('.person')]
      .find((r) => r.textContent.includes('(you)'))
    const listed = !!row?.querySelector('.media[data-media~="camera"]')
    if (!listed) window.__own.gone = true
    else if (window.__own.gone) window.__own.back = true
  }, 50)
}"""


def test_the_page_publishes_again_when_the_media_home_dies(
    nodes: Callable[..., ServerProcess], media_browser: Browser, multinode_pg_url: str,
    redis_url: str, redis_prefix: str, tmp_path: Path,
) -> None:
    # A 3 s claim: node2 checks on node1 every second; the relay from the first camera (two
    # people would otherwise go peer to peer, and no node would host the room's media).
    relay_only = {"MEDIA_HOME_TTL": "3", "MEDIA_P2P_MAX_PUBLISHERS": "0"}
    node1, node2 = nodes("node1", **relay_only), nodes("node2", **relay_only)
    one = Server(node1.http_url, tmp_path, tmp_path / "node1.log")
    two = Server(node2.http_url, tmp_path, tmp_path / "node2.log")
    host_ctx, ann_ctx = _context(media_browser), _context(media_browser)
    host, host_email = sign_up(host_ctx, one, "Hanna Host")
    ann, _ = sign_up(ann_ctx, two, "Ann Attendee")
    promote = f"UPDATE users SET role = 'premium' WHERE email = '{host_email}'"
    with ThreadPoolExecutor(1) as pool:  # (Playwright's loop runs in this thread)
        pool.submit(asyncio.run, admin_sql(multinode_pg_url, promote)).result()
    host.goto(f"{one.url}/sessions")
    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill("Two-node media")
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host.get_by_role("button", name="Start session")).to_be_visible()
    session_id = host.url.rsplit("/", 1)[-1]
    ann.goto(f"{two.url}/sessions/{session_id}")
    host.get_by_role("button", name="Start session").click()
    for page in (host, ann):
        expect(page.locator("main.room-page")).to_have_attribute("data-status", "live")

    claims = redis.Redis.from_url(redis_url)
    home_key = f"{redis_prefix}media:home:{session_id}"

    def home() -> str | None:
        value = claims.get(home_key)
        return None if value is None else bytes(value).decode()

    try:
        host.locator("#media-camera").click()
        expect(host.locator("#media-camera")).to_have_text("Camera on")
        assert home() == "node1"
        # Ann, on node2, sees the host's camera move (node1's relay, forwarded signaling).
        ann.wait_for_function(ADVANCING, arg=".tile-camera video", timeout=TIMEOUT, polling=500)
        ann.locator("#media-camera").click()
        expect(ann.locator("#media-camera")).to_have_text("Camera on")
        expect(ann.locator("#media-error")).to_have_count(0)
        mine = ann.locator(".person").filter(has_text="(you)").locator(".media")
        expect(mine).to_contain_text("camera")
        assert home() == "node1"

        ann.evaluate(WATCH_OWN_ENTRY)
        node1.kill()
        killed = time.monotonic()
        ann.wait_for_function("() => window.__own.back", timeout=TIMEOUT, polling=100)
        elapsed = time.monotonic() - killed
        print(f"Ann's camera listed again through node2 {elapsed:.1f} s after the kill")
        # Node2 notices within a third of MEDIA_HOME_TTL (1 s here); the page then republishes
        # at once. Waiting for Chromium to declare the old connection failed instead took
        # 15.9 s (measured with the page's republish-on-drop disabled).
        assert elapsed < 8, elapsed
        assert home() == "node2"
        expect(ann.locator("#media-camera")).to_have_text("Camera on")
        expect(ann.locator("#media-error")).to_have_count(0)
        ann.screenshot(path=tmp_path / "ann-after-takeover.png")
    finally:
        claims.close()
        host_ctx.close()
        ann_ctx.close()
