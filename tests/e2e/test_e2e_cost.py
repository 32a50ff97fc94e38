"""Cost intelligence in a real browser: a what-if replay, a demo bill against the log, and the evidence pack."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.report import ReportContext, build_report
from gateway_core.pricing import PriceTable

pytestmark = pytest.mark.e2e


def _load_history(console) -> None:
    console.open("analytics", "Analytics")
    metrics = console.page.get_by_test_id("stMetric")
    console.act(console.button("Load demo history").click, until=lambda: expect(metrics).not_to_have_count(0))


def test_what_if_replay_and_bill_vs_log_on_demo_history(console):
    _load_history(console)
    console.assert_clean()
    what_if = console.heading("What if")
    console.scroll_to_top_of(what_if)
    result = console.main().get_by_text(re.compile(r"^What if: priority low_cost"))
    priority = console.main().get_by_test_id("stSelectbox").filter(has_text="Priority")
    priority.click()
    console.page.get_by_role("option", name="low_cost").click()
    console.act(console.button("Replay the period").click, until=lambda: expect(result).to_be_visible())
    expect(console.metric("Requests that move")).to_have_text(re.compile(r"\d+\.\d%"))
    console.assert_clean()
    console.scroll_to_top_of(console.heading("What if"))
    console.screenshot("what-if")

    banner = console.main().get_by_text(re.compile(r"models differ from the log by more than 5%"))
    console.act(console.button("Load a demo bill").click, until=lambda: expect(banner).to_be_visible())
    expect(banner).to_contain_text("1 of 6 models")
    console.assert_clean()
    console.scroll_to_top_of(console.heading("Bill vs log"))
    console.screenshot("bill-vs-log")


def test_evidence_pack_opens_offline_with_every_chart(console, tmp_path):
    an = Analytics(console.server.db_path, max_staleness_s=0.0)
    try:
        html = build_report(ReportContext(an, PriceTable.load(), Filters()))
    finally:
        an.close()
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    requests = []
    console.page.on("request", lambda r: requests.append(r.url))
    console.page.goto(path.as_uri())
    expect(console.page.get_by_role("heading", name="Notes on method")).to_be_visible()
    assert [u for u in requests if not u.startswith("file:")] == []  # nothing fetched from anywhere
    assert console.page.locator("figure svg").count() >= 6
    console.page.screenshot(path=str(console.screenshots / "report.png"), full_page=False)
