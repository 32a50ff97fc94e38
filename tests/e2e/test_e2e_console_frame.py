"""The console as installed and on a phone: started by ``gateway console``'s launcher where no
``.streamlit/config.toml`` is found, it shows no Deploy button, wears its own theme, asks
nothing of the internet (the favicon included), and its Analytics page fits a 390 px screen."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from gateway_core.usage.demo_history import seed_demo

from .conftest import SCREENSHOTS
from .console_server import ConsoleServer
from .driver import Console

pytestmark = pytest.mark.e2e

PAGES = (
    ("", "Playground"),
    ("compare", "Compare"),
    ("analytics", "Analytics"),
    ("requests", "Requests"),
    ("providers", "Providers"),
)
STREAMLIT_RED = "rgb(255, 75, 75)"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    server = ConsoleServer(tmp_path_factory.mktemp("launched"), launcher=True).start()
    seed_demo(server.db_path, days=30, requests=5_000)
    try:
        yield server
    finally:
        server.stop()


def _tab(browser, server, viewport) -> Console:
    context = browser.new_context(viewport=viewport, device_scale_factor=1, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(30_000)
    return Console(context.new_page(), server, SCREENSHOTS)


def test_launched_console_has_no_deploy_button_its_own_theme_and_no_internet_requests(browser, launched):
    tab = _tab(browser, launched, {"width": 1400, "height": 900})
    outside: list[str] = []
    tab.page.on(
        "request",
        lambda r: outside.append(r.url) if urlsplit(r.url).hostname not in (None, "127.0.0.1", "localhost") else None,
    )
    try:
        for path, title in PAGES:
            tab.open(path, title)
            tab.assert_clean()
            expect(tab.page.get_by_test_id("stAppDeployButton")).to_have_count(0)
            expect(tab.page.get_by_role("button", name=re.compile(r"^\s*Deploy\s*$"))).to_have_count(0)
        icon = tab.page.locator("link[rel*='icon']").first.get_attribute("href")
        assert urlsplit(icon).hostname in (None, "127.0.0.1"), icon  # served by the console itself
        primary = tab.button("Load demo history")  # the Providers page's primary button
        colour = primary.evaluate("el => getComputedStyle(el).backgroundColor")
        assert colour != STREAMLIT_RED and colour == "rgb(37, 99, 235)", colour
        assert not outside, outside
    finally:
        tab.page.context.close()


def test_analytics_fits_a_phone_screen(browser, launched):
    tab = _tab(browser, launched, PHONE)
    try:
        tab.open("analytics", "Analytics")
        metrics = tab.page.get_by_test_id("stMetric")
        expect(metrics.nth(7)).to_be_visible()  # the summary's eight tiles; cost panels add more below
        boxes = [metrics.nth(i).bounding_box() for i in range(8)]
        assert boxes[0]["y"] == boxes[1]["y"], "the tiles wrap two to a row"
        assert all(b["width"] <= PHONE["width"] / 2 for b in boxes), boxes
        tab.page.wait_for_function(
            'n => document.querySelectorAll(\'[data-testid="stVegaLiteChart"] canvas, '
            '[data-testid="stVegaLiteChart"] svg.marks\').length >= n',
            arg=8,
        )
        widths = tab.page.locator('[data-testid="stVegaLiteChart"]').evaluate_all(
            "els => els.map(el => el.getBoundingClientRect().width)"
        )
        assert len(widths) >= 8 and min(widths) > 250, widths  # no chart collapses to nothing
        overflow = tab.page.evaluate(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]'); return m.scrollWidth - m.clientWidth; }"
        )
        assert overflow <= 1, f"the page scrolls sideways by {overflow} px"
        tab.assert_clean()
        tab.screenshot("analytics-mobile")
    finally:
        tab.page.context.close()
