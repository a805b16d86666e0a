"""The recordings page in Chromium: upload spoken audio, see it transcribed without reloading,
search a spoken word and land on that moment of the audio; accessible, and usable at phone
width. The server is `collab serve` with its embedded offline engine."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from tests.audio_samples import encoded, spoken_wav
from tests.browser.checks import assert_accessible
from tests.browser.harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server
from tests.browser.test_notes_page import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXT = "Please bring your notebook and a pencil. We will discuss pricing for haircuts."


def test_upload_transcribe_search_and_play_from_the_word(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    audio = encoded(spoken_wav(TEXT), "webm")
    page, _ = sign_up(new_context(), server, "Rae Recorder")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.get_by_role("navigation", name="Areas").get_by_role("link", name="Recordings").click()
    expect(page.get_by_role("heading", name="Recordings", level=1)).to_be_visible()
    expect(page.get_by_text("No recordings yet.")).to_be_visible()
    assert_accessible(page, "/recordings, empty")

    page.locator("input[type=file]").set_input_files(
        {"name": "memo.webm", "mimeType": "audio/webm", "buffer": audio}
    )
    expect(page.get_by_label("Title")).to_have_value("memo")
    page.get_by_label("Title").fill("Workshop memo")
    page.get_by_role("button", name="Upload").click()

    recordings = page.get_by_role("list", name="My recordings")
    expect(recordings.get_by_role("button", name=re.compile("Workshop memo"))).to_be_visible()
    # Transcribed in the background; the page hears it on the feed (no reload, no polling).
    lines = page.get_by_role("list", name="Transcript")
    expect(lines.get_by_text("pencil", exact=False)).to_be_visible(timeout=90_000)
    expect(recordings.get_by_text("Transcribed")).to_be_visible()
    listed = [u for u in requests if u.endswith("/api/workbook/audio?limit=100")]
    assert len(listed) <= 6, listed  # refetched on feed messages only, not on a timer
    assert_accessible(page, "/recordings with a transcript")

    page.get_by_label("Search transcripts").fill("pricing")
    hit = page.get_by_role("list", name="Search results").get_by_role("button").first
    expect(hit).to_contain_text("Workshop memo")
    expect(hit.locator("mark")).to_have_text("pricing")
    hit.click()
    expect(page).to_have_url(re.compile(r"/recordings\?r=[0-9a-f-]+&t=\d"))
    start = float(re.search(r"t=([\d.]+)", page.url).group(1))  # type: ignore[union-attr]
    assert start > 2.0  # the second sentence
    player = page.locator("audio")
    page.wait_for_function(
        "([el, t]) => el.currentTime >= t - 0.01", arg=[player.element_handle(), start]
    )
    active = lines.locator("li[aria-current=true]")
    expect(active).to_contain_text("pricing")
    page.screenshot(path=str(ARTIFACTS / "recordings.png"), full_page=True)

    # Correct a line: the correction is what search finds from then on.
    active.get_by_role("button", name=re.compile("Edit the line")).click()
    page.get_by_label("Corrected text").fill("We will discuss prices for haircuts")
    page.get_by_role("button", name="Save").click()
    expect(lines).to_contain_text("We will discuss prices for haircuts")
    page.get_by_label("Search transcripts").fill("prices")
    expect(page.get_by_role("list", name="Search results").locator("mark")).to_have_text(
        "prices"
    )

    # Copy the transcript into a note: one line a segment with its time, then the note opens.
    page.get_by_role("button", name="Copy to a note").click()
    expect(page).to_have_url(re.compile(r"/notes/[0-9a-f-]+$"))
    editor = page.locator(".ProseMirror")
    expect(editor).to_contain_text(re.compile(r"\[0:0\d\] .*prices for haircuts"))
    expect(page.locator("#notes-list")).to_contain_text("Transcript: Workshop memo")

    # The notes search finds the spoken word too: opening that moment plays the recording there.
    page.locator("#note-search").fill("haircuts")
    moment = page.locator(".moment-item").first
    expect(moment).to_contain_text("Workshop memo")
    expect(moment.locator("mark")).to_have_text("haircuts")
    page.screenshot(path=str(ARTIFACTS / "notes-search-moments.png"), full_page=True)
    moment.click()
    expect(page).to_have_url(re.compile(r"/recordings\?r=[0-9a-f-]+(&t=[\d.]+)?$"))
    at = re.search(r"t=([\d.]+)", page.url)
    said = float(at.group(1)) if at else 0.0
    page.wait_for_function(
        "([el, t]) => el.readyState >= 1 && el.currentTime >= t - 0.01",
        arg=[page.locator("audio").element_handle(), said],
    )
    expect(lines.locator("li[aria-current=true]")).to_contain_text("haircuts")

    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No recordings yet.")).to_be_visible()


def test_phone_width_and_a_refused_file(
    server: Server, new_context: Callable[..., Any]
) -> None:
    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page, _ = sign_up(phone, server, "Pia Phone")
    page.goto(f"{server.url}/recordings")
    expect(page.get_by_role("heading", name="Recordings", level=1)).to_be_visible()
    page.locator("input[type=file]").set_input_files(
        {"name": "notes.mp3", "mimeType": "audio/mpeg", "buffer": b"not audio at all " * 40}
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_text(re.compile("not a recording in a supported format"))).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    assert_accessible(page, "/recordings at phone width")


@pytest.fixture(scope="module")
def fake_microphone(browser: Browser) -> Iterator[Browser]:
    """A second Chromium (same Playwright) whose microphone is its built-in test tone, granted
    without a prompt."""
    instance = browser.browser_type.launch(executable_path=CHROMIUM, args=[
        *CHROMIUM_ARGS, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    ])
    yield instance
    instance.close()


def test_record_pause_resume_and_upload_from_the_microphone(
    server: Server, fake_microphone: Browser, new_context: Callable[..., BrowserContext]
) -> None:
    context = fake_microphone.new_context(viewport={"width": 1280, "height": 800},
                                          permissions=["microphone"])
    context.set_default_timeout(15_000)
    try:
        page, _ = sign_up(context, server, "Mo Mic")
        page.goto(f"{server.url}/recordings")
        page.get_by_role("button", name="Record").click()
        expect(page.get_by_text("Recording…")).to_be_visible()
        page.wait_for_function(
            "() => document.querySelector('meter.rec-level')?.value > 0.01"
        )  # the level meter moves with the test tone
        page.get_by_role("button", name="Pause").click()
        expect(page.get_by_text("Paused")).to_be_visible()
        page.get_by_role("button", name="Resume").click()
        expect(page.locator(".rec-clock")).to_have_text(re.compile(r"0:0[2-9]"))
        page.get_by_role("button", name="Stop and upload").click()
        recordings = page.get_by_role("list", name="My recordings")
        expect(recordings.get_by_role("button", name=re.compile("Recording"))).to_be_visible()
        expect(recordings).to_contain_text("webm")
        expect(recordings).to_contain_text(re.compile(r"0:0[1-9]"))  # duration from the bytes
    finally:
        context.close()

    # Refused: said in words, nothing uploaded.
    refused = new_context()  # the shared browser: no fake device, no permission granted
    page, _ = sign_up(refused, server, "No Mic")
    page.goto(f"{server.url}/recordings")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile("Microphone access was refused|No microphone was found|cannot record")
    )
    expect(page.get_by_text("No recordings yet.")).to_be_visible()


def test_a_recording_whose_upload_fails_offline_is_kept_for_later(
    server: Server, fake_microphone: Browser
) -> None:
    """At phone width: recorded while the network dropped, the recording is not lost; uploaded
    once back online, and its player is brought into view."""
    context = fake_microphone.new_context(viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True,
                                          permissions=["microphone"])
    context.set_default_timeout(15_000)
    try:
        page, _ = sign_up(context, server, "Ola Offline")
        page.goto(f"{server.url}/recordings")
        page.get_by_role("button", name="Record").click()
        expect(page.locator(".rec-clock")).to_have_text(re.compile(r"0:0[2-9]"))
        context.set_offline(True)
        page.get_by_role("button", name="Stop and upload").click()
        expect(page.get_by_text("You are offline: upload again when you are back online")
               ).to_be_visible()
        expect(page.locator(".rec-drop")).to_contain_text(re.compile(r"recording-.+\.webm"))
        expect(page.get_by_text("No recordings yet.")).to_be_visible()
        page.get_by_label("Search transcripts").fill("anything")
        expect(page.get_by_text("You are offline: searching needs the server.")).to_be_visible()

        context.set_offline(False)
        page.get_by_label("Search transcripts").fill("")
        page.get_by_role("button", name="Upload").click()
        recordings = page.get_by_role("list", name="My recordings")
        expect(recordings.get_by_role("button", name=re.compile("Recording"))).to_be_visible()
        expect(page.locator("audio")).to_be_in_viewport()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways at phone width ({width}px)"
    finally:
        context.close()
