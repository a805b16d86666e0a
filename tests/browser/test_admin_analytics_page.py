"""The admin analytics page in a real browser: an admin sees charts drawn from progress that
learners saved through the API, narrows the date range, downloads a CSV; a normal user has no
link and cannot read it; axe finds nothing serious; desktop and 390 px screenshots."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.browser.checks import assert_accessible
from tests.browser.harness import PASSWORD, Server, start_server
from tests.browser.test_courses import access_token, api, sign_in
from tests.browser.test_notes_page import sign_up

pytestmark = pytest.mark.browser

ADMIN = "boss@example.com"


@pytest.fixture(scope="module")
def analytics_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The sample course, an admin, and two learners who watched part of its first lesson."""
    admin = [
        "user",
        "create",
        "--email",
        ADMIN,
        "--password",
        PASSWORD,
        "--name",
        "Boss",
        "--role",
        "admin",
    ]
    for server in start_server(
        tmp_path_factory.mktemp("collab-analytics"), {}, setup=[["sample-course"], admin]
    ):
        token = access_token(server, ADMIN)
        module = api(server, "GET", "/api/workbook/modules", token)["modules"][0]
        lessons = api(server, "GET", f"/api/workbook/modules/{module['id']}/lessons", token)
        lesson = next(le for le in lessons["lessons"] if le["durationSeconds"] > 0)
        duration = lesson["durationSeconds"]
        for i, share in enumerate((0.15, 0.65)):
            email = f"learner{i}@example.com"
            body = {"email": email, "password": PASSWORD, "name": f"Learner {i}"}
            api(server, "POST", "/api/workbook/auth/register", body=body)
            learner = access_token(server, email)
            api(
                server,
                "POST",
                f"/api/progress/lessons/{lesson['id']}",
                learner,
                {"positionSeconds": duration * share, "watchTimeSeconds": duration * share},
            )
            api(
                server,
                "POST",
                f"/api/workbook/progress/{module['id']}",
                learner,
                {"progressPercent": 10 * (i + 1), "timeSpentMinutes": 5},
            )
        yield server


def _day(delta: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=delta)).date().isoformat()


