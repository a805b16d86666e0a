"""The courses area in a real browser, on the sample course (`collab sample-course`).

The videos are short H.264 HLS streams served by the server's local stand-in for Mux, which
checks every playlist and segment request's signed token as Mux does, so the page's real token
path is exercised. Waits are Playwright's auto-waiting assertions or `wait_for_function` on the
player's own state, each bounded by a deadline.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import PASSWORD, Server, start_server
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser

ADMIN = "admin@example.com"
PREMIUM = "premium@example.com"
PLAYER = "mux-player"
ELEMENT = f"document.querySelector('{PLAYER}')"


@pytest.fixture(scope="module")
def course_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose data dir got the sample course, an admin and a premium member first."""
    yield from start_server(
        tmp_path_factory.mktemp("collab-courses"),
        {},
        setup=[
            ["sample-course"],
            [
                "user",
                "create",
                "--email",
                ADMIN,
                "--password",
                PASSWORD,
                "--name",
                "Ada",
                "--role",
                "admin",
            ],
        ],
    )


def api(server: Server, method: str, path: str, token: str | None = None, body: Any = None) -> Any:
    request = urllib.request.Request(
        server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def access_token(server: Server, email: str) -> str:
    body = {"email": email, "password": PASSWORD}
    session = api(server, "POST", "/api/workbook/auth/login", body=body)
    return str(session["token"])


def sign_in(context: BrowserContext, server: Server, email: str) -> Page:
    page = context.new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="New note")).to_be_visible()
    return page


def current_time(page: Page) -> float:
    return float(page.evaluate(f"() => {ELEMENT}.currentTime"))


def wait_ready(page: Page) -> None:
    """The player has the frame at its start position (readyState >= HAVE_CURRENT_DATA)."""
    page.wait_for_function(
        f"() => {{ const p = {ELEMENT}; return p && p.readyState >= 2 && p.duration > 0 }}",
        timeout=20_000,
    )


def play_until(page: Page, seconds: float, rate: float = 1) -> None:
    page.evaluate(
        f"r => {{ const p = {ELEMENT}; p.muted = true; p.playbackRate = r; p.play() }}", rate
    )
    page.wait_for_function(f"s => {ELEMENT}.currentTime >= s", arg=seconds, timeout=40_000)


def lesson_id_of(page: Page, title: str) -> str:
    href = page.get_by_role("link", name=title, exact=True).first.get_attribute("href")
    assert href and href.startswith("/lessons/")
    return href.rsplit("/", 1)[-1]


def stored(server: Server, email: str, lesson_id: str) -> dict[str, Any]:
    progress: dict[str, Any] = api(
        server, "GET", f"/api/progress/lessons/{lesson_id}", access_token(server, email)
    )["progress"]
    return progress


def test_find_a_module_play_leave_and_resume_where_left(
    course_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    page, email = sign_up(new_context(), course_server, "Lin Learner")
    page.goto(f"{course_server.url}/courses")
    modules = page.get_by_role("list", name="Modules")
    expect(modules.get_by_role("listitem")).to_have_count(3)
    assert_accessible(page, "/courses")
    page.get_by_label("Search modules").press_sequentially("shared", delay=40)
    expect(modules.get_by_role("listitem")).to_have_count(1)
    expect(modules).to_contain_text("Getting started with shared notes")
    modules.get_by_role("link", name="Getting started with shared notes").click()
    expect(page.get_by_role("heading", name="Objectives")).to_be_visible()
    expect(page.get_by_text("Edit together")).to_be_visible()
    expect(page.get_by_role("heading", name="Exercises")).to_be_visible()
    lesson_id = lesson_id_of(page, "Welcome")
    assert_accessible(page, "/courses/:moduleId")
    page.get_by_role("link", name="Welcome", exact=True).click()
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    wait_ready(page)
    assert current_time(page) < 1  # never opened: from the start
    play_until(page, 9)
    # leave mid-way while playing: only the page-hide save (keepalive) can record this
    left_at = current_time(page)
    page.goto(f"{course_server.url}/courses")
    deadline = time.monotonic() + 10
    while (saved := stored(course_server, email, lesson_id))["positionSeconds"] < 8:
        assert time.monotonic() < deadline, f"page hide did not save: {saved}"
        time.sleep(0.2)
    assert abs(saved["positionSeconds"] - left_at) < 1.5, (saved, left_at)
    # "continue watching" offers it, on /courses and on the home page
    expect(page.get_by_role("region", name="Continue watching")).to_contain_text("Welcome")
    page.goto(f"{course_server.url}/notes")
    expect(page.get_by_role("region", name="Continue watching")).to_contain_text("Welcome")

    page.get_by_role("region", name="Continue watching").get_by_role("link").first.click()
    wait_ready(page)
    start = current_time(page)
    assert saved["positionSeconds"] - 4.5 <= start <= saved["positionSeconds"] - 1.5, (start, saved)
    # a re-render (the saved status changes after a pause save) never re-applies the start
    play_until(page, start + 2)
    page.evaluate(f"() => {ELEMENT}.pause()")
    expect(page.get_by_role("status").filter(has_text="Saved at")).to_be_visible()
    assert current_time(page) >= start + 2
    page.screenshot(path=str(artifacts / "courses-lesson.png"))
    assert_accessible(page, "/lessons/:lessonId")


def test_completion_offers_the_next_lesson_and_the_module_shows_progress(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), course_server, "Cam Completer")
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Running a live workshop").click()
    page.get_by_role("link", name="Before the session", exact=True).click()
    wait_ready(page)
    # watched (not skipped) to the end, fast: watch time counts played media time
    page.evaluate(f"() => {{ const p = {ELEMENT}; p.muted = true; p.playbackRate = 4; p.play() }}")
    done = page.get_by_test_id("completed")
    expect(done).to_contain_text("Completed", timeout=30_000)
    done.get_by_role("link", name="Next lesson").click()
    expect(page.get_by_role("heading", name="During the session")).to_be_visible()
    page.get_by_role("link", name="Running a live workshop").click()
    row = page.locator(".lesson-row").filter(has_text="Before the session")
    expect(row).to_contain_text("Completed")


