"""The room page's audio and video in Debian's Chromium with fake devices, through the relay.

A host shares camera, microphone and screen; an attendee (allowed to speak) sees the pictures
move and turns on her microphone, which the host hears (a level above zero measured with
WebAudio on the host's received track); a viewer gets no publish controls and the server
refuses a publish forged on the viewer's socket; the host records, everyone sees the
indicator, and a WebM file lands in the object store. axe runs on the room with media, and
screenshots are taken at desktop and phone width.

The screen is real ``getDisplayMedia``: with ``--use-fake-device-for-media-stream`` and
``--use-fake-ui-for-media-stream`` headless Chromium answers it with a fake 1280x720 monitor
capture (no picker), just as camera and microphone are its fake devices. Chromium and the
relay both run in this namespace: the relay gathers the machine's non-loopback address, and
Chromium offers it once mDNS hiding of local addresses is off.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.browser.checks import assert_accessible
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, Server, missing, start_server
from tests.browser.test_live_session_page import CAPTURE_SOCKETS, FORGE, make_host
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser

ARGS = [*CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
        "--disable-features=WebRtcHideLocalIpsWithMdns"]

# Replies arriving on the room socket, as text (the JSON of a stateless reply is readable).
CAPTURE_REPLIES = """
window.__frames = []
const Native2 = window.WebSocket
window.WebSocket = class extends Native2 {
  constructor(...args) {
    super(...args)
    this.addEventListener('message', (e) => {
      if (e.data instanceof ArrayBuffer) window.__frames.push(new TextDecoder().decode(e.data))
    })
  }
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

# The loudest RMS level over one second of a received audio element's track.
LEVEL = """async (selector) => {
  const audio = document.querySelector(selector)
  if (!audio || !audio.srcObject) return 0
  const ctx = new AudioContext()
  await ctx.resume()
  const analyser = ctx.createAnalyser()
  ctx.createMediaStreamSource(audio.srcObject).connect(analyser)
  const data = new Float32Array(analyser.fftSize)
  let best = 0
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 50))
    analyser.getFloatTimeDomainData(data)
    best = Math.max(best, Math.sqrt(data.reduce((s, v) => s + v * v, 0) / data.length))
  }
  await ctx.close()
  return best
}"""

TIMEOUT = 20_000


@pytest.fixture(scope="module", params=["0", "4"], ids=["relay", "p2p-first"])
def media_server(tmp_path_factory: pytest.TempPathFactory,
                 request: pytest.FixtureRequest) -> Iterator[Server]:
    """The relay only (no P2P), and P2P for up to 4 publishers: the same story holds with
    the host and Ann sending peer to peer until the recording moves the room to the relay
    (docs/media.md, "Peer-to-peer mode"; the switch itself: test_room_p2p_page.py)."""
    yield from start_server(tmp_path_factory.mktemp("collab-media"),
                            {"MEDIA_P2P_MAX_PUBLISHERS": request.param})


@pytest.fixture(scope="module")
def media_browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM} (run `make system-deps`)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield instance
        instance.close()


def _context(browser: Browser, width: int = 1280, height: int = 860) -> BrowserContext:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(TIMEOUT)
    return context


def _set_role(server: Server, email: str, role: str) -> None:
    with sqlite3.connect(server.data_dir / "collab.db", timeout=10) as db:
        changed = db.execute(
            "UPDATE session_participants SET role = ? WHERE user_id = "
            "(SELECT id FROM users WHERE email = ?)", (role, email))
        assert changed.rowcount == 1


def _forced_publish(page: Page) -> str:
    """Send a `media.publish` the page would never send; return the server's reply frame."""
    page.evaluate(FORGE, '{"id":"forced","action":"media.publish","sdp":"v=0\\r\\n",'
                         '"tracks":[{"mid":"0","source":"camera"}]}')
    page.wait_for_function(
        "() => window.__frames.some((f) => f.includes('\"forced\"'))", timeout=TIMEOUT)
    frames: list[str] = page.evaluate("() => window.__frames")
    return next(f for f in frames if '"forced"' in f)


