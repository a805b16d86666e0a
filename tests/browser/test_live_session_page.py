"""The live sessions pages in a real browser: a host and two attendees run a workshop room.

One scenario (the room's state carries from step to step): schedule, wait, start, a poll, a Q&A
round, a forged host action, reconnects, end, export; axe on both pages; the phone layout.
Waits are Playwright's auto-waiting assertions, each bounded by a deadline; nothing sleeps.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import Server
from tests.browser.test_notes_page import SYNC_TIMEOUT, sign_up

pytestmark = pytest.mark.browser

QUESTION = "Which pricing tier should we launch first?"
OPTIONS = ["Basic", "Premium", "Team"]

# Records every WebSocket the page opens, so the test can send a frame the page never would.
CAPTURE_SOCKETS = """
window.__sockets = []
const Native = window.WebSocket
window.WebSocket = class extends Native {
  constructor(...args) { super(...args); window.__sockets.push(this) }
}
"""

# A stateless message (type 100, status 0, a varstring) on the page's open room socket.
FORGE = """(payload) => {
  const ws = window.__sockets
    .filter(s => s.url.includes('/collab/sessions/') && s.readyState === 1)
    .pop()
  const bytes = new TextEncoder().encode(payload)
  const length = []
  let n = bytes.length
  while (n > 127) { length.push(0x80 | (n & 127)); n >>= 7 }
  length.push(n)
  ws.send(new Uint8Array([100, 0, ...length, ...bytes]))
}"""


def make_host(page: Page, server: Server, email: str) -> None:
    """Give the account the `premium` role (sessions.host); a reload refreshes its token."""
    with sqlite3.connect(server.data_dir / "collab.db", timeout=10) as db:
        changed = db.execute("UPDATE users SET role = 'premium' WHERE email = ?", (email,))
        assert changed.rowcount == 1
    page.goto(f"{server.url}/sessions")
    expect(page.get_by_role("button", name="Schedule a session")).to_be_visible()


def poll_card(page: Page) -> Locator:
    return page.locator("li.poll").filter(has_text=QUESTION)


def question_item(page: Page, text: str) -> Locator:
    return page.locator("li.question").filter(has_text=text)


def vote(page: Page, option: str) -> None:
    card = poll_card(page)
    card.get_by_label(option, exact=True).check()
    card.get_by_role("button", name=re.compile(r"^(Vote|Change vote)$")).click()


def expect_results(page: Page, counts: list[int]) -> None:
    card = poll_card(page)
    for i, n in enumerate(counts):
        expect(card.locator(f".poll-result[data-option='{i}'] .poll-count")).to_have_text(
            "1 vote" if n == 1 else f"{n} votes", timeout=SYNC_TIMEOUT
        )
    expect(card.locator(".voters")).to_have_text(f"{sum(counts)} voted")  # single choice


def test_a_host_and_two_attendees_run_a_live_session(
    server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    host_ctx, ada_ctx, bob_ctx = new_context(), new_context(), new_context()
    bob_ctx.add_init_script(CAPTURE_SOCKETS)
    host, host_email = sign_up(host_ctx, server, "Hanna Host")
    ada, _ = sign_up(ada_ctx, server, "Ada Attendee")
    bob, _ = sign_up(bob_ctx, server, "Bob Attendee")
    make_host(host, server, host_email)

    # attendees do not get the schedule control
    ada.goto(f"{server.url}/sessions")
    expect(ada.get_by_role("heading", name="Live sessions", exact=True)).to_be_visible()
    expect(ada.get_by_role("button", name="Schedule a session")).to_have_count(0)

    # the host schedules; the room waits until the host starts it
    host.get_by_role("button", name="Schedule a session").click()
    host.get_by_label("Session title").fill("Pricing workshop")
    host.get_by_label("Description").fill("Decide the launch tier together.")
    host.get_by_role("button", name="Schedule", exact=True).click()
    expect(host).to_have_url(re.compile(r"/sessions/[0-9a-f-]{36}$"))
    room_url = host.url
    expect(host.get_by_text("Waiting for the host to start the session.")).to_be_visible(
        timeout=SYNC_TIMEOUT
    )
    host.goto(f"{server.url}/sessions")
    expect(host.get_by_role("link", name="Join Pricing workshop")).to_be_visible()
    assert_accessible(host, "sessions list")
    host.goto(room_url)

    for attendee in (ada, bob):
        attendee.goto(room_url)
        expect(attendee.get_by_text("Stay here: the room opens by itself.")).to_be_visible(
            timeout=SYNC_TIMEOUT
        )
        expect(attendee.get_by_role("button", name="Start session")).to_have_count(0)
    expect(host.locator(".person").filter(has_text="Bob Attendee")).to_be_visible()

    host.get_by_role("button", name="Start session").click()
    for page in (host, ada, bob):
        expect(page.locator("main.room-page")).to_have_attribute("data-status", "live")

    # the host creates and opens a poll; attendees have no such control
    host.get_by_label("Poll question").fill(QUESTION)
    host.get_by_label("Options (one per line, 2 to 10)").fill("\n".join(OPTIONS))
    host.get_by_role("button", name="Create poll").click()
    poll_card(host).get_by_role("button", name="Open poll").click()
    for attendee in (ada, bob):
        expect(poll_card(attendee)).to_have_attribute("data-status", "open")
        expect(attendee.get_by_role("button", name="Create poll")).to_have_count(0)
        expect(attendee.get_by_label("Poll question")).to_have_count(0)

    # a poll.create forged on Bob's own socket is refused, and the page says why
    bob.evaluate(
        FORGE,
        json.dumps(
            {
                "id": "forged-1",
                "action": "poll.create",
                "question": "Forged?",
                "options": ["a", "b"],
            }
        ),
    )
    expect(bob.locator("#room-notice")).to_contain_text("Only the host can do that.")
    bob.locator("#room-notice").get_by_role("button", name="Dismiss").click()

    # everyone votes; Bob changes his vote (one vote per user, the tally stays exact)
    vote(host, "Premium")
    vote(ada, "Premium")
    vote(bob, "Basic")
    expect(poll_card(bob)).to_contain_text("you voted")
    vote(bob, "Team")
    expect(poll_card(host).locator(".voters")).to_have_text("3 voted")
    # before publishing only the host can see the count
    poll_card(host).get_by_role("button", name="Peek at count").click()
    expect_results(host, [0, 2, 1])
    expect(poll_card(ada).locator(".poll-result")).to_have_count(0)
    poll_card(host).get_by_role("button", name="Publish results").click()
    poll_card(host).get_by_role("button", name="Close poll").click()
    for page in (host, ada, bob):
        expect(poll_card(page)).to_have_attribute("data-status", "closed")
        expect_results(page, [0, 2, 1])

    # a Q&A round: ask (one anonymously), upvote once each, the host marks one answered
    ada.get_by_label("Your question").fill("Do annual plans get a discount?")
    ada.get_by_role("button", name="Ask", exact=True).click()
    bob.get_by_label("Your question").fill("Can teams share seats?")
    bob.get_by_label("Ask anonymously").check()
    bob.get_by_role("button", name="Ask", exact=True).click()
    for page in (host, bob):
        question_item(page, "annual plans").get_by_role("button", name="Upvote").click()
    expect(question_item(bob, "annual plans").get_by_role("button", name="Upvote")).to_be_disabled()
    for page in (host, ada, bob):
        expect(question_item(page, "annual plans").locator(".upvotes")).to_have_text("2")
        expect(question_item(page, "share seats")).to_contain_text("Anonymous")
        expect(question_item(page, "share seats")).not_to_contain_text("Bob")
        # sorted by votes: the upvoted question first
        expect(page.locator("li.question").first).to_contain_text("annual plans")
    question_item(host, "annual plans").get_by_role("button", name="Mark answered").click()
    for page in (host, ada, bob):
        expect(question_item(page, "annual plans")).to_contain_text("Answered")

    # chat, a raised hand in the host's queue
    ada.get_by_label("Message", exact=True).fill("Premium looks right to me")
    ada.get_by_label("Message", exact=True).press("Enter")
    ada.get_by_role("button", name="Raise hand").click()
    expect(host.locator(".hand-queue")).to_contain_text("Ada Attendee")
    # presence: who is here (awareness, stamped by the server); media: test_room_media_page.py
    ada_row = host.locator(".person").filter(has_text="Ada Attendee")
    expect(ada_row).to_contain_text("Hand 1")
    expect(host.locator(".person").filter(has_text="Bob Attendee")).to_contain_text("online")
    expect(host.locator(".chat-list")).to_contain_text("Premium looks right to me")
    host.screenshot(path=str(artifacts / "room.png"))
    assert_accessible(host, "room (host)")
    assert_accessible(bob, "room (attendee)")

    # Ada closes the page and comes back: the current state, including her own vote
    ada.close()
    ada = ada_ctx.new_page()
    ada.goto(room_url)
    expect_results(ada, [0, 2, 1])
    expect(poll_card(ada)).to_contain_text("you voted")
    expect(question_item(ada, "annual plans")).to_contain_text("Answered")
    expect(ada.get_by_role("button", name="Lower hand")).to_be_visible()

    # Bob goes offline and back: he catches up with what was said meanwhile
    bob_ctx.set_offline(True)
    expect(bob.locator("main.room-page")).to_have_attribute("data-conn", "offline")
    host.get_by_label("Message", exact=True).fill("Said while Bob was away")
    host.get_by_role("button", name="Send").click()
    bob_ctx.set_offline(False)
    expect(bob.locator(".chat-list")).to_contain_text(
        "Said while Bob was away", timeout=SYNC_TIMEOUT
    )

    # phone width: the panels become tabs
    bob.set_viewport_size({"width": 390, "height": 844})
    bob.locator(".room-tabs").get_by_role("button", name="Polls").click()
    expect(poll_card(bob)).to_be_visible()
    expect(bob.locator(".panel-chat")).to_be_hidden()
    host.get_by_label("Message", exact=True).fill("One more thing")
    host.get_by_role("button", name="Send").click()
    expect(bob.locator(".room-tabs")).to_contain_text("1 new")
    assert bob.evaluate("document.documentElement.scrollWidth") <= 390
    bob.screenshot(path=str(artifacts / "room-phone.png"))
    assert_accessible(bob, "room at phone width")

    # host controls: Bob becomes co-host (on his open connection), Ada is removed
    bob.set_viewport_size({"width": 1280, "height": 800})
    host.get_by_role("button", name="Make co-host: Bob Attendee").click()
    expect(bob.get_by_text("you are co-host")).to_be_visible()
    expect(bob.get_by_role("button", name="Create poll")).to_be_visible()
    host.get_by_role("button", name="Remove Ada Attendee").click()
    expect(ada.get_by_role("alert")).to_contain_text("You were removed from this session")
    expect(host.locator(".person").filter(has_text="Ada Attendee")).to_have_count(0)

    # the host ends the session: read-only for everyone, export for the host
    host.get_by_role("button", name="End session").click()
    host.get_by_role("button", name="Confirm: end for everyone").click()
    for page in (host, bob):
        expect(page.locator("#ended-banner")).to_contain_text("This session has ended.")
        expect(page.get_by_label("Message", exact=True)).to_be_disabled()
    expect(host.get_by_role("button", name="Publish results")).to_have_count(0)
    with host.expect_download() as download:
        host.locator("#ended-banner").get_by_role("button", name="JSON").click()
    exported = json.loads(Path(download.value.path()).read_text())
    assert [[int(n) for n in p["results"]] for p in exported["polls"]] == [[0, 2, 1]]
    assert {q["text"] for q in exported["questions"]} == {
        "Do annual plans get a discount?",
        "Can teams share seats?",
    }