def test_an_expired_token_is_recovered_at_the_same_position(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, email = sign_up(new_context(), course_server, "Eve Expired")
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    lesson_id = lesson_id_of(page, "Your first shared note")
    page.get_by_role("link", name="Your first shared note", exact=True).click()
    wait_ready(page)
    play_until(page, 10)
    page.evaluate(f"() => {ELEMENT}.pause()")  # a pause saves
    expect(page.get_by_role("status").filter(has_text="Saved at")).to_be_visible()
    position = stored(course_server, email, lesson_id)["positionSeconds"]
    assert position >= 10

    # the next video token handed to the page has expired (as after a day-long idle tab), and
    # says it has not: only the player's 403 can reveal it
    key = json.loads((course_server.data_dir / "mux-dev-key.json").read_text())
    private = serialization.load_pem_private_key(base64.b64decode(key["privateKey"]), None)
    served: list[str] = []

    def expire_first(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        if json.loads(route.request.post_data or "{}").get("type") == "video" and not served:
            kid = key["keyId"]
            claims = {"sub": "sample-m1-l2", "aud": "v", "exp": int(time.time()) - 60, "kid": kid}
            expired = jwt.encode(claims, private, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]
            body["token"] = expired
            body["expiresAt"] = int(time.time()) + 7200
            body["streamUrl"] = body["streamUrl"].split("?token=")[0] + "?token=" + expired
            served.append(expired)
        route.fulfill(response=response, json=body)

    page.route("**/api/mux/playback-token", expire_first)
    page.reload()
    wait_ready(page)
    assert served, "the expired token was never served"
    src = page.evaluate(f"() => {ELEMENT}.getAttribute('src') || ''")
    assert served[0] not in src  # a new token plays
    start = current_time(page)
    assert position - 4.5 <= start <= position, (start, position)
    play_until(page, start + 1)


def test_a_token_close_to_expiry_is_replaced_before_playing(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), course_server, "Ida Idle")
    video_tokens: list[str] = []

    def nearly_expired(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        if json.loads(route.request.post_data or "{}").get("type") == "video":
            video_tokens.append(body["token"])
            if len(video_tokens) == 1:  # as if the tab had been left open for hours
                body["expiresAt"] = int(time.time()) + 120
        route.fulfill(response=response, json=body)

    page.route("**/api/mux/playback-token", nearly_expired)
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Running a live workshop").click()
    page.get_by_role("link", name="During the session", exact=True).click()
    wait_ready(page)
    assert len(video_tokens) == 1
    page.evaluate(f"() => {{ const p = {ELEMENT}; p.muted = true; p.play() }}")
    # the play is held, a new token fetched, and the new player plays on
    page.wait_for_function(
        f"() => {ELEMENT}.currentTime > 1.5 && !{ELEMENT}.paused", timeout=20_000
    )
    assert len(video_tokens) == 2
    src = page.evaluate(f"() => {ELEMENT}.getAttribute('src') || ''")
    assert video_tokens[1] in src


def test_the_player_works_by_keyboard(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), course_server, "Kay Keys")
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("link", name="Getting started with shared notes").click()
    page.get_by_role("link", name="Working offline", exact=True).click()
    wait_ready(page)
    page.evaluate(f"() => {{ {ELEMENT}.muted = true }}")
    # Tab from the breadcrumb's last link reaches the player's play button
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link").last.focus()
    for _ in range(6):
        page.keyboard.press("Tab")
        label = page.evaluate(
            """() => {
                let a = document.activeElement
                while (a && a.shadowRoot?.activeElement) a = a.shadowRoot.activeElement
                return a ? (a.getAttribute('aria-label') || a.tagName) : ''
            }"""
        )
        if "play" in str(label).lower():
            break
    else:
        pytest.fail(f"Tab never reached the play button (last focus: {label})")
    page.keyboard.press("Space")
    page.wait_for_function(f"() => !{ELEMENT}.paused && {ELEMENT}.currentTime > 0.5")
    before = current_time(page)
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"b => {ELEMENT}.currentTime > b + 4", arg=before)
    page.keyboard.press("Space")
    page.wait_for_function(f"() => {ELEMENT}.paused")


