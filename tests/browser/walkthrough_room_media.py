"""People using a live room with audio and video for about thirty minutes of simulated time, in
Debian's Chromium with fake devices: a host at desktop width and four attendees (two at phone
width). Not a test (no `test_` name): run it by hand and look at the screenshots it writes.

    PATH=.venv/bin:$PATH python -m tests.browser.walkthrough_room_media /tmp/walk

The story: the host starts the session and shares microphone, camera and screen; attendees
turn theirs on and off, mute and unmute; the host mutes one; a fifth publisher moves the room
from peer to peer to the relay; the host records (the recording then shows on the recordings
page); an attendee goes offline and comes back; one reloads; one leaves and joins again; the
host removes one and ends the session. Page time is Playwright's clock, installed then resumed
(it flows as usual, WebRTC needs that) and fast-forwarded between steps, so timers, token
refreshes and reconnect back-offs see the minutes pass (15 s at a time: see ``Room.later``).
Findings (console errors, failed requests, HTTP errors, sideways scrolling, failed
expectations) are printed and written to findings.json, with requests per route.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Locator, Page, expect, sync_playwright

from tests.browser.harness import CHROMIUM, start_server
from tests.browser.test_live_session_page import make_host
from tests.browser.test_notes_page import sign_up
from tests.browser.test_room_media_page import ADVANCING, ARGS
from tests.browser.walkthrough_recordings import Walk, step

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


class Room:
    def __init__(self, walk: Walk) -> None:
        self.walk = walk
        self.pages: dict[str, Page] = {}
        self.minutes = 0.0

    def add(self, who: str, page: Page) -> None:
        self.pages[who] = page
        self.walk.watch(page, who)

    def shots(self, name: str) -> None:
        for who, page in self.pages.items():
            if page.is_closed():
                continue
            self.walk.sideways(page, who, name)
            self.walk.shot(page, f"{name}-{who}")

    def check(self, who: str, what: str, assertion: Callable[[], object]) -> None:
        """An expectation of the story; a failure is a finding (with a picture), not the end."""
        try:
            assertion()
        except Exception as exc:
            self.walk.note(who, f"expected {what}: {type(exc).__name__}: {str(exc)[:300]}")
            self.walk.shot(self.pages[who], f"failed-{who}")

    def later(self, minutes: float) -> None:
        """Let ``minutes`` pass on every page clock, 15 s at a time with a moment of real time
        between (one jump of minutes would look like a laptop waking up: y-websocket drops a
        socket it heard nothing on for 30 s, and every page's media restarts)."""
        time.sleep(5)  # (connections being made settle first: their timeouts are page timers)
        step(f"{minutes:g} minutes pass (page clocks)")
        self.minutes += minutes
        for _ in range(int(minutes * 4)):
            for page in self.pages.values():
                if not page.is_closed():
                    page.clock.fast_forward(15_000)
            time.sleep(0.4)
        time.sleep(2)


def row(page: Page, name: str) -> Locator:
    return page.locator(".person").filter(has_text=name)


def story(room: Room, server_url: str, data_dir: Path) -> None:
    host = room.pages["host"]
    ann, bob, cat, dan = (room.pages[w] for w in ("ann", "bob", "cat", "dan"))
    step("the host schedules a session; attendees open its page before it starts")
    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill("Gardening workshop")
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host.get_by_role("button", name="Start session")).to_be_visible()
    url = host.url
    for page in (ann, bob, cat, dan):
        page.goto(url)
    room.shots("01-before-start")
    host.get_by_role("button", name="Start session").click()
    for who, page in room.pages.items():
        room.check(who, "the room live", lambda p=page: expect(p.locator("main.room-page"))
                   .to_have_attribute("data-status", "live"))
    room.shots("02-live")

    step("the host: microphone, camera, screen (peer to peer: 1 publisher)")
    host.locator("#media-mic").click()
    host.locator("#media-camera").click()
    host.locator("#media-screen").click()
    room.check("host", "stop sharing", lambda: expect(host.locator("#media-screen"))
               .to_have_text("Stop sharing"))
    for who in ("ann", "bob", "cat", "dan"):
        page = room.pages[who]
        room.check(who, "the host's screen moving", lambda p=page: p.wait_for_function(
            ADVANCING, arg=".tile-screen video", timeout=20_000, polling=500))
        room.check(who, "peer to peer", lambda p=page: expect(p.locator(".panel-media"))
                   .to_have_attribute("data-media-mode", "p2p"))
    room.shots("03-host-shares")

    step("Ann (phone) turns on microphone and camera; Bob his microphone")
    ann.locator("#media-mic").click()
    ann.locator("#media-camera").click()
    bob.locator("#media-mic").click()
    room.check("host", "Ann's camera", lambda: expect(
        host.locator(".tile-camera")).to_have_count(2))
    room.later(4)
    room.shots("04-three-publishers")

    step("Ann mutes and unmutes; Bob is muted by the host and unmutes")
    ann.locator("#media-mic").click()
    room.check("host", "Ann muted in the list", lambda: expect(
        row(host, "Ann Avery").locator(".media")).to_contain_text("muted"))
    ann.locator("#media-mic").click()
    room.check("ann", "Mic on", lambda: expect(ann.locator("#media-mic")).to_have_text("Mic on"))
    host.get_by_role("button", name="Mute Bob Brown").click()
    room.check("bob", "muted by a host", lambda: expect(bob.locator("#media-mic"))
               .to_have_text("Muted by a host"))
    room.shots("05-bob-muted-by-host")
    bob.locator("#media-mic").click()
    room.check("bob", "Mic on again", lambda: expect(
        bob.locator("#media-mic")).to_have_text("Mic on"))
    room.later(3)

    step("Ann's camera off and on; the host stops and restarts the screen")
    ann.locator("#media-camera").click()
    room.check("host", "Ann's camera gone", lambda: expect(
        host.locator(".tile-camera")).to_have_count(1))
    ann.locator("#media-camera").click()
    host.locator("#media-screen").click()
    room.check("ann", "no screen", lambda: expect(ann.locator(".tile-screen")).to_have_count(0))
    host.locator("#media-screen").click()
    room.check("ann", "the screen again", lambda: ann.wait_for_function(
        ADVANCING, arg=".tile-screen video", timeout=20_000, polling=500))
    room.shots("06-camera-and-screen-again")

    step("Cat (phone) and Dan turn on cameras: the 5th publisher moves the room to the relay")
    cat.locator("#media-camera").click()
    room.check("cat", "Camera on", lambda: expect(
        cat.locator("#media-camera")).to_have_text("Camera on"))
    dan.locator("#media-camera").click()
    for who, page in room.pages.items():
        room.check(who, "the relay", lambda p=page: expect(p.locator(".panel-media"))
                   .to_have_attribute("data-media-mode", "relay", timeout=30_000))
    room.check("bob", "four cameras", lambda: expect(bob.locator(
        ".tile-camera video")).to_have_count(4, timeout=30_000))
    room.check("bob", "Dan's camera moving", lambda: bob.wait_for_function(
        ADVANCING, arg=".tile-camera video", timeout=20_000, polling=500))
    room.shots("07-relay")
    room.later(5)
    room.shots("08-relay-five-minutes-later")

    step("the host records 5 seconds")
    host.locator("#media-record").click()
    for who, page in room.pages.items():
        room.check(who, "the recording indicator", lambda p=page: expect(
            p.locator("#recording-indicator")).to_be_visible())
    room.shots("09-recording")
    time.sleep(5)
    host.locator("#media-record").click()
    room.check("host", "Record again", lambda: expect(host.locator("#media-record"))
               .to_have_text("Record", timeout=60_000))
    stored = list((data_dir / "objects" / "recordings").rglob("*.webm"))
    if len(stored) != 1:
        room.walk.note("host", f"recordings stored: {stored}")

    step("Ann goes offline for two minutes and comes back")
    ann.context.set_offline(True)
    ann.evaluate("() => window.dispatchEvent(new Event('offline'))")
    room.check("host", "Ann's media ended", lambda: expect(row(host, "Ann Avery").locator(".media"))
               .to_have_count(0, timeout=30_000))
    room.later(2)
    room.shots("10-ann-offline")
    ann.context.set_offline(False)
    ann.evaluate("() => window.dispatchEvent(new Event('online'))")
    room.check("ann", "Mic on after reconnecting", lambda: expect(ann.locator("#media-mic"))
               .to_have_text("Mic on", timeout=30_000))
    room.check("host", "Ann's camera back", lambda: expect(row(host, "Ann Avery").locator(".media"))
               .to_contain_text("camera", timeout=30_000))
    room.shots("11-ann-back")

    step("Bob reloads the page")
    bob.reload()
    room.check("bob", "live after reload", lambda: expect(bob.locator("main.room-page"))
               .to_have_attribute("data-status", "live"))
    room.check("bob", "the others' cameras after reload", lambda: expect(bob.locator(
        ".tile-camera video")).to_have_count(4, timeout=30_000))
    room.check("host", "Bob no longer sending", lambda: expect(row(host, "Bob Brown").locator(
        ".media")).to_have_count(0, timeout=30_000))
    bob.locator("#media-mic").click()
    room.check("bob", "Mic on after reload", lambda: expect(
        bob.locator("#media-mic")).to_have_text("Mic on"))
    room.shots("12-bob-reloaded")

    step("Cat leaves and joins again")
    cat.locator("#leave-room").click()
    room.check("host", "Cat's camera gone", lambda: expect(row(host, "Cat Cole").locator(".media"))
               .to_have_count(0, timeout=30_000))
    room.shots("13-cat-left")
    cat.goto(url)
    room.check("cat", "live again", lambda: expect(cat.locator("main.room-page"))
               .to_have_attribute("data-status", "live"))
    cat.locator("#media-camera").click()
    room.check("host", "Cat's camera back", lambda: expect(row(host, "Cat Cole").locator(".media"))
               .to_contain_text("camera", timeout=30_000))
    room.shots("14-cat-rejoined")

    step("the host removes Dan")
    host.get_by_role("button", name="Remove Dan Dunn").click()
    room.check("dan", "told he was removed", lambda: expect(dan.get_by_text(
        "You were removed from this session")).to_be_visible(timeout=30_000))
    room.check("host", "Dan's camera gone", lambda: expect(row(host, "Dan Dunn")).to_have_count(0))
    room.shots("15-dan-removed")
    room.later(10)
    room.shots("16-ten-quiet-minutes")

    step("the host ends the session")
    host.get_by_role("button", name="End session").click()
    host.get_by_role("button", name="Confirm: end for everyone").click()
    for who in ("host", "ann", "bob", "cat"):
        page = room.pages[who]
        room.check(who, "the session ended", lambda p=page: expect(p.locator("main.room-page"))
                   .to_have_attribute("data-status", "ended", timeout=30_000))
        room.check(who, "no camera tile", lambda p=page: expect(p.locator(".tile-camera"))
                   .to_have_count(0))
    room.shots("17-ended")

    step("the host opens the recordings page")
    host.goto(f"{server_url}/recordings")
    room.check("host", "the recording listed", lambda: expect(host.get_by_text(
        "Gardening workshop").first).to_be_visible(timeout=30_000))
    room.shots("18-recordings")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    walk = Walk(out)
    runs = start_server(Path(tempfile.mkdtemp()), {})
    server = next(runs)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            room = Room(walk)
            people = [("host", "Hanna Host", DESKTOP), ("ann", "Ann Avery", PHONE),
                      ("bob", "Bob Brown", DESKTOP), ("cat", "Cat Cole", PHONE),
                      ("dan", "Dan Dunn", DESKTOP)]
            for who, name, options in people:
                context = browser.new_context(**options)  # type: ignore[arg-type]
                context.set_default_timeout(20_000)
                page, email = sign_up(context, server, name)
                page.clock.install()
                page.clock.resume()
                if who == "host":
                    make_host(page, server, email)
                room.add(who, page)
            try:
                story(room, server.url, server.data_dir)
            except Exception as exc:  # report what stopped the walk, with pictures
                walk.note("walk", f"stopped: {type(exc).__name__}: {str(exc)[:500]}")
                room.shots("stopped")
            browser.close()
    finally:
        runs.close()
    busiest = [f"{n} x {k}" for k, n in walk.requests.most_common(15)]
    (out / "findings.json").write_text(json.dumps(
        {"findings": walk.findings, "requests": busiest, "minutes": room.minutes}, indent=2))
    print("\nRequests:", *busiest, sep="\n  ")
    print(f"\n{len(walk.findings)} findings; screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "walk-artifacts"))
