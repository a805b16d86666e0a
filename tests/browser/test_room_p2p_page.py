"""Peer-to-peer media on the room page, in Debian's Chromium with fake devices (docs/media.md,
"Peer-to-peer mode"), and the switch to the relay when a P2P connection fails.

Two participants (a host and an attendee) turn on their cameras: each sees the other's picture
move over a direct connection, and neither page ever sent ``media.publish`` (the relay carries
nothing: its publications exist only through that action). Then a new P2P connection fails on
purpose: the attendee's page takes its ICE policy from the test hook
``window.__workbookP2pIcePolicy = 'relay'`` (relay candidates only, and there is no TURN
server, so it gathers none) and turns her camera off and on, which makes the host's page offer
her a new connection. It cannot connect; after the page's 8 s connect timeout the host's page
reports ``media.p2p.failed``, the room moves to the relay, both pages publish there without
leaving the room, and the pictures move again. Chat, the raised hand, an unsent chat draft,
the camera and the muted microphone are all as they were.

Chromium and the relay run on this machine; Chromium offers its non-loopback address once mDNS
hiding of local addresses is off (as in test_room_media_page.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, Server, missing, start_server
from tests.browser.test_live_session_page import make_host
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser

ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns"]

# Every frame the page sends on a WebSocket, as text (a room action's JSON is readable).
CAPTURE_SENT = """
window.__sent = []
const nativeSend = WebSocket.prototype.send
WebSocket.prototype.send = function (data) {
  if (data instanceof Uint8Array || data instanceof ArrayBuffer) {
    window.__sent.push(new TextDecoder().decode(data))
  }
  return nativeSend.call(this, data)
}
"""

# A video element really renders: its size is known and its time advances.
ADVANCING = """async (selector) => {
  const video = document.querySelector(selector)
  if (!video || !video.videoWidth) return false
  const before = video.currentTime
  await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()))
  await new Promise((resolve) => video.requestVideoFrameCallback(() => resolve()))
  return video.currentTime > before
}"""

# Every RTCPeerConnection the page makes, to read their states.
TRACK_PCS = """
window.__pcs = []
const NativePc = window.RTCPeerConnection
window.RTCPeerConnection = class extends NativePc {
  constructor(...args) { super(...args); window.__pcs.push(this) }
}
"""

TIMEOUT = 20_000


@pytest.fixture(scope="module")
def p2p_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("collab-p2p"),
                            {"MEDIA_P2P_MAX_PUBLISHERS": "4"})


@pytest.fixture(scope="module")
def p2p_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM} (run `make system-deps`)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


def _sent(page: Page, action: str) -> int:
    frames: list[str] = page.evaluate("() => window.__sent")
    return sum(f'"action":"{action}"' in frame for frame in frames)


def _renders(page: Page, user_id: str) -> None:
    selector = f".tile-camera[data-user='{user_id}'] video"
    expect(page.locator(selector)).to_have_count(1, timeout=TIMEOUT)
    page.wait_for_function(ADVANCING, arg=selector, timeout=TIMEOUT, polling=250)


def _schedule(host: Page, ann: Page, server: Server, host_email: str) -> dict[str, str | None]:
    """The host schedules and starts a session Ann is in; their user ids."""
    make_host(host, server, host_email)
    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill("Small meeting")
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host.get_by_role("button", name="Start session")).to_be_visible()
    ann.goto(host.url)
    host.get_by_role("button", name="Start session").click()
    for page in (host, ann):
        expect(page.locator("main.room-page")).to_have_attribute("data-status", "live")
    return {name: page.locator(".person").filter(has_text="(you)").get_attribute("data-user")
            for name, page in (("host", host), ("ann", ann))}


def test_two_participants_see_each_other_p2p_then_a_failure_moves_them_to_the_relay(
    p2p_server: Server, p2p_browser: Browser, artifacts: Path
) -> None:
    server = p2p_server
    contexts = [p2p_browser.new_context(viewport={"width": 1280, "height": 860})
                for _ in range(2)]
    for context in contexts:
        context.set_default_timeout(TIMEOUT)
        context.add_init_script(CAPTURE_SENT)
    try:
        host, host_email = sign_up(contexts[0], server, "Hanna Host")
        ann, _ = sign_up(contexts[1], server, "Ann Attendee")
        ids = _schedule(host, ann, server, host_email)
        # room state the switch must not touch: a message, a raised hand, an unsent draft
        ann.get_by_label("Message", exact=True).fill("Hello before the switch")
        ann.get_by_label("Message", exact=True).press("Enter")
        ann.get_by_role("button", name="Raise hand").click()
        expect(host.locator(".hand-queue")).to_contain_text("Ann Attendee")
        host.get_by_label("Message", exact=True).fill("a draft I have not sent")

        # both cameras on, the host's microphone on and muted: peer to peer
        started = time.monotonic()
        host.locator("#media-camera").click()
        ann.locator("#media-camera").click()
        host.locator("#media-mic").click()
        expect(host.locator("#media-mic")).to_have_text("Mic on")
        host.locator("#media-mic").click()
        expect(host.locator("#media-mic")).to_have_text("Mic muted")
        _renders(host, ids["ann"])
        _renders(ann, ids["host"])
        p2p_seconds = time.monotonic() - started
        for page in (host, ann):
            expect(page.locator(".panel-media")).to_have_attribute("data-media-mode", "p2p")
            expect(page.locator("#media-mode")).to_have_text("Direct between participants")
        expect(ann.locator(f".tile-camera[data-user='{ids['host']}']")).to_contain_text("muted")
        assert _sent(host, "media.publish") == 0 and _sent(ann, "media.publish") == 0
        assert _sent(host, "media.subscribe") == 0 and _sent(ann, "media.subscribe") == 0
        assert _sent(host, "media.p2p.offer") >= 1 and _sent(ann, "media.p2p.answer") >= 1
        host.screenshot(path=str(artifacts / "room-p2p.png"))

        # a new P2P connection that cannot connect: Ann's camera (all she sends) off and on,
        # with a policy that gathers nothing, makes the host's page offer her a fresh one
        ann.evaluate("() => { window.__workbookP2pIcePolicy = 'relay' }")
        ann.locator("#media-camera").click()
        expect(ann.locator("#media-camera")).to_have_text("Camera off")
        expect(host.locator(f".tile-camera[data-user='{ids['ann']}']")).to_have_count(0)
        switched = time.monotonic()
        ann.locator("#media-camera").click()
        expect(ann.locator("#media-camera")).to_have_text("Camera on")
        for page in (host, ann):
            expect(page.locator(".panel-media")).to_have_attribute(
                "data-media-mode", "relay", timeout=TIMEOUT)
        assert _sent(host, "media.p2p.failed") + _sent(ann, "media.p2p.failed") >= 1
        _renders(host, ids["ann"])
        _renders(ann, ids["host"])
        relay_seconds = time.monotonic() - switched
        for page in (host, ann):
            expect(page.locator("#media-mode")).to_have_text("Through the server")
            assert _sent(page, "media.publish") >= 1  # what it sends moved to the relay
        # nothing else moved: devices, mute, chat, hand, draft, the room itself
        expect(host.locator("#media-mic")).to_have_text("Mic muted")
        expect(host.locator("#media-camera")).to_have_text("Camera on")
        expect(ann.locator(f".tile-camera[data-user='{ids['host']}']")).to_contain_text("muted")
        for page in (host, ann):
            expect(page.locator(".chat-list")).to_contain_text("Hello before the switch")
            expect(page.locator("main.room-page")).to_have_attribute("data-conn", "live")
        expect(host.locator(".hand-queue")).to_contain_text("Ann Attendee")
        expect(ann.get_by_role("button", name="Lower hand")).to_be_visible()
        expect(host.get_by_label("Message", exact=True)).to_have_value("a draft I have not sent")
        expect(host.locator("#media-error")).to_have_count(0)
        expect(ann.locator("#media-error")).to_have_count(0)
        host.screenshot(path=str(artifacts / "room-p2p-relay.png"))
        print(f"p2p pictures after {p2p_seconds:.1f} s; relay pictures {relay_seconds:.1f} s "
              "after the failing connection was offered")
    finally:
        for context in contexts:
            context.close()


def test_a_removed_participant_loses_her_p2p_media(
    p2p_server: Server, p2p_browser: Browser
) -> None:
    """The host removes Ann while both send peer to peer: her entry leaves the room's ``p2p``
    map, so the host's page closes the connection it received her camera on, and the one it
    answered her offer on (she is no longer a member): no connection of the host's page is
    left open, whatever Ann's page does."""
    contexts = [p2p_browser.new_context(viewport={"width": 1280, "height": 860})
                for _ in range(2)]
    for context in contexts:
        context.set_default_timeout(TIMEOUT)
        context.add_init_script(CAPTURE_SENT)
        context.add_init_script(TRACK_PCS)
    try:
        host, host_email = sign_up(contexts[0], p2p_server, "Hanna Host")
        ann, _ = sign_up(contexts[1], p2p_server, "Ann Attendee")
        ids = _schedule(host, ann, p2p_server, host_email)
        host.locator("#media-camera").click()
        ann.locator("#media-camera").click()
        _renders(host, ids["ann"])
        _renders(ann, ids["host"])
        expect(host.locator(".panel-media")).to_have_attribute("data-media-mode", "p2p")
        open_pcs = "() => window.__pcs.filter((pc) => pc.connectionState !== 'closed').length"
        assert host.evaluate(open_pcs) == 2  # receiving Ann's camera, answering hers

        host.get_by_role("button", name="Remove Ann Attendee").click()
        expect(ann.locator("main.room-page")).to_have_attribute("data-conn", "closed")
        expect(host.locator(f".tile-camera[data-user='{ids['ann']}']")).to_have_count(0)
        host.wait_for_function(f"{open_pcs} === 0", timeout=TIMEOUT)
        expect(host.locator(".panel-media")).to_have_attribute("data-media-mode", "p2p")
        assert _sent(host, "media.publish") == 0
    finally:
        for context in contexts:
            context.close()
