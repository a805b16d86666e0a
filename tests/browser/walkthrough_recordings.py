"""A person using the recordings page for about twenty minutes of simulated time, in Debian's
Chromium at desktop and phone width, going offline and back. Not a test (no `test_` name):
run it by hand and look at the screenshots it writes.

    PATH=.venv/bin:$PATH python -m tests.browser.walkthrough_recordings /tmp/walk

The microphone is Chromium's fake capture device fed with espeak-ng speech, so a recording
made on the page has words in it. Page time is driven by Playwright's clock (`fast_forward`),
so timers, token refreshes and reconnects see the minutes pass; the server's clock is real.
Findings (console errors, failed requests, requests per minute to the list route, sideways
scrolling at phone width) are printed at the end and written to findings.json.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect, sync_playwright

from tests.audio_samples import encoded, spoken_wav
from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, start_server
from tests.browser.test_notes_page import sign_up

SAID = ("Please bring your notebook and a pencil. We will discuss pricing for haircuts. "
        "The workshop starts at nine in the morning.")
MIC = "Good morning everyone. Today we talk about gardens and tomatoes."


class Walk:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.findings: list[dict[str, Any]] = []
        self.requests: Counter[str] = Counter()
        self.shots = 0

    def watch(self, page: Page, who: str) -> None:
        page.on("console", lambda m: m.type in ("error", "warning") and self.note(
            who, f"console {m.type}: {m.text[:300]}"))
        page.on("pageerror", lambda e: self.note(who, f"page error: {e}"))
        page.on("requestfailed", lambda r: self.note(
            who, f"request failed: {r.method} {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.note(
            who, f"HTTP {r.status}: {r.request.method} {r.url}"))
        page.on("request", lambda r: self.requests.update([f"{who} {r.method} {route(r.url)}"]))

    def note(self, who: str, what: str) -> None:
        self.findings.append({"who": who, "what": what, "at": time.strftime("%H:%M:%S")})
        print(f"  ! {who}: {what}", flush=True)

    def shot(self, page: Page, name: str) -> None:
        self.shots += 1
        path = self.out / f"{self.shots:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"  screenshot {path}", flush=True)

    def sideways(self, page: Page, who: str, where: str) -> None:
        width = page.evaluate("document.documentElement.scrollWidth")
        view = page.evaluate("window.innerWidth")
        if width > view:
            self.note(who, f"{where}: scrolls sideways ({width}px in {view}px)")


def route(url: str) -> str:
    """The URL without its query, ids replaced: requests counted per route."""
    return re.sub(r"[0-9a-f-]{36}", "{id}", url.split("?")[0])


def step(title: str) -> None:
    print(f"- {title}", flush=True)


def session(walk: Walk, page: Page, who: str, base: str, audio: bytes, phone: bool) -> None:
    lines = page.get_by_role("list", name="Transcript")
    recordings = page.get_by_role("list", name="My recordings")
    step(f"{who}: open the recordings page")
    page.goto(f"{base}/recordings")
    expect(page.get_by_role("heading", name="Recordings", level=1)).to_be_visible()
    walk.shot(page, f"{who}-empty")
    walk.sideways(page, who, "empty page")

    step(f"{who}: record 6 s from the (fake) microphone, pause and resume")
    page.clock.install()
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_text("Recording…")).to_be_visible()
    page.clock.run_for(3000)
    page.wait_for_timeout(3000)
    page.get_by_role("button", name="Pause").click()
    walk.shot(page, f"{who}-recording-paused")
    page.clock.run_for(2000)
    page.get_by_role("button", name="Resume").click()
    page.wait_for_timeout(3000)
    page.clock.run_for(3000)
    page.get_by_role("button", name="Stop and upload").click()
    expect(recordings.get_by_role("button", name=re.compile("Recording"))).to_be_visible()
    walk.shot(page, f"{who}-recorded")

    step(f"{who}: wait for the microphone recording's transcript (live, no reload)")
    try:
        expect(recordings.get_by_text(re.compile("Transcribed|Transcription failed"))
               ).to_be_visible(timeout=120_000)
    except AssertionError:
        walk.note(who, "the microphone recording was not transcribed within 2 minutes")
    walk.shot(page, f"{who}-recorded-transcript")

    step(f"{who}: upload a spoken MP3 by the file picker")
    page.locator("input[type=file]").set_input_files(
        {"name": "workshop.mp3", "mimeType": "audio/mpeg", "buffer": audio})
    page.get_by_label("Title").fill("Workshop briefing")
    page.get_by_role("button", name="Upload").click()
    expect(recordings.get_by_role("button", name=re.compile("Workshop briefing"))).to_be_visible()
    expect(lines.get_by_text("pencil", exact=False)).to_be_visible(timeout=120_000)
    walk.shot(page, f"{who}-transcript")
    walk.sideways(page, who, "transcript")

    step(f"{who}: 5 idle minutes (page clock): the page must not poll")
    before = sum(n for k, n in walk.requests.items() if k.startswith(who) and
                 k.endswith("/api/workbook/audio"))
    page.clock.run_for(5 * 60_000)
    page.wait_for_timeout(1500)
    after = sum(n for k, n in walk.requests.items() if k.startswith(who) and
                k.endswith("/api/workbook/audio"))
    if after - before > 1:
        walk.note(who, f"{after - before} list requests during 5 idle minutes")

    step(f"{who}: search what was said, open a hit, click lines")
    page.get_by_label("Search transcripts").fill("pricing")
    hit = page.get_by_role("list", name="Search results").get_by_role("button").first
    expect(hit).to_contain_text("Workshop briefing")
    walk.shot(page, f"{who}-search")
    hit.click()
    expect(page).to_have_url(re.compile(r"t=\d"))
    page.wait_for_function("() => document.querySelector('audio')?.currentTime > 1")
    for line in lines.locator("li").all()[:3]:
        line.locator(".rec-text").click()
    walk.shot(page, f"{who}-playing")

    step(f"{who}: correct a line")
    first = lines.locator("li").first
    first.get_by_role("button", name=re.compile("Edit the line")).click()
    walk.shot(page, f"{who}-editing")
    walk.sideways(page, who, "editing a line")
    page.get_by_label("Corrected text").fill("Please bring your notebook and a pen")
    page.get_by_role("button", name="Save").click()
    expect(lines).to_contain_text("and a pen")

    step(f"{who}: go offline: search, edit, upload, copy")
    page.context.set_offline(True)
    page.clock.run_for(60_000)
    page.get_by_label("Search transcripts").fill("morning")
    page.wait_for_timeout(1500)
    if not page.get_by_text("You are offline").count():
        walk.note(who, "searching offline says nothing")
    walk.shot(page, f"{who}-offline-search")
    first.get_by_role("button", name=re.compile("Edit the line")).click()
    page.get_by_label("Corrected text").fill("Edited while offline")
    page.get_by_role("button", name="Save").click()
    page.wait_for_timeout(1000)
    walk.shot(page, f"{who}-offline-edit")
    page.locator("input[type=file]").set_input_files(
        {"name": "second.mp3", "mimeType": "audio/mpeg", "buffer": audio})
    page.get_by_role("button", name="Upload").click()
    page.wait_for_timeout(1500)
    walk.shot(page, f"{who}-offline-upload")
    page.get_by_role("button", name="Cancel").click() if page.get_by_role(
        "button", name="Cancel").count() else None

    step(f"{who}: back online after 3 minutes")
    page.clock.run_for(3 * 60_000)
    page.context.set_offline(False)
    page.wait_for_timeout(3000)
    page.clock.run_for(10_000)
    walk.shot(page, f"{who}-online-again")

    step(f"{who}: copy the transcript into a note")
    page.get_by_role("button", name=re.compile("Workshop briefing")).first.click()
    page.get_by_role("button", name="Copy to a note").click()
    expect(page).to_have_url(re.compile(r"/notes/[0-9a-f-]+$"))
    expect(page.locator(".ProseMirror")).to_contain_text("[0:0")
    walk.shot(page, f"{who}-note")

    step(f"{who}: notes search finds the spoken word; open the moment")
    if phone and page.locator("#note-search").count() and not page.locator(
            "#note-search").is_visible():
        walk.note(who, "notes search is not visible on the note page at phone width")
        page.goto(f"{base}/notes")
    page.locator("#note-search").fill("pricing")
    moment = page.locator(".moment-item").first
    expect(moment).to_be_visible()
    walk.shot(page, f"{who}-notes-search")
    moment.click()
    expect(page).to_have_url(re.compile(r"/recordings\?r="))
    page.wait_for_function("() => document.querySelector('audio')?.currentTime > 1")
    if not page.locator("audio").is_visible() or page.evaluate(
            "document.querySelector('audio').getBoundingClientRect().bottom > innerHeight"):
        walk.note(who, "the moment opened from the notes search plays out of sight")
    walk.shot(page, f"{who}-moment")

    step(f"{who}: 10 more minutes pass (token refresh), then delete everything")
    page.clock.run_for(10 * 60_000)
    page.wait_for_timeout(1000)
    for _ in range(recordings.locator("li button").count()):
        recordings.locator("li button").first.click()
        page.get_by_role("button", name="Delete").click()
        page.wait_for_timeout(700)
    expect(page.get_by_text("No recordings yet.")).to_be_visible()
    walk.shot(page, f"{who}-deleted")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    walk = Walk(out)
    audio = encoded(spoken_wav(SAID), "mp3")
    mic = Path(tempfile.mkdtemp()) / "mic.wav"
    mic.write_bytes(spoken_wav(MIC))
    runs = start_server(Path(tempfile.mkdtemp()), {})
    server = next(runs)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
                *CHROMIUM_ARGS, "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream", f"--use-file-for-fake-audio-capture={mic}"])
            for who, options in (
                ("desktop", {"viewport": {"width": 1280, "height": 800}}),
                ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True,
                           "has_touch": True}),
            ):
                context = browser.new_context(permissions=["microphone"], **options)
                context.set_default_timeout(20_000)
                page, _ = sign_up(context, server, f"Walker {who.title()}")
                walk.watch(page, who)
                try:
                    session(walk, page, who, server.url, audio, who == "phone")
                except Exception as exc:  # report what stopped the walk, with a picture
                    walk.note(who, f"walk stopped: {type(exc).__name__}: {str(exc)[:500]}")
                    walk.shot(page, f"{who}-stopped")
                context.close()
            browser.close()
    finally:
        runs.close()
    busiest = [f"{n} x {k}" for k, n in walk.requests.most_common(12)]
    (out / "findings.json").write_text(json.dumps(
        {"findings": walk.findings, "requests": busiest}, indent=2))
    print("\nRequests:", *busiest, sep="\n  ")
    print(f"\n{len(walk.findings)} findings; screenshots in {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "walk-artifacts"))
