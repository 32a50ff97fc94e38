"""Analytics in a real browser: demo history loads from the empty state, charts draw, filters move numbers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

CHART = '[data-testid="stVegaLiteChart"]'


def dollars(text: str) -> Decimal:
    assert re.fullmatch(r"\$[\d,]+\.\d+", text), text
    return Decimal(text[1:].replace(",", ""))


def test_demo_history_fills_headline_and_charts_and_provider_filter_changes_spend(console):
    console.open("analytics", "Analytics")
    expect(console.page.get_by_test_id("stAlertContentInfo")).to_contain_text("Nothing in the usage log")
    expect(console.page.locator(CHART)).to_have_count(0)
    console.assert_clean()

    metrics = console.page.get_by_test_id("stMetric")
    console.act(
        console.button("Load demo history").click, until=lambda: expect(metrics).to_have_count(8 + 4)
    )  # headline + forecast tiles
    expect(console.page.get_by_test_id("stAlertContentInfo")).to_have_count(0)
    requests = int(console.metric_value("Requests").replace(",", ""))
    assert requests >= 1000, requests
    total = dollars(console.metric_value("Spend"))
    assert total > 0
    assert re.fullmatch(r"\d+\.\d%", console.metric_value("Error rate"))
    assert dollars(console.metric_value("Saved")) > 0 and dollars(console.metric_value("Overspent")) > 0
    expect(console.main()).to_contain_text(re.compile(r"Latency p50 \d+\.\d+ s · p95 \d+\.\d+ s"))

    charts = console.page.locator(CHART)
    # Chart components mount after the script run has ended, so wait for them on the page itself.
    console.page.wait_for_function("sel => document.querySelectorAll(sel).length >= 3", arg=CHART)
    for i in range(charts.count()):  # each chart drew marks, not an empty frame
        expect(charts.nth(i).locator("svg.marks, canvas.marks")).to_have_count(1)
    console.assert_clean()
    console.screenshot("analytics")

    spend = console.metric("Spend")
    before = spend.inner_text()
    console.act(
        console.sidebar().get_by_role("button", name="Remove bedrock").click, until=lambda: expect(spend).not_to_have_text(before)
    )

    expect(console.sidebar().get_by_test_id("stMultiSelect").first).not_to_contain_text("bedrock")
    azure_only = dollars(console.metric_value("Spend"))
    assert 0 < azure_only < total, (azure_only, total)
    assert int(console.metric_value("Requests").replace(",", "")) < requests
    console.assert_clean()
