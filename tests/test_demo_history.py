"""Synthetic demo history: realistic shape, real prices, and a clean purge."""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.pricing import PriceTable
from gateway_core.tasks import TASKS
from gateway_core.types import Usage
from gateway_core.usage import UsageLog
from gateway_core.usage.demo_history import MODELS, generate_rows, purge_synthetic, replace_demo, seed_demo
from gateway_core.usage.schema import WRITABLE

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
REQUESTS = 6000


@pytest.fixture(scope="module")
def prices():
    return PriceTable.load()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, prices):
    path = tmp_path_factory.mktemp("demo") / "usage.sqlite"
    written = seed_demo(path, days=30, requests=REQUESTS, now=NOW, seed=7, price_table=prices)
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM usage_logs ORDER BY id")]
    conn.close()
    return path, written, rows


def _ts(row) -> datetime:
    return datetime.strptime(row["ts"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)


def test_seed_writes_one_final_row_per_request_all_synthetic(seeded):
    _, written, rows = seeded
    assert written == len(rows) > REQUESTS
    assert sum(r["final"] for r in rows) == REQUESTS
    assert len({r["request_id"] for r in rows}) == REQUESTS
    assert all(r["synthetic"] == 1 for r in rows)
    assert all(NOW - timedelta(days=30) <= _ts(r) <= NOW + timedelta(minutes=1) for r in rows)
    assert {r["task"] for r in rows} == set(TASKS)
    assert {(r["provider"], r["model"]) for r in rows} == {(m[0], m[1]) for m in MODELS}
    teams = {r["team"] for r in rows}
    assert 3 <= len(teams) <= 4 and 8 <= len({r["user"] for r in rows}) <= 15


def test_errors_and_fallbacks_have_realistic_shares(seeded):
    _, _, rows = seeded
    finals = [r for r in rows if r["final"]]
    error_share = sum(r["status"] == "error" for r in finals) / len(finals)
    fallback_share = sum(r["attempt"] > 1 for r in finals) / len(finals)
    assert 0.015 < error_share < 0.05
    assert 0.01 < fallback_share < 0.035
    by_request = {}
    for r in rows:
        by_request.setdefault(r["request_id"], []).append(r)
    for attempts in by_request.values():
        if len(attempts) > 1:
            first, last = sorted(attempts, key=lambda r: r["attempt"])
            assert first["status"] == "error" and first["final"] == 0 and last["final"] == 1
            assert first["provider"] != last["provider"]  # fallback crosses to the other provider


def test_traffic_follows_the_working_day(seeded):
    _, _, rows = seeded
    by_hour = Counter(_ts(r).hour for r in rows)
    by_weekday = Counter(_ts(r).weekday() for r in rows)
    day_hours = sum(by_hour[h] for h in range(9, 17)) / 8
    night_hours = sum(by_hour[h] for h in range(0, 6)) / 6
    assert day_hours > 3 * night_hours
    assert (sum(by_weekday[d] for d in range(5)) / 5) > 2 * (sum(by_weekday[d] for d in (5, 6)) / 2)


def test_costs_match_the_price_table(seeded, prices):
    _, _, rows = seeded
    ok = [r for r in rows if r["status"] == "ok"]
    for r in ok[:: max(1, len(ok) // 500)]:
        usage = Usage(r["input_tokens"], r["output_tokens"], "provider", r["cached_input_tokens"])
        assert r["cost_usd"] == pytest.approx(float(prices.cost(r["provider"], r["model"], usage)), abs=2e-10)
        est = prices.estimate_cost(r["provider"], r["model"], r["prompt_tokens_est"], r["completion_tokens_est"])
        assert r["cost_est_usd"] == pytest.approx(float(est), abs=2e-10)
        assert r["total_tokens_est"] == r["prompt_tokens_est"] + r["completion_tokens_est"]
        assert r["price_version"] == prices.version
    assert any(r["cached_input_tokens"] for r in ok)  # cached pricing is exercised
    assert all(r["cost_usd"] is None and r["input_tokens"] is None for r in rows if r["status"] == "error")


def test_claude_rows_carry_raw_tiktoken_counts_for_calibration(seeded):
    _, _, rows = seeded
    claude = [r for r in rows if r["provider"] == "bedrock" and r["status"] == "ok"]
    ratio = sum(r["input_tokens"] for r in claude) / sum(r["estimate_raw_tokens"] for r in claude)
    assert 1.05 < ratio < 1.3  # Claude's tokenizer counts more than tiktoken


def test_generate_rows_yields_insert_tuples_in_chunks(prices):
    chunks = list(generate_rows(2500, now=NOW, price_table=prices, chunk_requests=1000))
    assert len(chunks) == 3
    assert all(len(row) == len(WRITABLE) for chunk in chunks for row in chunk)
    final = WRITABLE.index("final")
    assert sum(row[final] for chunk in chunks for row in chunk) == 2500


def test_purge_removes_only_synthetic_rows_and_analytics_rebuilds(tmp_path, prices):
    path = tmp_path / "usage.sqlite"
    with UsageLog(path) as log:
        log.write({"request_id": "real", "provider": "azure", "model": "gpt-4o-mini", "cost_usd": 0.001, "latency_ms": 5.0})
    written = seed_demo(path, requests=300, price_table=prices)
    an = Analytics(path, max_staleness_s=0.0)
    assert an.headline()["requests"] == 301
    assert an.headline(Filters(include_synthetic=False))["requests"] == 1
    assert purge_synthetic(path) == written
    assert an.headline()["requests"] == 1
    assert an.headline()["attempts"] == 1
    assert purge_synthetic(path) == 0


def test_seed_rejects_nonsense_arguments(tmp_path, prices):
    with pytest.raises(ValueError):
        seed_demo(tmp_path / "x.sqlite", days=0, price_table=prices)


def test_loading_demo_history_again_replaces_it_and_keeps_real_traffic(tmp_path, prices):
    db = tmp_path / "replace.sqlite"
    with UsageLog(db) as log:
        log.write({"request_id": "real_1", "provider": "azure", "model": "gpt-4o-mini"})
    first, removed = replace_demo(db, days=7, requests=300, price_table=prices, seed=1)
    assert removed == 0
    second, removed = replace_demo(db, days=7, requests=300, price_table=prices, seed=2)
    assert removed == first
    with sqlite3.connect(db) as conn:
        synthetic, real = conn.execute("SELECT sum(synthetic), sum(1 - synthetic) FROM usage_logs").fetchone()
        requests = conn.execute("SELECT count(*) FROM usage_logs WHERE synthetic = 1 AND final = 1").fetchone()[0]
    assert (synthetic, real, requests) == (second, 1, 300)
