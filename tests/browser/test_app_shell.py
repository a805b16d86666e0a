"""The app around the notes: real URLs, the shell, 404, accessibility, keyboard use, budget.

Each scenario drives Debian's Chromium against a real `collab serve` (see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.checks import (
    assert_accessible,
    budget_kib,
    first_load_files,
    first_load_gzip_kib,
)
from tests.browser.harness import PASSWORD, Server
from tests.browser.test_notes_page import SYNC_TIMEOUT, create_note, share, sign_up

pytestmark = pytest.mark.browser


def test_deep_links_back_forward_and_the_404_page(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    ctx = new_context()
    ada, _ = sign_up(ctx, server, "Ada Lovelace")
    note_id = create_note(ada, "Deep linked")

    # a deep link opens the note directly (the server answers index.html for app paths)
    page = ctx.new_page()
    page.goto(f"{server.url}/notes/{note_id}")
    expect(page.get_by_label("Note title")).to_have_value("Deep linked")
    expect(page.locator("#sync-status")).to_have_attribute(
        "data-state", "saved", timeout=SYNC_TIMEOUT
    )
    nav = page.get_by_role("navigation", name="Areas")
    nav.get_by_role("link", name="Courses").click()
    expect(page).to_have_url(f"{server.url}/courses")
    expect(page.get_by_role("heading", name="Courses", level=1)).to_be_visible()
    nav.get_by_role("link", name="Live sessions").click()
    expect(page.get_by_role("heading", name="Live sessions", exact=True)).to_be_visible()
    nav.get_by_role("link", name="Recordings").click()
    expect(page.get_by_role("heading", name="Recordings", level=1)).to_be_visible()

    page.go_back()
    expect(page).to_have_url(f"{server.url}/sessions")
    page.go_back()
    page.go_back()
    expect(page).to_have_url(f"{server.url}/notes/{note_id}")
    expect(page.get_by_label("Note title")).to_have_value("Deep linked")
    page.go_forward()
    expect(page).to_have_url(f"{server.url}/courses")

    # deep links to a module and a lesson that do not exist, and a page that does not exist
    page.goto(f"{server.url}/courses/6f1c1d9e-0000-4000-8000-000000000001")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("not found", re.I))
    page.goto(f"{server.url}/lessons/6f1c1d9e-0000-4000-8000-000000000002")
    expect(page.get_by_role("alert")).to_contain_text(re.compile("not found", re.I))
    response = page.goto(f"{server.url}/no/such/page")
    assert response is not None and response.status == 200  # the app answers; it says 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    page.get_by_role("link", name="Go to your notes").click()
    expect(page).to_have_url(f"{server.url}/notes")
    expect(page.locator("#notes-list")).to_contain_text("Deep linked")

    # the old hash URLs still lead to the same places
    page.goto(f"{server.url}/#/n/{note_id}")
    expect(page).to_have_url(f"{server.url}/notes/{note_id}")
    expect(page.get_by_label("Note title")).to_have_value("Deep linked")

    # signed out, a deep link asks to sign in and then goes where it pointed
    fresh = new_context().new_page()
    fresh.goto(f"{server.url}/notes/{note_id}")
    expect(fresh).to_have_url(f"{server.url}/login")


def test_no_serious_accessibility_violations_on_any_page(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    ctx = new_context()
    page = ctx.new_page()
    page.goto(f"{server.url}/login")
    expect(page.get_by_role("heading", name="Welcome back")).to_be_visible()
    assert_accessible(page, "sign-in page")
    page.goto(f"{server.url}/register")
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    assert_accessible(page, "register page")
    page.goto(f"{server.url}/nowhere")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    assert_accessible(page, "404 page")

    ada, _ = sign_up(ctx, server, "Ada Lovelace")
    _, grace_email = sign_up(new_context(), server, "Grace Hopper")
    expect(ada.get_by_role("heading", name="Pick a note or start a new one")).to_be_visible()
    assert_accessible(ada, "notes, nothing open")
    create_note(ada, "Accessible note")
    ada.keyboard.type("Some text.")
    ada.get_by_label("Add a tag").fill("workshop")
    ada.get_by_label("Add a tag").press("Enter")
    expect(ada.locator("#sync-status")).to_have_attribute(
        "data-state", "saved", timeout=SYNC_TIMEOUT
    )
    assert_accessible(ada, "note editor")
    share(ada, grace_email, "write")
    ada.get_by_role("button", name="Share").click()
    expect(ada.get_by_role("dialog")).to_be_visible()
    assert_accessible(ada, "share dialog")
    ada.get_by_role("dialog").get_by_role("button", name="Done").click()
    ada.get_by_role("button", name="History").click()
    expect(ada.get_by_role("dialog", name="Version history")).to_be_visible()
    assert_accessible(ada, "history dialog")
    ada.keyboard.press("Escape")
    ada.get_by_role("button", name="Export").click()
    expect(ada.get_by_role("menu")).to_be_visible()
    assert_accessible(ada, "export menu")
    ada.keyboard.press("Escape")
    ada.goto(f"{server.url}/courses")
    expect(ada.get_by_role("heading", name="Courses", level=1)).to_be_visible()
    assert_accessible(ada, "/courses")
    ada.goto(f"{server.url}/recordings")  # /sessions: tests/browser/test_live_session_page.py
    expect(ada.get_by_role("heading", name="Recordings", level=1)).to_be_visible()
    assert_accessible(ada, "/recordings")

    phone = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    small = phone.new_page()
    small.goto(f"{server.url}/login")
    assert_accessible(small, "sign-in page at phone width")
    pat, _ = sign_up(phone, server, "Pat Phone")
    assert_accessible(pat, "notes list at phone width")
    create_note(pat, "Phone note")
    assert_accessible(pat, "note editor at phone width")


def test_sign_in_and_write_with_the_keyboard_only(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    _, email = sign_up(new_context(), server, "Kay Board")
    page = new_context().new_page()
    page.goto(f"{server.url}/login")
    expect(page.get_by_label("Email")).to_be_focused()  # the form starts focused
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    new_note = page.get_by_role("button", name="New note")
    expect(new_note).to_be_visible()

    # Tab from the top of the page reaches "New note"; Enter creates a note
    page.locator("body").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if new_note.evaluate("el => el === document.activeElement"):
            break
    expect(new_note).to_be_focused()
    page.keyboard.press("Enter")
    title = page.get_by_label("Note title")
    expect(title).to_have_value("Untitled note")
    title.focus()  # the new note's title is the next thing to name
    page.keyboard.press("Control+a")
    page.keyboard.type("Typed without a mouse")
    page.keyboard.press("Enter")  # saves the title and moves into the document
    page.keyboard.type("Heading by keyboard")
    # the formatting toolbar: Shift+Tab from the document, then arrow keys between buttons
    toolbar = page.get_by_role("toolbar", name="Formatting")
    page.keyboard.press("Shift+Tab")
    expect(toolbar.get_by_role("button", name="Undo")).to_be_focused()
    for _ in range(2):
        page.keyboard.press("ArrowRight")
    expect(toolbar.get_by_role("button", name="Heading 1")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#note-editor .ProseMirror h1")).to_have_text("Heading by keyboard")
    expect(page.locator("#notes-list")).to_contain_text("Typed without a mouse")
    expect(page.locator("#sync-status")).to_have_attribute(
        "data-state", "saved", timeout=SYNC_TIMEOUT
    )


def test_first_load_stays_under_the_budget_and_sign_in_loads_no_editor(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    size = first_load_gzip_kib()
    budget = budget_kib()
    assert size <= budget, f"first-load JS is {size:.1f} KiB gzipped, over the {budget} KiB budget"

    page = new_context().new_page()
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(f"{server.url}/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    loaded = sorted({re.sub(r"^https?://[^/]+", "", url) for url in scripts})
    assert loaded == first_load_files(), loaded  # the sign-in page needs nothing more
    assert not any("NotePage" in url or "y-websocket" in url for url in loaded)