def test_a_free_user_sees_the_premium_module_locked(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), course_server, "Fay Free")
    page.goto(f"{course_server.url}/courses")
    card = page.locator(".module-card").filter(has_text="Advanced facilitation")
    expect(card).to_contain_text("Locked: Premium members only")
    card.get_by_role("link", name="Advanced facilitation").click()
    expect(page.get_by_role("note")).to_contain_text("premium members")
    expect(page.get_by_role("heading", name="Lessons")).to_have_count(0)
    assert_accessible(page, "/courses/:moduleId (locked)")


def test_an_admin_creates_a_module_and_a_lesson(
    course_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page = sign_in(new_context(), course_server, ADMIN)
    page.goto(f"{course_server.url}/courses")
    page.get_by_role("button", name="New module").click()
    form = page.get_by_role("form", name="New module")
    form.get_by_label("Module title").fill("Pricing workshops")
    form.get_by_label("Description").fill("How to price a workshop.")
    form.get_by_label("Objectives (one a line)").fill("Set a price\nSell seats")
    form.get_by_role("button", name="Create module").click()
    expect(page.get_by_role("heading", name="Pricing workshops", level=1)).to_be_visible()
    expect(page.get_by_text("Sell seats")).to_be_visible()
    for title, playback in (("Anchoring", "sample-m1-l1"), ("Discounts", "")):
        page.get_by_role("button", name="New lesson").click()
        lesson_form = page.get_by_role("form", name="New lesson")
        lesson_form.get_by_label("Lesson title").fill(title)
        lesson_form.get_by_label("Mux playback id").fill(playback)
        lesson_form.get_by_label("Duration (seconds)").fill("20")
        lesson_form.get_by_role("button", name="Add lesson").click()
        expect(page.locator(".lesson-row").filter(has_text=title)).to_be_visible()
    rows = page.locator(".lesson-row .lesson-row-main a")
    expect(rows).to_have_text(["Anchoring", "Discounts"])
    page.get_by_role("button", name="Move Discounts up").click()
    expect(rows).to_have_text(["Discounts", "Anchoring"])
    anchoring = page.locator(".lesson-row").filter(has_text="Anchoring")
    expect(anchoring).to_contain_text("Video: sample-m1-l1")
    assert_accessible(page, "/courses/:moduleId (admin)")
    page.get_by_role("link", name="Anchoring", exact=True).click()
    wait_ready(page)


@pytest.mark.parametrize("path", ["/courses", "module", "lesson", "part"])
def test_phone_width_screenshots(
    course_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path, path: str
) -> None:
    phone = new_context(viewport={"width": 390, "height": 844})
    page, _ = sign_up(phone, course_server, "Pat Phone")
    page.goto(f"{course_server.url}/courses")
    if path in {"module", "lesson"}:
        page.get_by_role("link", name="Getting started with shared notes").click()
        expect(page.get_by_role("heading", name="Lessons")).to_be_visible()
    if path == "lesson":
        page.get_by_role("link", name="Welcome", exact=True).click()
        wait_ready(page)
    if path == "part":  # a lesson with parts, then its first part
        page.get_by_role("link", name="Running a live workshop").click()
        page.get_by_role("link", name="During the session", exact=True).click()
        page.get_by_role("list", name="Parts").get_by_role("link", name="Polls").click()
        expect(page.get_by_role("heading", name="Polls")).to_be_visible()
        wait_ready(page)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"{path}: the page scrolls sideways ({width}px)"
    name = f"courses-phone-{path.strip('/') or 'list'}.png"
    page.screenshot(path=str(artifacts / name), full_page=True)
