"""A media action whose reply never comes (its socket went away first) must not leave its
button busy: found by tests/browser/walkthrough_room_media.py, where a camera button stayed
"Camera…" for good and every later change queued behind it. Here the page's media actions
are swallowed before they reach the server, then the page goes offline: the button comes
back with the reason in words, and once online the camera turns on. Then an attendee with her
camera on is removed: her page stops the camera (it stayed on, capturing, in the walkthrough)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.browser.harness import CHROMIUM, Server, missing, start_server
from tests.browser.test_live_session_page import make_host
from tests.browser.test_notes_page import sign_up
from tests.browser.test_room_media_page import ARGS

pytestmark = pytest.mark.browser

# While window.__drop is set, frames carrying a media.* action are not sent.
SWALLOW = """
window.__drop = false
const send = WebSocket.prototype.send
WebSocket.prototype.send = function (data) {
  if (window.__drop && data instanceof Uint8Array &&
      new TextDecoder().decode(data).includes('"action":"media.')) return
  return send.call(this, data)
}
"""


@pytest.fixture(scope="module")
def settle_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("collab-settle"),
                            {"MEDIA_P2P_MAX_PUBLISHERS": "0"})


def test_a_media_action_lost_with_its_socket_frees_its_button(settle_server: Server) -> None:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        context.add_init_script(SWALLOW)
        host, email = sign_up(context, settle_server, "Hanna Host")
        make_host(host, settle_server, email)
        host.get_by_role("button", name="Schedule a session").click()
        host.get_by_label("Session title").fill("Settle")
        host.get_by_role("button", name="Schedule", exact=True).click()
        host.get_by_role("button", name="Start session").click()
        expect(host.locator("main.room-page")).to_have_attribute("data-status", "live")

        host.evaluate("() => { window.__drop = true }")
        camera = host.locator("#media-camera")
        camera.click()
        expect(camera).to_be_disabled()  # waiting for a reply that will not come
        host.evaluate("() => window.dispatchEvent(new Event('offline'))")
        expect(camera).to_be_enabled()
        expect(camera).to_have_text("Camera off")
        expect(host.locator("#media-error")).to_contain_text("You are offline")

        host.evaluate("() => { window.__drop = false; window.dispatchEvent(new Event('online')) }")
        expect(host.locator("main.room-page")).to_have_attribute("data-conn", "live")
        camera.click()
        expect(camera).to_have_text("Camera on")
        expect(host.locator(".tile-camera video")).to_have_count(1)

        ann_context = browser.new_context(viewport={"width": 390, "height": 844})
        ann, _ = sign_up(ann_context, settle_server, "Ann Attendee")
        ann.goto(host.url)
        ann.locator("#media-camera").click()
        expect(ann.locator("#media-camera")).to_have_text("Camera on")
        expect(host.locator(".tile-camera video")).to_have_count(2)
        host.get_by_role("button", name="Remove Ann Attendee").click()
        expect(ann.get_by_role("alert").first).to_contain_text("You were removed")
        expect(ann.locator(".tile-camera")).to_have_count(0)  # her camera is off
        assert ann.evaluate("() => [...document.querySelectorAll('video')].every("
                            "(v) => !v.srcObject || v.srcObject.getTracks().every("
                            "(t) => t.readyState === 'ended'))")
        expect(host.locator(".tile-camera video")).to_have_count(1)
        # the removal banner alone: no "You are offline: the action was not sent." under it
        expect(ann.get_by_role("alert")).to_have_count(1)
        browser.close()
