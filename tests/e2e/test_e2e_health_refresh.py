"""Providers health redraws itself: with one tab left open on Providers, a breaker that opens
while someone else drives a chaos demo in another tab shows up there without a click."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import SCREENSHOTS, VIEWPORT
from .driver import Console

pytestmark = pytest.mark.e2e


def _tab(browser, server) -> Console:
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(30_000)
    return Console(context.new_page(), server, SCREENSHOTS)


def test_an_open_breaker_appears_on_a_providers_tab_nobody_touches(browser, console_server):
    watcher, actor = _tab(browser, console_server), _tab(browser, console_server)
    try:
        watcher.open("providers", "Providers")
        opened = watcher.main().get_by_text("Circuit open for Azure OpenAI")
        expect(opened).to_have_count(0)

        actor.open("providers", "Providers")
        faults = "Azure OpenAI: HTTP 429 on 100% of calls"
        actor.act(actor.button("Azure OpenAI throttled 100%").click, until=lambda: expect(actor.main()).to_contain_text(faults))
        actor.nav("Playground")
        hint = actor.sidebar().get_by_role("radio", name="Azure OpenAI", exact=True)  # the provider hint
        actor.act(hint.click, until=lambda: expect(hint).to_have_attribute("aria-checked", "true"))
        for i in range(5):  # five failures in a row open Azure's breaker; each answer falls back
            actor.ask(f"Question {i}: which provider answers?")

        expect(opened).to_have_count(1, timeout=30_000)  # the watcher's table redrew on its own
        watcher.assert_clean()
    finally:
        watcher.page.context.close()
        actor.page.context.close()
