"""The room page's shared notes, private session notes, agenda and timer, Leave, and the upvote
state after a reload, in a real browser: a host and an attendee in separate contexts.

One scenario: the host prepares the agenda in the lobby, starts, runs an item and a countdown
the attendee sees; both write the shared notes (kept over a reload); the attendee's upvote is
still shown after a reload; she keeps a private note for the session, found in the notes list
under the session's filter; Leave records the leave over REST; the end makes the notes
read-only and the export carries them. Screenshots at desktop and phone width.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import Server
from tests.browser.test_live_session_page import make_host, question_item
from tests.browser.test_notes_page import SYNC_TIMEOUT, sign_up

pytestmark = pytest.mark.browser

TITLE = "Roadmap review"


def shared_notes(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("textbox", name="Shared notes")


def write_line(page: Page, text: str) -> None:
    box = shared_notes(page)
    box.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Enter")
    page.keyboard.type(text)


def test_shared_notes_private_notes_agenda_timer_and_leave(
    server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    host_ctx, ada_ctx = new_context(), new_context()
    host, host_email = sign_up(host_ctx, server, "Hanna Host")
    ada, _ = sign_up(ada_ctx, server, "Ada Attendee")
    make_host(host, server, host_email)
    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill(TITLE)
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    room_url = host.url
    session_id = room_url.rsplit("/", 1)[-1]

    # the lobby: the host prepares the agenda; the attendee sees it before the start
    agenda = host.locator(".panel-agenda")
    agenda.get_by_role("button", name="Add agenda").click()
    host.get_by_label("Item 1 title").fill("Wins of the quarter")
    host.get_by_label("Item 1 minutes").fill("5")
    agenda.get_by_role("button", name="Add item").click()
    host.get_by_label("Item 2 title").fill("Risks")
    host.get_by_label("Item 2 minutes").fill("10")
    agenda.get_by_role("button", name="Save agenda").click()
    # Ada's device clock is 10 minutes slow: the countdown still follows the server's clock
    ada.clock.install(time=time.time() - 600)
    ada.goto(room_url)
    expect(ada.locator(".panel-agenda .agenda li")).to_have_text(
        [re.compile("Wins of the quarter"), re.compile("Risks")], timeout=SYNC_TIMEOUT
    )
    expect(ada.locator(".panel-agenda").get_by_role("button")).to_have_count(0)  # no controls

    host.get_by_role("button", name="Start session").click()
    for page in (host, ada):
        expect(page.locator("main.room-page")).to_have_attribute("data-status", "live")

    # the host runs the first item and a countdown: the attendee sees both
    agenda.get_by_role("button", name="Start: Wins of the quarter").click()
    expect(ada.locator(".agenda-now")).to_contain_text("Wins of the quarter")
    agenda.get_by_role("button", name="Time it: Wins of the quarter").click()
    expect(ada.locator("#room-timer")).to_contain_text(re.compile(r"⏱ [45]:\d\d"))
    expect(ada.locator("#room-timer")).to_contain_text("Wins of the quarter")
    expect(ada.locator("#agenda-timer .timer-digits")).to_have_text(re.compile(r"^[45]:\d\d$"))
    agenda.get_by_role("button", name="Stop timer").click()
    expect(ada.locator("#room-timer")).to_have_count(0)

    # both write the shared notes; each sees the other's line, and a reload keeps them
    write_line(host, "Host: revenue up 12%")
    write_line(ada, "Ada: hiring is the main risk")
    for page in (host, ada):
        expect(shared_notes(page)).to_contain_text("revenue up 12%", timeout=SYNC_TIMEOUT)
        expect(shared_notes(page)).to_contain_text("hiring is the main risk", timeout=SYNC_TIMEOUT)
    expect(ada.locator("#shared-notes-sync")).to_have_text("Saved", timeout=SYNC_TIMEOUT)

    # Ada upvotes a question; after a reload the page still shows her upvote (from the server)
    host.get_by_label("Your question").fill("When do we ship the API?")
    host.get_by_role("button", name="Ask", exact=True).click()
    question_item(ada, "ship the API").get_by_role("button", name="Upvote").click()
    expect(question_item(ada, "ship the API").locator(".upvotes")).to_have_text("1")
    ada.reload()
    expect(shared_notes(ada)).to_contain_text("hiring is the main risk", timeout=SYNC_TIMEOUT)
    upvote = question_item(ada, "ship the API").get_by_role("button", name="Upvote")
    expect(upvote).to_have_attribute("aria-pressed", "true", timeout=SYNC_TIMEOUT)
    expect(upvote).to_be_disabled()
    expect(question_item(host, "ship the API").get_by_role("button", name="Upvote")).to_be_enabled()

    host.screenshot(path=str(artifacts / "room-notes.png"), full_page=True)
    assert_accessible(host, "room with notes and agenda (host)")
    host.set_viewport_size({"width": 1024, "height": 800})
    host.locator(".room-side").screenshot(path=str(artifacts / "room-side-tablet.png"))
    host.set_viewport_size({"width": 390, "height": 844})
    host.locator(".room-tabs").get_by_role("button", name="Agenda").click()
    expect(host.get_by_role("button", name="Start timer")).to_be_visible()
    assert host.evaluate("document.documentElement.scrollWidth") <= 390
    host.screenshot(path=str(artifacts / "room-agenda-host-phone.png"), full_page=True)
    host.set_viewport_size({"width": 1280, "height": 800})

    # a private note for the session, from the room: opened in a new tab, in the notes list
    with ada_ctx.expect_page() as opened:
        ada.get_by_role("button", name="New private note").click()
    note = opened.value
    expect(note).to_have_url(re.compile(rf"/notes/[0-9a-f-]{{36}}\?session={session_id}$"))
    expect(note.get_by_label("Note title")).to_have_value(f"My notes: {TITLE}")
    expect(note.locator("#session-filter")).to_be_visible()
    expect(note.locator("#notes-list")).to_contain_text(f"My notes: {TITLE}")
    expect(note.locator("#notes-list .note-item")).to_have_count(1)
    expect(note.locator("#note-session-link")).to_have_attribute("href", f"/sessions/{session_id}")
    note.get_by_role("textbox", name="Note content").click()
    note.keyboard.type("Ask Hanna about the API date")
    note.get_by_role("button", name="Show all notes").click()
    expect(note.locator("#session-filter")).to_have_count(0)
    expect(note.locator("#notes-list")).to_contain_text("live session")
    expect(ada.locator(".panel-mynotes .my-notes")).to_contain_text(f"My notes: {TITLE}")
    note.close()

    # phone width: agenda and notes are tabs of their own
    ada.set_viewport_size({"width": 390, "height": 844})
    tabs = ada.locator(".room-tabs")
    tabs.get_by_role("button", name="Notes").click()
    expect(shared_notes(ada)).to_be_visible()
    expect(ada.locator(".panel-chat")).to_be_hidden()
    assert ada.evaluate("document.documentElement.scrollWidth") <= 390
    ada.screenshot(path=str(artifacts / "room-notes-phone.png"), full_page=True)
    tabs.get_by_role("button", name="Agenda").click()
    expect(ada.locator(".panel-agenda")).to_be_visible()
    expect(shared_notes(ada)).to_be_hidden()
    ada.screenshot(path=str(artifacts / "room-agenda-phone.png"), full_page=True)
    assert_accessible(ada, "room agenda at phone width")
    ada.set_viewport_size({"width": 1280, "height": 800})

    # Leave records the leave over REST, then goes to the sessions list
    with ada.expect_response(
        lambda r: r.url.endswith(f"/sessions/{session_id}/leave") and r.request.method == "POST"
    ) as left:
        ada.get_by_role("button", name="Leave").click()
    assert left.value.status == 200
    expect(ada).to_have_url(re.compile(r"/sessions$"))

    # the end: the shared notes turn read-only; the export carries them
    host.get_by_role("button", name="End session").click()
    host.get_by_role("button", name="Confirm: end for everyone").click()
    expect(host.locator("#ended-banner")).to_be_visible()
    expect(shared_notes(host)).to_have_attribute("contenteditable", "false")
    expect(host.locator(".panel-notes")).to_contain_text("the notes are read-only")
    with host.expect_download() as download:
        host.locator("#ended-banner").get_by_role("button", name="JSON").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert "revenue up 12%" in exported["notes"]
    assert "hiring is the main risk" in exported["notes"]