def test_host_shares_camera_mic_and_screen_attendee_speaks_viewer_watches(
    media_server: Server, media_browser: Browser, artifacts: Path
) -> None:
    server = media_server
    host_ctx, ann_ctx = _context(media_browser), _context(media_browser, 390, 844)
    vic_ctx = _context(media_browser)
    vic_ctx.add_init_script(CAPTURE_SOCKETS)
    vic_ctx.add_init_script(CAPTURE_REPLIES)
    host, host_email = sign_up(host_ctx, server, "Hanna Host")
    ann, _ = sign_up(ann_ctx, server, "Ann Attendee")
    vic, vic_email = sign_up(vic_ctx, server, "Vic Viewer")
    make_host(host, server, host_email)

    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill("Media workshop")
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host.get_by_role("button", name="Start session")).to_be_visible()
    room_url = host.url
    vic.goto(room_url)
    expect(vic.locator(".person").filter(has_text="Vic Viewer")).to_be_visible()
    _set_role(server, vic_email, "viewer")
    vic.goto(room_url)
    ann.goto(room_url)
    host.get_by_role("button", name="Start session").click()
    for page in (host, ann, vic):
        expect(page.locator("main.room-page")).to_have_attribute("data-status", "live")
    expect(vic.get_by_text("you are viewer")).to_be_visible()

    # the host: microphone, camera, screen
    host.locator("#media-mic").click()
    expect(host.locator("#media-mic")).to_have_text("Mic on")
    host.locator("#media-camera").click()
    expect(host.locator("#media-camera")).to_have_text("Camera on")
    host.locator("#media-screen").click()
    expect(host.locator("#media-screen")).to_have_text("Stop sharing")
    expect(host.locator("#media-error")).to_have_count(0)
    # my own preview keeps one stream across renders (the mic meter re-renders five times a
    # second; a new stream each time restarted the video, black in the walkthrough)
    assert host.evaluate("""async () => {
      const video = document.querySelector('.tile-camera video')
      const stream = video.srcObject
      await new Promise((resolve) => setTimeout(resolve, 1500))
      return video.srcObject === stream && video.videoWidth > 0
    }""")

    # attendees see both pictures move, the screen larger than the camera
    for page in (ann, vic):
        for source in ("camera", "screen"):
            selector = f".tile-{source} video"
            expect(page.locator(f".tile-{source} video")).to_have_count(1, timeout=TIMEOUT)
            page.wait_for_function(ADVANCING, arg=selector, timeout=TIMEOUT, polling=500)
        host_row = page.locator(".person").filter(has_text="Hanna Host")
        expect(host_row.locator(".media")).to_contain_text("camera · screen")
    screen_box = vic.locator(".tile-screen").bounding_box()
    camera_box = vic.locator(".tile-camera").bounding_box()
    assert screen_box and camera_box and screen_box["width"] > 2 * camera_box["width"]

    # the viewer: no publish controls; a forged publish is refused by the server
    expect(vic.locator(".media-bar")).to_have_count(0)
    expect(vic.locator("#media-viewer-hint")).to_be_visible()
    assert '"reason":"not_allowed"' in _forced_publish(vic)

    # a refused camera permission is said in words, and nothing is published
    ann.evaluate("""() => {
      const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices)
      navigator.mediaDevices.getUserMedia = (constraints) => {
        navigator.mediaDevices.getUserMedia = real
        return Promise.reject(new DOMException('denied', 'NotAllowedError'))
      }
    }""")
    ann.locator("#media-camera").click()
    expect(ann.locator("#media-error")).to_contain_text("Permission to use your camera was denied")
    expect(ann.locator("#media-camera")).to_have_text("Camera off")
    ann.locator("#media-error").get_by_role("button", name="Dismiss").click()

    # Ann (a participant, allowed to speak) turns on her microphone; the host hears her
    ann.locator("#media-mic").click()
    expect(ann.locator("#media-mic")).to_have_text("Mic on")
    ann_id = ann.locator(".person").filter(has_text="(you)").get_attribute("data-user")
    expect(host.locator(f"audio[data-user='{ann_id}']")).to_have_count(1)
    level = 0.0
    for _ in range(10):
        level = host.evaluate(LEVEL, f"audio[data-user='{ann_id}']")
        if level > 0:
            break
    assert level > 0, "the host's page received only silence from Ann"
    # someone speaks (the fake microphones beep; the server reads the level of each voice's
    # packets): a highlighted row in the viewer's list, and an active speaker on the stage
    expect(vic.locator(".person[data-speaking='true']").first).to_be_visible(timeout=TIMEOUT)
    expect(vic.locator(".panel-media")).not_to_have_attribute("data-speaker", "")
    # Ann's socket drops (the server ends her media with it) and comes back: she publishes
    # again by herself and the host hears her on a new subscription
    # (the page's own offline handling closes the socket: Playwright's offline emulation
    # leaves an open WebSocket alone)
    ann.evaluate("() => window.dispatchEvent(new Event('offline'))")
    expect(host.locator(f"audio[data-user='{ann_id}']")).to_have_count(0, timeout=TIMEOUT)
    ann.evaluate("() => window.dispatchEvent(new Event('online'))")
    expect(host.locator(f"audio[data-user='{ann_id}']")).to_have_count(1, timeout=TIMEOUT)
    expect(ann.locator("#media-mic")).to_have_text("Mic on")
    level = 0.0
    for _ in range(10):
        level = host.evaluate(LEVEL, f"audio[data-user='{ann_id}']")
        if level > 0:
            break
    assert level > 0, "after her reconnect the host received only silence from Ann"
    # the host mutes Ann (the relay stops forwarding her voice); her page follows
    host.get_by_role("button", name="Mute Ann Attendee").click()
    expect(ann.locator("#media-mic")).to_have_text("Muted by a host")
    expect(host.locator(f".person[data-user='{ann_id}'] .media")).to_contain_text(
        "muted by a host")
    # the session lets participants unmute themselves: she may turn it on again
    ann.locator("#media-mic").click()
    expect(ann.locator("#media-mic")).to_have_text("Mic on")
    expect(host.locator(f".person[data-user='{ann_id}'] .media")).not_to_contain_text("muted")
    # Ann mutes: everyone's list says so
    ann.locator("#media-mic").click()
    expect(ann.locator("#media-mic")).to_have_text("Mic muted")
    expect(host.locator(f".person[data-user='{ann_id}'] .media")).to_contain_text("muted")

    # recording: started by the host, shown to everyone, stored when stopped
    host.locator("#media-record").click()
    for page in (host, ann, vic):
        expect(page.locator("#recording-indicator")).to_be_visible()
        # the relay records: a room that was peer to peer has moved there
        expect(page.locator(".panel-media")).to_have_attribute("data-media-mode", "relay")
    vic.wait_for_function(  # two seconds of pictures pass on the viewer's screen
        """() => { const v = document.querySelector('.tile-screen video');
                   window.__t0 ??= v.currentTime; return v.currentTime - window.__t0 > 2 }""",
        timeout=TIMEOUT, polling=250)
    for page in (host, ann, vic):  # (autoplay allowed by the flag: no click asked for)
        expect(page.locator("#media-sound")).to_have_count(0)
    host.screenshot(path=str(artifacts / "room-media-host.png"))
    ann.screenshot(path=str(artifacts / "room-media-phone.png"), full_page=True)
    assert_accessible(host, "room with media (host)")
    assert_accessible(ann, "room with media (attendee, phone)")
    host.locator("#media-record").click()
    for page in (host, ann, vic):  # once the mixdown is made (a worker process: slow if busy)
        expect(page.locator("#recording-indicator")).to_have_count(0, timeout=TIMEOUT)
    expect(host.locator("#media-record")).to_have_text("Record")  # the reply: stored
    expect(host.locator("#media-error")).to_have_count(0)
    stored = list((server.data_dir / "objects" / "recordings").rglob("*.webm"))
    assert len(stored) == 1, stored
    with av.open(str(stored[0])) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "vp8" and container.streams.audio
        # the first track is the room's voices mixed (what a browser plays), Opus
        first = container.streams[0]
        assert (first.type, first.codec_context.name) == ("audio", "opus")
        assert container.duration and container.duration / av.time_base > 1.5

    # the host stops the screen; attendees' stage follows; leaving stops the host's devices
    host.locator("#media-screen").click()
    expect(vic.locator(".tile-screen")).to_have_count(0)
    host.locator("#leave-room").click()
    expect(vic.locator(".tile-camera")).to_have_count(0)
    expect(vic.locator(".person").filter(has_text="Hanna Host").locator(".media")).to_have_count(0)
