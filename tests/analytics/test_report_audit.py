"""The evidence pack carries the admin audit log: every change in the period, who made it, escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.report import ReportContext
from gateway_core.analytics.report_audit import audit_section
from gateway_core.cli import main
from gateway_core.governance import AuditLog
from gateway_core.pricing import PriceTable
from gateway_core.usage.demo_history import seed_demo

HOSTILE = "<script>alert('actor')</script>"


def section(db, start: datetime) -> tuple[str, str]:
    an = Analytics(db, max_staleness_s=0.0)
    try:
        return audit_section(ReportContext(an, PriceTable.load(), Filters(start=start)))
    finally:
        an.close()


def test_the_section_lists_the_periods_changes_with_who_and_counts(tmp_path):
    db = tmp_path / "usage.sqlite"
    AuditLog(db, source="console").record("ada@example.com", "key.created", "ci-bot", {"team": "ml"}, role="admin")
    AuditLog(db, source="cli").record(HOSTILE, "team.changed", "ml", {"budget_usd": [None, "25"]})
    AuditLog(db, source="console").record("otto@example.com", "faults.injected", "AWS Bedrock", {"status": 503}, role="operator")
    heading, body = section(db, datetime.now(UTC) - timedelta(days=1))
    assert heading == "Admin audit log"
    assert "3 recorded changes" in body
    assert "1 created an API key (key.created)" in body and "1 injected faults into an emulator (faults.injected)" in body
    rows = re.findall(r"<tr>(.*?)</tr>", body)[1:]
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows]
    assert [c[1] for c in cells] == [
        "ada@example.com",
        "&lt;script&gt;alert(&#x27;actor&#x27;)&lt;/script&gt;",
        "otto@example.com",
    ]
    assert [c[4] for c in cells] == ["key.created", "team.changed", "faults.injected"]  # oldest first
    assert cells[1][6] == "budget_usd: [None, &#x27;25&#x27;]" and cells[0][2] == "admin" and cells[1][3] == "cli"
    assert "<script>" not in body


def test_a_period_without_changes_says_so(tmp_path):
    db = tmp_path / "usage.sqlite"
    AuditLog(db).record("ada@example.com", "demo.loaded", "synthetic rows", {"rows": 5})
    _, body = section(db, datetime.now(UTC) + timedelta(days=1))
    assert "No key, budget, policy, fault or data change was recorded in this period." in body


@pytest.mark.timeout(600)
def test_gateway_report_includes_the_audit_log(tmp_path, monkeypatch, capsys):
    db = tmp_path / "usage.sqlite"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DB_PATH", str(db))
    monkeypatch.setenv("GATEWAY_MODE", "demo")
    seed_demo(db, requests=300, days=5, seed=3)
    assert main(["keys", "create", "--name", "report-bot", "--team", "finance"]) == 0
    key = capsys.readouterr().out.strip()
    assert main(["report", "--since", "7d", "--out", str(tmp_path / "pack.html")]) == 0
    pack = (tmp_path / "pack.html").read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", pack)
    assert headings[-2:] == ["Admin audit log", "Notes on method"]
    assert "report-bot" in pack and "key.created" in pack and key not in pack
