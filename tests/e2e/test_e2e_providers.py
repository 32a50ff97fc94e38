"""Providers in a real browser: a chaos preset throttles Azure and the next Playground answer fails over."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PRESET = "Azure OpenAI throttled 100%"


def test_azure_throttled_preset_makes_the_next_answer_fall_back_to_bedrock(console):
    console.open("providers", "Providers")
    health = console.page.get_by_test_id("stDataFrame").first
    expect(health).to_be_visible()
    expect(console.main()).to_contain_text("Azure OpenAI: no faults injected")
    console.assert_clean()

    faults = "Azure OpenAI: HTTP 429 on 100% of calls"
    console.act(console.button(PRESET).click, until=lambda: expect(console.main()).to_contain_text(faults))

    console.nav("Playground")
    reply = console.ask("Give me three ideas for reducing GPU idle time in a training cluster.")

    badges = reply.locator(".stMarkdownBadge")
    expect(badges.first).to_have_text(re.compile(r"\bAWS Bedrock · \S+"))
    expect(badges.filter(has_text="fallback")).to_have_count(1)
    attempts = reply.get_by_test_id("stDataFrame")  # the attempts table: azure failed, bedrock served
    expect(attempts).to_have_count(1)
    assert len(reply.get_by_test_id("stMarkdownContainer").first.inner_text().split()) >= 5
    console.assert_clean()

    console.nav("Providers")
    expect(console.main()).to_contain_text(faults)
    console.assert_clean()
    # The picture should hold the health table and the chaos panel with its active fault; when
    # the page layout keeps them too far apart, the chaos panel wins.
    faults_line = console.main().get_by_text(faults)
    if not console.in_viewport(faults_line):
        console.scroll_to_top_of(console.heading("Chaos"), margin_px=24)
    console.screenshot("providers")

    # This module's console is its own, so leaving faults behind would harm nobody; clearing is checked anyway.
    console.act(
        console.button("Clear all").click,
        until=lambda: expect(console.main()).to_contain_text("Azure OpenAI: no faults injected"),
    )
    console.assert_clean()
