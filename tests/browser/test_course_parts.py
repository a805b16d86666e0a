"""Courses in a real browser, continued: a lesson's parts (sub-lessons with videos of their own),
the save when the tab goes hidden, and the admin's edit/reorder/delete of modules, lessons and
sub-lessons. Same sample-course server and helpers as tests/browser/test_courses.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Dialog, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import Server
from tests.browser.test_courses import (
    ADMIN,
    ELEMENT,
    access_token,
    api,
    course_server,
    current_time,
    lesson_id_of,
    play_until,
    sign_in,
    stored,
    wait_ready,
)
from tests.browser.test_notes_page import sign_up

__all__ = ["course_server"]  # the module-scoped sample-course server, used by the tests here

pytestmark = pytest.mark.browser


def stored_part(server: Server, email: str, sub_lesson_id: str) -> dict[str, Any]:
    progress: dict[str, Any] = api(
        server, "GET", f"/api/progress/sub-lessons/{sub_lesson_id}", access_token(server, email)
    )["progress"]
    return progress


def test_a_part_plays_with_its_own_token_saves_its_own_progress_and_resumes(
    course_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page, email = sign_up(new_context(), course_server, "Paz Parts")
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Running a live workshop").click()
    lesson_id = lesson_id_of(page, "During the session")
    page.get_by_role("link", name="During the session", exact=True).click()
    parts = page.get_by_role("list", name="Parts")
    expect(parts.get_by_role("listitem")).to_have_count(2)
    expect(parts.get_by_role("listitem").first).to_contain_text("Not started")
    wait_ready(page)  # the lesson's own video
    assert_accessible(page, "/lessons/:lessonId (with parts)")
    href = parts.get_by_role("link", name="Polls").get_attribute("href")
    assert href and href.startswith(f"/lessons/{lesson_id}/parts/")
    part_id = href.rsplit("/", 1)[-1]

    parts.get_by_role("link", name="Polls").click()
    expect(page.get_by_role("heading", name="Polls", level=1)).to_be_visible()
    expect(page.get_by_text("Part 1 of 2 of During the session")).to_be_visible()
    wait_ready(page)
    src = page.evaluate(f"() => {ELEMENT}.getAttribute('src') || ''")
    assert "/mux-local/stream/sample-m2-l2-p1.m3u8?token=" in src
    assert current_time(page) < 1
    play_until(page, 7)
    left_at = current_time(page)
    # leave inside the app, while playing: the part's unmount save (page hide is
    # test_courses.py's first test; the same saver serves both)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role(
        "link", name="During the session"
    ).click()
    expect(page.get_by_role("heading", name="During the session", level=1)).to_be_visible()
    deadline = time.monotonic() + 10
    while (saved := stored_part(course_server, email, part_id))["positionSeconds"] < 6:
        assert time.monotonic() < deadline, f"leaving did not save the part: {saved}"
        time.sleep(0.2)
    assert abs(saved["positionSeconds"] - left_at) < 1.5, (saved, left_at)
    # the part's saves went to the sub-lesson's endpoint: the lesson's progress is untouched
    assert stored(course_server, email, lesson_id)["positionSeconds"] == 0

    # the lesson page shows where the part stands, and the part resumes there
    page.reload()
    expect(parts.get_by_role("listitem").first).to_contain_text("At 0:0")
    wait_ready(page)
    page.set_viewport_size({"width": 1280, "height": 1160})  # the page scrolls inside <main>
    page.screenshot(path=str(artifacts / "courses-lesson-parts.png"))
    page.set_viewport_size({"width": 1280, "height": 800})
    parts.get_by_role("link", name="Polls").click()
    wait_ready(page)
    start = current_time(page)
    assert saved["positionSeconds"] - 4.5 <= start <= saved["positionSeconds"] - 1.5, (start, saved)
    assert_accessible(page, "/lessons/:lessonId/parts/:subLessonId")

    # the next part, watched to the end, is completed and leads back to the lesson
    page.get_by_role("navigation", name="Parts").get_by_role("link", name="Next part").click()
    expect(page.get_by_role("heading", name="Questions", level=1)).to_be_visible()
    wait_ready(page)
    page.evaluate(f"() => {{ const p = {ELEMENT}; p.muted = true; p.playbackRate = 4; p.play() }}")
    done = page.get_by_test_id("completed")
    expect(done).to_contain_text("Completed", timeout=30_000)
    done.get_by_role("link", name="Back to the lesson").click()
    expect(parts.get_by_role("listitem").last).to_contain_text("Completed")


def test_progress_is_saved_when_the_tab_is_hidden(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    """Headless Chromium never hides a tab by itself (Playwright turns off backgrounding), so
    the test makes the document report `hidden` and fires `visibilitychange`, as the browser
    does when the user switches tabs. The page stays open (no page hide, no unmount), it keeps
    playing (no pause save), and all of it happens within the first 15 s of the player (before
    any periodic save), so only the hidden-tab save can have stored the position."""
    page, email = sign_up(new_context(), course_server, "Hal Hidden")
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    lesson_id = lesson_id_of(page, "Working offline")
    opened = time.monotonic()  # the saver's 15 s timer cannot start before this
    page.get_by_role("link", name="Working offline", exact=True).click()
    wait_ready(page)
    play_until(page, 4)
    assert stored(course_server, email, lesson_id)["positionSeconds"] == 0
    hidden_at = current_time(page)
    page.evaluate(
        """() => {
            const hidden = (name, value) =>
                Object.defineProperty(document, name, { value, configurable: true })
            hidden('visibilityState', 'hidden')
            hidden('hidden', true)
            document.dispatchEvent(new Event('visibilitychange'))
        }"""
    )
    deadline = time.monotonic() + 5
    while (saved := stored(course_server, email, lesson_id))["positionSeconds"] == 0:
        assert time.monotonic() < deadline, f"no save when the tab went hidden: {saved}"
        time.sleep(0.1)
    elapsed = time.monotonic() - opened
    assert elapsed < 15, f"{elapsed:.1f} s: too slow to tell this save from a periodic one"
    assert abs(saved["positionSeconds"] - hidden_at) < 1, (saved, hidden_at)
    assert saved["watchTimeSeconds"] > 2
    assert not page.evaluate(f"() => {ELEMENT}.paused")  # still playing: not a pause save


def test_an_admin_edits_reorders_and_deletes_modules_lessons_and_sub_lessons(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page = sign_in(new_context(), course_server, ADMIN)
    confirmed: list[str] = []

    def accept(dialog: Dialog) -> None:
        confirmed.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("button", name="New module").click()
    form = page.get_by_role("form", name="New module")
    form.get_by_label("Module title").fill("Facilitation drafts")
    form.get_by_role("button", name="Create module").click()
    expect(page.get_by_role("heading", name="Facilitation drafts", level=1)).to_be_visible()
    module_url = page.url

    # edit the module
    page.get_by_role("button", name="Edit module").click()
    edit = page.get_by_role("form", name="Edit module")
    edit.get_by_label("Module title").fill("Facilitation, edited")
    edit.get_by_label("Objectives (one a line)").fill("Hold a room")
    edit.get_by_role("button", name="Save module").click()
    expect(page.get_by_role("heading", name="Facilitation, edited", level=1)).to_be_visible()
    expect(edit).to_have_count(0)  # saved and closed
    expect(page.get_by_role("listitem").filter(has_text="Hold a room")).to_be_visible()

    # move it in the course order (the unfiltered list), down and back up
    page.goto(f"{course_server.url}/courses")
    titles = page.get_by_role("list", name="Modules").get_by_role("heading", level=2)
    expect(titles.filter(has_text="Facilitation, edited")).to_have_count(1)
    before = titles.all_text_contents()
    here = before.index("Facilitation, edited")
    assert here < len(before) - 1, before
    moved = [*before[:here], before[here + 1], before[here], *before[here + 2 :]]
    page.get_by_role("button", name="Move module Facilitation, edited down").click()
    expect(titles).to_have_text(moved)
    page.reload()
    expect(titles).to_have_text(moved)  # stored, not only shown
    page.get_by_role("button", name="Move module Facilitation, edited up").click()
    expect(titles).to_have_text(before)
    assert_accessible(page, "/courses (admin)")
    page.goto(module_url)

    # a lesson, then edited: new title and a playback id
    page.get_by_role("button", name="New lesson").click()
    new_lesson = page.get_by_role("form", name="New lesson")
    new_lesson.get_by_label("Lesson title").fill("Draft lesson")
    new_lesson.get_by_role("button", name="Add lesson").click()
    row = page.locator(".lesson-row").filter(has_text="Draft lesson")
    expect(row).to_contain_text("Video: none")
    page.get_by_role("button", name="Edit Draft lesson").click()
    lesson_form = page.get_by_role("form", name="Edit Draft lesson")
    lesson_form.get_by_label("Lesson title").fill("Opening the room")
    lesson_form.get_by_label("Mux playback id").fill("sample-m2-l2")
    lesson_form.get_by_label("Duration (seconds)").fill("22")
    lesson_form.get_by_role("button", name="Save lesson").click()
    row = page.locator(".lesson-row").filter(has_text="Opening the room")
    expect(row).to_contain_text("Video: sample-m2-l2")

    # sub-lessons: two added, reordered, one edited, one deleted
    add = page.get_by_role("form", name="Add a sub-lesson to Opening the room")
    for title, playback in (("Warm-up", "sample-m2-l2-p1"), ("Check-in", "")):
        add.get_by_label("Sub-lesson title").fill(title)
        add.get_by_label("Sub-lesson playback id").fill(playback)
        add.get_by_label("Sub-lesson duration (s)").fill("12" if playback else "0")
        add.get_by_role("button", name="Add sub-lesson").click()
        expect(page.locator(".admin-sub-title").filter(has_text=title)).to_be_visible()
    sub_list = page.get_by_role("list", name="Sub-lessons of Opening the room")
    subs = sub_list.locator(".admin-sub-title")
    expect(subs).to_have_text(["Warm-up", "Check-in"])
    page.get_by_role("button", name="Move sub-lesson Check-in up").click()
    expect(subs).to_have_text(["Check-in", "Warm-up"])
    page.get_by_role("button", name="Edit sub-lesson Warm-up").click()
    sub_form = page.get_by_role("form", name="Edit sub-lesson Warm-up")
    sub_form.get_by_label("Sub-lesson title").fill("Energiser")
    sub_form.get_by_label("Starts at (s)").fill("30")
    sub_form.get_by_role("button", name="Save sub-lesson").click()
    expect(subs).to_have_text(["Check-in", "Energiser"])
    expect(sub_list).to_contain_text("30 s, video sample-m2-l2-p1")
    assert_accessible(page, "/courses/:moduleId (admin, sub-lessons)")
    page.get_by_role("button", name="Delete sub-lesson Check-in").click()
    expect(subs).to_have_text(["Energiser"])

    # what a learner sees: the edited lesson with its part (the reload reads the server)
    page.get_by_role("link", name="Opening the room", exact=True).click()
    parts = page.get_by_role("list", name="Parts")
    expect(parts.get_by_role("link")).to_have_text(["Energiser"])
    expect(page.get_by_role("heading", name="Chapters")).to_have_count(0)
    page.goto(module_url)

    # delete the lesson, then the module
    page.get_by_role("button", name="Delete Opening the room").click()
    expect(page.get_by_text("No lessons yet.")).to_be_visible()
    page.get_by_role("button", name="Delete module").click()
    expect(page).to_have_url(f"{course_server.url}/courses")
    modules = page.get_by_role("list", name="Modules")
    expect(modules).not_to_contain_text("Facilitation, edited")
    assert confirmed == [
        'Delete the sub-lesson "Check-in"?',
        'Delete the lesson "Opening the room"?',
        'Delete the module "Facilitation, edited" and its lessons?',
    ]
    token = access_token(course_server, ADMIN)
    listed = api(course_server, "GET", "/api/workbook/modules?search=Facilitation", token)
    assert all("edited" not in m["title"] for m in listed["modules"])
