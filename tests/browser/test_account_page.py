"""The account page: a password change keeps this browser signed in and signs the other one
out; "sign out everywhere" signs out both, and the old tokens open nothing."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import PASSWORD, Server
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser


def sign_in(context: BrowserContext, server: Server, email: str, password: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="New note")).to_be_visible()
    return page


def open_account(page: Page) -> None:
    page.get_by_role("link", name="Account").click()
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()


def test_a_password_change_signs_out_the_other_browser(
    server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    laptop, email = sign_up(new_context(), server, "Pat Account")
    phone = sign_in(new_context(viewport={"width": 390, "height": 844}), server, email, PASSWORD)
    open_account(laptop)
    assert_accessible(laptop, "account page")
    laptop.get_by_label("Current password").fill("not my password")
    laptop.get_by_label("New password", exact=True).fill("a brand new password")
    laptop.get_by_label("New password again").fill("a brand new password")
    laptop.get_by_role("button", name="Change password").click()
    expect(laptop.locator("#currentPassword-error")).to_have_text(
        "This is not your current password."
    )

    laptop.get_by_label("Current password").fill(PASSWORD)
    laptop.get_by_role("button", name="Change password").click()
    expect(laptop.get_by_text("Password changed.")).to_be_visible()
    laptop.get_by_role("link", name="Notes").click()
    expect(laptop.get_by_role("button", name="New note")).to_be_visible()  # still signed in
    laptop.reload()
    expect(laptop.get_by_role("button", name="New note")).to_be_visible()

    phone.reload()
    expect(phone).to_have_url(f"{server.url}/login", timeout=15_000)
    sign_in(phone.context, server, email, "a brand new password")


def test_sign_out_everywhere_ends_both_browsers(
    server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    laptop, email = sign_up(new_context(), server, "Sam Everywhere")
    phone = sign_in(new_context(viewport={"width": 390, "height": 844}), server, email, PASSWORD)
    open_account(phone)
    phone.screenshot(path=str(artifacts / "account-phone.png"), full_page=True)
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Sign out everywhere").click()
    expect(phone).to_have_url(f"{server.url}/login")
    laptop.reload()
    expect(laptop).to_have_url(f"{server.url}/login", timeout=15_000)


def test_download_my_data_then_delete_the_account(
    server: Server, new_context: Callable[..., BrowserContext], tmp_path: Path
) -> None:
    page, email = sign_up(new_context(), server, "Dana Leaving")
    page.get_by_role("button", name="New note").click()
    expect(page).to_have_url(re.compile(r"/notes/[0-9a-f-]+$"))
    page.get_by_label("Note title").fill("Packing list")
    page.get_by_label("Note title").press("Enter")
    expect(page.locator("#notes-list")).to_contain_text("Packing list")
    open_account(page)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    saved = tmp_path / "export.zip"
    download.value.save_as(saved)
    names = zipfile.ZipFile(saved).namelist()
    assert "account.json" in names
    # The note is in it (its file name follows the title the server has stored by then: the
    # rename reaches the database a moment after the list shows it).
    assert len([n for n in names if n.startswith("notes/") and n.endswith(".md")]) == 1
    expect(page.get_by_text("Your export was downloaded.")).to_be_visible()

    page.get_by_label("Password", exact=True).fill("wrong password")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#deletePassword-error")).to_have_text("This is not your password.")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url(f"{server.url}/login")
    expect(page.locator(".auth-notice")).to_have_text("Your account was deleted.")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")


def test_the_other_device_is_told_why_it_was_signed_out(
    server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    """Sign out everywhere from a phone: offline it says so beside the button and changes
    nothing; online the phone's sign-in page says what happened, and the laptop, left alone on
    its notes (no reload), goes to the sign-in page by itself and says why."""
    laptop, email = sign_up(new_context(), server, "Lee Twodevices")
    phone_context = new_context(viewport={"width": 390, "height": 844})
    phone = sign_in(phone_context, server, email, PASSWORD)
    open_account(phone)
    phone_context.set_offline(True)
    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Sign out everywhere").click()
    expect(phone.get_by_role("alert").filter(has_text="You are offline.")).to_be_visible()
    phone_context.set_offline(False)
    expect(laptop.get_by_role("button", name="New note")).to_be_visible()  # nothing ended

    phone.once("dialog", lambda dialog: dialog.accept())
    phone.get_by_role("button", name="Sign out everywhere").click()
    expect(phone).to_have_url(f"{server.url}/login")
    expect(phone.locator(".auth-notice")).to_have_text("You were signed out on every device.")
    expect(laptop).to_have_url(f"{server.url}/login", timeout=20_000)
    expect(laptop.locator(".auth-notice")).to_contain_text("You were signed out on this device")
    laptop.screenshot(path=str(artifacts / "account-signed-out-elsewhere.png"))
