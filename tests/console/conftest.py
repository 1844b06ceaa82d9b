"""End-to-end fixtures for the console: headless Chromium (Debian's) driven by Playwright, a real
daphne process (plus a Celery worker when REDIS_URL is set, as in production), screenshots."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests import services
from tests.helpers import ROOT, start_worker

CHROMIUM = os.environ.get("RTCC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(os.environ.get("RTCC_SCREENSHOTS", ROOT / "tests" / "artifacts" / "screenshots"))
PASSWORD = "correct-horse-battery"
_saved: list[Path] = []


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module (each test gets fresh contexts)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} not found: install Chromium (apt-get install chromium) or set RTCC_CHROMIUM"
        if services.IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    # Playwright's sync API keeps an event loop in this thread; the ORM calls in the test are
    # still plain synchronous code between browser steps.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def console_server(live_server_process):
    """The web process; with REDIS_URL (production shape) also a Celery worker for its tasks
    (clip verification, pushes). On the embedded default the web process runs them itself."""
    worker = None
    if os.environ.get("REDIS_URL"):
        from django.conf import settings

        log = Path(settings.DATA_DIR) / f"worker-{live_server_process.port}.log"
        worker = start_worker(log=log, pool="threads", concurrency=4)
    yield live_server_process
    if worker is not None:
        worker.stop()


@pytest.fixture
def open_as(browser, console_server):
    """open_as(user, path) -> a page signed in through the login form, at `path`."""
    contexts = []

    def open_page(user, path: str = "/", *, width: int = 1600, height: int = 1000):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=console_server.url)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(f"/login/?next={path}")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**{path}")
        return page

    yield open_page
    for context in contexts:
        context.close()


def wait_until(page, expression: str, timeout: float = 10_000) -> None:
    """Polls a JS expression until it is truthy. Playwright's wait_for_function evaluates its
    predicate with eval() inside the page, which the console's CSP (rightly) forbids; evaluate()
    goes through the DevTools protocol and is not subject to it."""
    deadline = time.monotonic() + timeout / 1000
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout / 1000:.0f}s: {expression}")
        time.sleep(0.1)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays on top in a full-page shot
    wait_until(page, "Array.from(document.images).every((i) => i.complete)")
    page.screenshot(path=str(path), full_page=True)
    _saved.append(path)
    return path


def pytest_terminal_summary(terminalreporter):
    if _saved:
        terminalreporter.write_line(f"console screenshots ({len(_saved)}) saved in {SCREENSHOTS}")
