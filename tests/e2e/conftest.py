"""Browser-test set-up: the console served by a real Streamlit process, driven by Debian's Chromium.

Each test module gets its own console process and usage log, so chaos faults, an open
circuit breaker or seeded history from one scenario cannot change another. Chromium is the
system browser (``/usr/bin/chromium``, or the path in ``E2E_CHROMIUM``); nothing is
downloaded. When it is missing, a developer's run skips these tests with one line saying how
to enable them, and a CI run fails (``required_tools``). The scenarios take their screenshots
as they pass; ``make screenshots`` (``E2E_SCREENSHOTS=1``) writes them over
``docs/screenshots/*.png``, and any other run keeps them in a scratch directory so a test run
never changes the documentation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from required_tools import missing

from .console_server import ROOT, ConsoleServer
from .driver import Console

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
expect.set_options(timeout=20_000)  # the first script run builds the gateway
VIEWPORT = {"width": 1400, "height": 900}
SCREENSHOTS = (
    ROOT / "docs" / "screenshots"
    if os.environ.get("E2E_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "gateway-e2e-screenshots"
)


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        # Raised from this session fixture, the skip is reported once for every browser test.
        missing(
            f"BROWSER TESTS SKIPPED: Chromium ({CHROMIUM})",
            "install Debian's chromium (apt-get install -y chromium) or point E2E_CHROMIUM at a "
            "Chromium binary, then run `make e2e`",
        )
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def console_server(tmp_path_factory):
    server = ConsoleServer(tmp_path_factory.mktemp("console")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def console(browser, console_server):
    """A fresh browser session (its own Streamlit session state) on the module's console."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(30_000)
    try:
        yield Console(context.new_page(), console_server, SCREENSHOTS)
    finally:
        context.close()
