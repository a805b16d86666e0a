"""A camera the relay stops for sending over the room's bitrate cap: its page says why, in
words, and turns the camera off (docs/media.md, "Limits"). The page's own encoder cap and the
answer's bandwidth lines are removed here, as an uncooperative client would: Chromium's fake
camera then sends far above the 150 kbit/s the room allows (100 kbit/s x 1.5)."""

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

# The page's cap (``setParameters``) made a no-op, and the answer's ``b=AS``/``b=TIAS`` removed.
UNCAPPED = """
RTCRtpSender.prototype.setParameters = function () { return Promise.resolve() }
const answer = RTCPeerConnection.prototype.setRemoteDescription
RTCPeerConnection.prototype.setRemoteDescription = function (desc) {
  const sdp = desc.sdp.split('\\r\\n').filter((l) => !/^b=(AS|TIAS):/.test(l)).join('\\r\\n')
  return answer.call(this, { type: desc.type, sdp })
}
"""


@pytest.fixture(scope="module")
def limit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(tmp_path_factory.mktemp("collab-media-limit"), {
        "MEDIA_P2P_MAX_PUBLISHERS": "0", "MEDIA_MAX_VIDEO_BITRATE": "100000"})


def test_a_camera_stopped_over_the_bitrate_cap_is_told_why(
    limit_server: Server, artifacts: Path
) -> None:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 390, "height": 844})
        context.add_init_script(UNCAPPED)
        host, email = sign_up(context, limit_server, "Hanna Host")
        make_host(host, limit_server, email)
        host.get_by_role("button", name="Schedule a session").click()
        host.get_by_label("Session title").fill("Bitrate")
        host.get_by_role("button", name="Schedule", exact=True).click()
        host.get_by_role("button", name="Start session").click()
        expect(host.locator("main.room-page")).to_have_attribute("data-status", "live")
        host.locator("#media-mic").click()
        expect(host.locator("#media-mic")).to_have_text("Mic on")
        host.locator("#media-camera").click()
        expect(host.locator("#media-camera")).to_have_text("Camera on")
        me = host.locator(".person").filter(has_text="(you)")
        expect(me.locator(".media")).to_contain_text("camera")

        stopped = host.locator("#media-stopped")
        expect(stopped).to_have_text(
            "Your camera was stopped: it sent more than the room allows (150 kbit/s). "
            "Turn it on again to retry. Dismiss", timeout=30_000)
        expect(host.locator("#media-camera")).to_have_text("Camera off")
        expect(host.locator(".tile-camera")).to_have_count(0)
        expect(host.locator("#media-mic")).to_have_text("Mic on")  # the microphone stays
        expect(me.locator(".media")).not_to_contain_text("camera")
        host.screenshot(path=str(artifacts / "room-media-stopped-phone.png"), full_page=True)
        stopped.get_by_role("button", name="Dismiss").click()
        expect(stopped).to_have_count(0)
        browser.close()
