"""``gateway replay`` and ``gateway bill``: what an operator types and sees, and one-line refusals."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics
from gateway_core.analytics.bill_demo import write_demo_bills
from gateway_core.analytics.cli import since
from gateway_core.cli import main
from gateway_core.pricing import PriceTable
from gateway_core.usage.demo_history import seed_demo


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    path = tmp_path / "usage.sqlite"
    monkeypatch.setenv("GATEWAY_DB_PATH", str(path))
    seed_demo(path, requests=3000, days=10, seed=5)
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as e:  # argparse's own exits
        code = e.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_replay_prints_a_summary_and_json_with_the_same_totals(env, capsys):
    code, out, _ = run(capsys, "replay", "--since", "30d", "--priority", "low_cost", "--exclude", "bedrock")
    assert code == 0
    assert out.startswith("What if: priority low_cost; without bedrock")
    assert "by task:" in out and "by team:" in out and "-> azure/gpt-4o-mini" in out
    code, out, _ = run(capsys, "replay", "--priority", "low_cost", "--exclude", "bedrock", "--json")
    data = json.loads(out)
    assert code == 0 and data["totals"]["requests"] > 2000
    assert {r["task"] for r in data["by_task"]} == {"chat", "summarise", "extract", "classify", "rewrite"}
    assert all(m["after"] == "azure/gpt-4o-mini" for m in data["moves"])


def test_replay_refuses_bad_flags_in_one_line(env, capsys):
    code, _, err = run(capsys, "replay", "--exclude", "gpt-9")
    assert code == 2 and err.strip().startswith("error: exclude: 'gpt-9' is neither") and "\n" not in err.strip()
    code, _, err = run(capsys, "replay", "--since", "yesterday")
    assert code == 2 and "expected a span like 30d" in err


def test_bill_import_reports_the_gap_and_a_malformed_file_names_row_and_column(env, capsys, tmp_path):
    an = Analytics(env, max_staleness_s=0.0)
    paths = write_demo_bills(an, PriceTable.load(), tmp_path / "bills", days=5, gaps={("azure", "gpt-4o"): 0.10})
    an.close()
    code, out, _ = run(capsys, "bill", "import", str(paths[0]))
    assert code == 0 and "import #1: cost-details" in out
    assert "unknown meter: 'gpt-image-1 Img Outp glbl Tokens'" in out
    assert "GAP azure/gpt-4o: tokens +10.0%" in out and "ok  azure/gpt-4o-mini" in out
    code, out, _ = run(capsys, "bill", "status", "--json")
    assert code == 0 and len(json.loads(out)["models"]) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("Date,MeterCategory,MeterName,Quantity,CostInBillingCurrency\n11/31/2026,Foundry Models,x Inp,1,0.1\n")
    code, _, err = run(capsys, "bill", "import", str(bad))
    assert code == 2 and err.strip() == "error: row 2, column Date: '11/31/2026' is not a real date"


def test_since_reads_spans_and_dates():
    assert abs(since("30d") - (datetime.now(UTC) - timedelta(days=30))).total_seconds() < 5
    assert since("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)
    with pytest.raises(argparse.ArgumentTypeError):
        since("last month")
