"""Browser fixtures: the server under test, Debian's Chromium, isolated contexts, artifacts."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, sync_playwright

from tests.browser.harness import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, Server, missing, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The whole web process, as `make serve` runs it, for the browser tests of this session."""
    override = os.environ.get("COLLAB_BROWSER_TEST_URL")  # a server you run yourself, for debugging
    if override:
        yield Server(url=override.rstrip("/"), data_dir=Path(), log=Path())
        return
    yield from start_server(tmp_path_factory.mktemp("collab-serve"), {})


@pytest.fixture(scope="session")
def short_token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A second server whose access tokens live 3 s, to prove the page refreshes expired ones."""
    yield from start_server(
        tmp_path_factory.mktemp("collab-short-ttl"), {"ACCESS_TOKEN_TTL_SECONDS": "3"}
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API keeps an event loop marked running
    # while it is started, which breaks every asyncio test that runs after it in the session.
    if not Path(CHROMIUM).exists():
        missing(f"Debian's Chromium is not installed at {CHROMIUM} (run `make system-deps`)")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """Open isolated browser contexts (one per simulated person); all closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**kwargs: Any) -> BrowserContext:
        kwargs.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(accept_downloads=True, **kwargs)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        # A route handler still forwarding a request when the test ended would raise into the
        # next test's first Playwright call ("Fetch response has been disposed").
        context.unroute_all(behavior="ignoreErrors")
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