def test_an_admin_sees_charts_narrows_the_range_and_downloads_csv(
    analytics_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    context = new_context()
    page = sign_in(context, analytics_server, ADMIN)
    page.get_by_role("link", name="Analytics").click()
    expect(page.get_by_role("heading", name="Analytics", level=1)).to_be_visible()
    stats = page.get_by_test_id("overview-stats")
    expect(stats.get_by_text("Active users")).to_be_visible()
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("2")
    expect(page.get_by_role("img", name="Active users per day: 2 active users")).to_be_visible()
    dropoff = page.get_by_role("img", name="Where viewers stopped")
    expect(dropoff).to_have_attribute(
        "aria-label",
        "Where viewers stopped (share of the video): "
        "2 viewers stopped before the end, most at 10\u201320%",
    )
    expect(page.locator(".analytics-section svg rect").first).to_be_attached()
    modules = page.get_by_role("region", name="Module completion")
    expect(modules.locator(".bar-row rect").first).to_be_attached()
    assert_accessible(page, "/admin/analytics")
    page.screenshot(path=str(artifacts / "admin-analytics.png"), full_page=True)

    # a range before anything happened: the figures follow, and the URL keeps the range
    page.get_by_label("To", exact=True).fill(_day(-400))
    page.get_by_label("From", exact=True).fill(_day(-420))
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("0")
    expect(page).to_have_url(
        f"{analytics_server.url}/admin/analytics?from={_day(-420)}&to={_day(-400)}"
    )
    expect(page.get_by_role("img", name="Where viewers stopped")).to_have_attribute(
        "aria-label", "Where viewers stopped (share of the video): no viewer stopped before the end"
    )
    page.get_by_role("button", name="30 days").click()
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("2")

    with page.expect_download() as info:
        page.get_by_role("button", name="Download Lesson watch time as CSV").click()
    download = info.value
    assert download.suggested_filename == f"analytics-lessons-{_day(-29)}-{_day()}.csv"
    saved = artifacts / download.suggested_filename
    download.save_as(saved)
    table = list(csv.reader(io.StringIO(saved.read_text())))
    assert table[0][:3] == ["lesson_id", "module", "title"]
    watched = [row for row in table[1:] if row[4] == "2"]
    assert len(watched) == 1, table
    assert watched[0][8:].count("1") == 2  # two drop-off points


def test_ranges_the_page_cannot_show_empty_ranges_and_going_offline(
    analytics_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    """A start after the end is said once on the page and asks the server nothing; a range
    with no activity says so under each chart; offline, a new range keeps the old figures
    (dimmed, said) and loads when back online; the preset in use is pressed."""
    context = new_context()
    page = sign_in(context, analytics_server, ADMIN)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/admin/analytics" in r.url else None)
    page.goto(f"{analytics_server.url}/admin/analytics?from={_day()}&to={_day(-5)}")
    expect(page.get_by_role("alert")).to_have_text(
        "The start date is after the end date: choose a start on or before the end."
    )
    expect(page.locator(".analytics-section")).to_have_count(0)
    assert asked == []

    page.get_by_role("button", name="30 days").click()
    stats = page.get_by_test_id("overview-stats")
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("2")
    expect(page.get_by_role("button", name="30 days")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="7 days")).to_have_attribute("aria-pressed", "false")

    context.set_offline(True)
    page.get_by_role("button", name="365 days").click()
    overview = page.get_by_role("region", name="Active users")
    expect(overview.get_by_role("status")).to_have_text(
        "You are offline: the figures below are still those of the previous range."
    )
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("2")
    context.set_offline(False)
    expect(overview.locator(".analytics-status")).to_have_text("", timeout=15_000)
    expect(overview.locator(".analytics-stale")).to_have_count(0)
    expect(page).to_have_url(
        f"{analytics_server.url}/admin/analytics?from={_day(-364)}&to={_day()}"
    )

    page.goto(f"{analytics_server.url}/admin/analytics?from=2001-01-01&to=2001-01-31")
    expect(stats.locator(".stat").first.locator(".stat-value")).to_have_text("0")
    for region in ("Active users", "Module completion", "Lesson watch time", "Live sessions"):
        expect(
            page.get_by_role("region", name=region).get_by_text("Nothing in this range.").first
        ).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(artifacts / "admin-analytics-empty-phone.png"), full_page=True)


def test_a_normal_user_cannot_reach_analytics(
    analytics_server: Server, new_context: Callable[..., BrowserContext]
) -> None:
    page, _ = sign_up(new_context(), analytics_server, "Norm User")
    expect(page.get_by_role("link", name="Courses")).to_be_visible()
    expect(page.get_by_role("link", name="Analytics")).to_have_count(0)
    page.goto(f"{analytics_server.url}/admin/analytics")
    expect(page.get_by_role("alert")).to_have_text("Analytics are for admins only.")
    expect(page.locator(".analytics-section")).to_have_count(0)
    status: Any = page.evaluate("async () => (await fetch('/api/admin/analytics/overview')).status")
    assert status == 403


def test_analytics_fits_a_phone(
    analytics_server: Server, new_context: Callable[..., BrowserContext], artifacts: Path
) -> None:
    phone = new_context(viewport={"width": 390, "height": 844})
    page = sign_in(phone, analytics_server, ADMIN)
    page.goto(f"{analytics_server.url}/admin/analytics")
    expect(page.get_by_role("img", name="Active users per day: 2 active users")).to_be_visible()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways ({width}px)"
    assert_accessible(page, "/admin/analytics at 390 px")
    page.screenshot(path=str(artifacts / "admin-analytics-phone.png"), full_page=True)
