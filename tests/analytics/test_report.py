"""The evidence pack: one self-contained HTML file that covers every section, built offline."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.bill_demo import write_demo_bills
from gateway_core.analytics.billing import import_bill
from gateway_core.analytics.report import SECTIONS, ReportContext, build_report
from gateway_core.cli import main
from gateway_core.pricing import PriceTable
from gateway_core.usage import UsageLog
from gateway_core.usage.demo_history import seed_demo

HOSTILE = "<script>alert('team')</script>"


@pytest.fixture(scope="module")
def log_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "usage.sqlite"
    seed_demo(path, requests=4000, days=20, seed=11)
    with UsageLog(path) as log:
        log.write(
            {
                "request_id": "odd-team",
                "provider": "azure",
                "model": "gpt-4o-mini",
                "team": HOSTILE,
                "task": "chat",
                "input_tokens": 10,
                "output_tokens": 5,
                "cost_usd": 0.001,
                "latency_ms": 300.0,
                "ts": datetime.now(UTC) - timedelta(days=2),
            }
        )
        for i in range(12):
            log.record_vote(
                compare_id=f"c{i}",
                verdict="a" if i % 3 else "b",
                task="summarise",
                provider_a="azure",
                model_a="gpt-4o-mini",
                cost_a_usd=0.0002,
                provider_b="bedrock",
                model_b="anthropic.claude-3-haiku-20240307-v1:0",
                cost_b_usd=0.0003,
            )
    an = Analytics(path, max_staleness_s=0.0)
    bills = write_demo_bills(an, PriceTable.load(), path.parent / "bills", days=7, gaps={("azure", "gpt-4o"): 0.10})
    an.close()
    for bill in bills:
        import_bill(path, bill)
    return path


@pytest.fixture(scope="module")
def report(log_path):
    an = Analytics(log_path, max_staleness_s=0.0)
    try:
        return build_report(ReportContext(an, PriceTable.load(), Filters()))
    finally:
        an.close()


def test_the_pack_is_one_file_that_needs_no_network_or_script(report):
    assert report.startswith("<!doctype html>")
    assert "<script" not in report.lower().replace("&lt;script", "")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", report)
    assert "<link" not in report and "@import" not in report
    assert report.count("<svg") >= 8  # every chart embedded as SVG


def test_every_section_is_there_in_order(report):
    headings = re.findall(r"<h2>(.*?)</h2>", report)
    assert headings == [
        "Summary",
        "Spend and its trend",
        "Saved against overspent",
        "Spend per team",
        "Reliability: errors, fallbacks, breakers",
        "Blind A/B results",
        "What if: replay highlights",
        "Bill reconciliation",
        "Notes on method",
    ]
    assert len(SECTIONS) == len(headings) - 1


def test_the_pack_states_the_findings(report):
    assert "forecast for" in report and "95% band" in report
    assert "1 of 6 models differ from the log by more than 5%" in report
    assert "gpt-image-1 Img Outp glbl Tokens" in report  # unknown meters listed
    assert "priority low_cost" in report and "only bedrock" in report
    assert "0 of 1 compared pairs have the 30 votes" in report


def test_text_from_the_log_is_escaped(report):
    assert HOSTILE not in report
    assert "&lt;script&gt;alert(&#x27;team&#x27;)&lt;/script&gt;" in report


def test_an_extra_section_joins_before_the_method_notes(log_path):
    an = Analytics(log_path, max_staleness_s=0.0)
    try:
        html = build_report(
            ReportContext(an, PriceTable.load(), Filters(start=datetime.now(UTC) - timedelta(days=3))),
            extra_sections=(lambda ctx: ("Admin audit log", "<p>entries</p>"),),
        )
    finally:
        an.close()
    assert re.findall(r"<h2>(.*?)</h2>", html)[-2:] == ["Admin audit log", "Notes on method"]


def test_gateway_report_writes_the_file(log_path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GATEWAY_DB_PATH", str(log_path))
    out = tmp_path / "pack.html"
    assert main(["report", "--since", "7d", "--out", str(out)]) == 0
    assert out.read_text().startswith("<!doctype html>") and "wrote" in capsys.readouterr().out
    assert main(["report", "--out", str(tmp_path / "missing" / "x.html")]) == 2
    assert "error: out: cannot write" in capsys.readouterr().err
