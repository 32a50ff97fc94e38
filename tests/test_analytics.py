"""Analytics over a small hand-built usage log: every number here is worked out by hand. The
log is a SQLite file or a PostgreSQL database: the mirror and the row-level reads work on either."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.votes import wilson_interval
from gateway_core.usage import UsageLog

NOW = datetime.now(UTC)
EPOCH = datetime(2000, 1, 1)  # a filter start before every row


def _at(**delta) -> datetime:
    return NOW - timedelta(**delta)


# request, attempt, final, provider, model, status, cost, est, cf, latency, ttft, in, out, cached, user, team, task, ts
ROWS = [
    (
        "r1",
        1,
        1,
        "azure",
        "gpt-4o-mini",
        "ok",
        0.010,
        0.011,
        0.015,
        100.0,
        50.0,
        1000,
        200,
        100,
        "alice",
        "t1",
        "chat",
        _at(minutes=10),
    ),
    (
        "r2",
        1,
        0,
        "azure",
        "gpt-4o",
        "error",
        None,
        0.020,
        None,
        20.0,
        None,
        None,
        None,
        None,
        "bob",
        "t2",
        "summarise",
        _at(minutes=20),
    ),
    (
        "r2",
        2,
        1,
        "bedrock",
        "claude",
        "ok",
        0.030,
        0.028,
        0.020,
        300.0,
        None,
        2000,
        100,
        0,
        "bob",
        "t2",
        "summarise",
        _at(minutes=19),
    ),
    (
        "r3",
        1,
        1,
        "bedrock",
        "claude",
        "error",
        None,
        0.010,
        None,
        50.0,
        None,
        None,
        None,
        None,
        "alice",
        "t1",
        "chat",
        _at(hours=3),
    ),
    (
        "r4",
        1,
        1,
        "azure",
        "gpt-4o-mini",
        "ok",
        None,
        0.005,
        0.004,
        200.0,
        None,
        500,
        50,
        0,
        "carol",
        "t1",
        "classify",
        _at(hours=5),
    ),
    ("r5", 1, 1, "azure", "gpt-4o-mini", "ok", 1.000, 1.000, 1.000, 999.0, None, 10, 10, 0, "erin", "t3", "chat", _at(days=40)),
]
TOTAL_EST = {"r1": 1100, "r2": 2200, "r3": 500, "r4": 600, "r5": 20}


def _row(t) -> dict:
    rid, attempt, final, provider, model, status, cost, est, cf, lat, ttft, inp, out, cached, user, team, task, ts = t
    return {
        "request_id": rid,
        "attempt": attempt,
        "final": final,
        "provider": provider,
        "model": model,
        "status": status,
        "cost_usd": cost,
        "cost_est_usd": est,
        "counterfactual_cost_usd": cf,
        "latency_ms": lat,
        "ttft_ms": ttft,
        "streamed": ttft is not None,
        "input_tokens": inp,
        "output_tokens": out,
        "cached_input_tokens": cached,
        "user": user,
        "team": team,
        "task": task,
        "ts": ts,
        "total_tokens_est": TOTAL_EST[rid],
        "unpriced": 1 if (status == "ok" and cost is None) else 0,
        "error_type": {"r2": "rate_limited", "r3": "timeout"}[rid] if status == "error" else None,
    }


SYNTHETIC = {
    "request_id": "r6",
    "provider": "bedrock",
    "model": "claude",
    "status": "ok",
    "cost_usd": 0.5,
    "cost_est_usd": 0.4,
    "counterfactual_cost_usd": 0.6,
    "latency_ms": 400.0,
    "input_tokens": 100,
    "output_tokens": 10,
    "cached_input_tokens": 0,
    "user": "dan",
    "team": "t2",
    "task": "rewrite",
    "ts": _at(hours=2),
    "synthetic": 1,
    "total_tokens_est": 110,
}


def write_log(tmp_path, target=None):
    """The hand-built log as a SQLite file (or in ``target``); other test modules build on it too."""
    path = target or tmp_path / "usage.sqlite"
    with UsageLog(path) as log:
        for t in ROWS:
            row = _row(t)
            if row["request_id"] == "r1":
                row["prompt_text"] = "Summarise the quarterly numbers for jane@example.com"
            log.write(row)
        log.write(SYNTHETIC)
    return path


@pytest.fixture
def log_path(tmp_path, db_target):
    return write_log(tmp_path, db_target)


@pytest.fixture
def an(log_path):
    a = Analytics(log_path, max_staleness_s=0.0)
    yield a
    a.close()


def test_headline_matches_hand_computed_figures(an):
    h = an.headline()
    assert h["requests"] == 5 and h["attempts"] == 6
    assert h["spend_usd"] == pytest.approx(0.54)
    assert h["error_rate"] == pytest.approx(0.2)
    assert h["fallback_rate"] == pytest.approx(0.2)
    # Percentiles come from log2/16 histograms: the nearest-rank value, within one bucket (~2.2%).
    assert h["p50_latency_ms"] == pytest.approx(200.0, rel=0.022)  # successes 100, 200, 300, 400
    assert h["p95_latency_ms"] == pytest.approx(400.0, rel=0.022)
    assert h["p50_ttft_ms"] == pytest.approx(50.0, rel=0.022)
    assert (h["input_tokens"], h["output_tokens"], h["cached_input_tokens"]) == (3600, 360, 100)
    assert h["cost_per_request"] == pytest.approx(0.108)
    assert h["unpriced_share"] == pytest.approx(1 / 6)
    assert h["unpriced_spend_share"] == pytest.approx(0.005 / 0.474)
    assert h["savings_usd"] == pytest.approx(0.005 - 0.010 + 0.1)
    assert h["savings_pct"] == pytest.approx(100 * 0.095 / 0.635)


def test_filters_change_the_numbers(an):
    azure = an.headline(Filters(providers=("azure",)))
    assert (azure["requests"], azure["attempts"]) == (2, 3)
    assert azure["spend_usd"] == pytest.approx(0.010)
    real = an.headline(Filters(include_synthetic=False))
    assert real["requests"] == 4 and real["spend_usd"] == pytest.approx(0.04)
    alice = an.headline(Filters(users=("alice",)))
    assert alice["requests"] == 2 and alice["error_rate"] == pytest.approx(0.5)
    everything = an.headline(Filters(start=NOW - timedelta(days=60)))
    assert everything["requests"] == 6 and everything["spend_usd"] == pytest.approx(1.54)
    window = an.headline(Filters(start=_at(hours=4), end=_at(hours=1)))
    assert window["requests"] == 2  # r3 and the synthetic r6
    assert an.headline(Filters(tasks=("rewrite",)))["spend_usd"] == pytest.approx(0.5)
    assert an.headline(Filters(models=("nope",)))["requests"] == 0


def test_charts_add_up_to_the_headline(an):
    spend = an.spend_over_time()
    assert spend["cost_usd"].sum() == pytest.approx(0.54)
    assert set(spend["provider"]) == {"azure", "bedrock"}
    assert len(an.spend_over_time(bucket="hour")) >= len(spend)
    with pytest.raises(ValueError):
        an.spend_over_time(bucket="minute; DROP TABLE logs")
    tokens = an.tokens_by_provider().set_index(["provider", "token_type"])["tokens"]
    assert tokens[("azure", "input")] == 1400 and tokens[("azure", "cached")] == 100 and tokens[("azure", "output")] == 250
    errors = an.errors_over_time()
    assert (errors["errors"].sum(), errors["fallbacks"].sum(), errors["requests"].sum()) == (1, 1, 5)
    assert an.cost_per_request_distribution()["requests"].sum() == 3
    users = an.top_users(n=3)
    assert list(users["user"]) == ["dan", "bob", "alice"]
    assert users.iloc[1]["team"] == "t2" and users.iloc[1]["requests"] == 1


def test_latency_percentiles_and_estimate_error_per_model(an):
    lat = an.latency_percentiles().set_index(["provider", "model"])
    assert lat.loc[("azure", "gpt-4o-mini"), "n"] == 2
    assert lat.loc[("azure", "gpt-4o-mini"), "p50_latency_ms"] == pytest.approx(100.0, rel=0.022)
    assert lat.loc[("azure", "gpt-4o-mini"), "p99_latency_ms"] == pytest.approx(200.0, rel=0.022)
    assert lat.loc[("azure", "gpt-4o-mini"), "p50_ttft_ms"] == pytest.approx(50.0, rel=0.022)
    assert pd.isna(lat.loc[("bedrock", "claude"), "p50_ttft_ms"])  # never streamed: no TTFT, not zero
    err = an.estimate_error_by_model().set_index(["provider", "model"])
    mini = err.loc[("azure", "gpt-4o-mini")]
    assert mini["n"] == 2
    assert mini["mean_abs_pct_error"] == pytest.approx((100 / 1200 + 50 / 550) / 2 * 100)
    assert mini["mean_bias_pct"] == pytest.approx((-100 / 1200 + 50 / 550) / 2 * 100)


def test_incremental_refresh_adds_only_new_rows(log_path):
    an = Analytics(log_path, max_staleness_s=3600)
    assert an.refresh(force=True) == 7
    before = an.headline()["requests"]
    with UsageLog(log_path) as log:
        log.write({"request_id": "n1", "provider": "azure", "model": "gpt-4o-mini", "cost_usd": 0.002, "latency_ms": 10.0})
        log.write({"request_id": "n2", "provider": "azure", "model": "gpt-4o-mini", "cost_usd": 0.003, "latency_ms": 12.0})
    assert an.headline()["requests"] == before  # still within the staleness bound
    assert an.refresh(force=True) == 2
    assert an.refresh(force=True) == 0
    assert an.headline(Filters(start=EPOCH))["attempts"] == 9
    assert an.headline()["requests"] == before + 2
    assert an.reset() == 9


def test_export_csv_holds_filtered_rows_without_content(an):
    data = an.export_csv(Filters(providers=("azure",)))
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert len(rows) == 3
    assert "prompt_text" not in rows[0] and "response_text" not in rows[0]
    assert {r["request_id"] for r in rows} == {"r1", "r2", "r4"}
    assert b"quarterly" not in data


def test_requests_page_searches_and_paginates(an):
    page, total = an.requests_page()
    assert total == 5 and list(page["request_id"]) == ["r1", "r2", "r6", "r3", "r4"]  # newest first
    assert page.set_index("request_id").loc["r2", "attempts"] == 2
    assert page.set_index("request_id").loc["r2", "provider"] == "bedrock"
    hit, n = an.requests_page(search="rate_LIMITED")  # a non-final attempt's error still finds the request
    assert n == 1 and list(hit["request_id"]) == ["r2"]
    hit, n = an.requests_page(search="ALICE")
    assert n == 2 and set(hit["request_id"]) == {"r1", "r3"}
    hit, n = an.requests_page(search="quarterly")
    assert list(hit["request_id"]) == ["r1"]
    last, n = an.requests_page(page=3, page_size=2)
    assert n == 5 and list(last["request_id"]) == ["r4"]
    empty, n = an.requests_page(search="no-such-thing")
    assert n == 0 and empty.empty


def test_attempts_for_lists_every_attempt_with_masked_content(an):
    attempts = an.attempts_for("r2")
    assert list(attempts["attempt"]) == [1, 2]
    assert list(attempts["provider"]) == ["azure", "bedrock"]
    assert list(attempts["status"]) == ["error", "ok"]
    prompt = an.attempts_for("r1")["prompt_text"].iloc[0]
    assert "jane@example.com" not in prompt and "[email]" in prompt
    assert an.attempts_for("missing").empty


def test_filter_options_list_distinct_values(an):
    opts = an.filter_options()
    assert opts["providers"] == ["azure", "bedrock"]
    assert opts["users"] == ["alice", "bob", "carol", "dan", "erin"]
    assert "classify" in opts["tasks"]


def test_vote_summary_win_rate_with_wilson_interval(log_path, an):
    log = UsageLog(log_path)
    for verdict in ("a", "a", "a", "b", "tie"):
        log.record_vote(
            compare_id=f"c-{verdict}",
            task="chat",
            verdict=verdict,
            provider_a="azure",
            model_a="gpt-4o-mini",
            cost_a_usd=0.001,
            provider_b="bedrock",
            model_b="claude",
            cost_b_usd=0.002,
        )
    log.close()
    summary = an.vote_summary().set_index(["provider", "task"])
    azure = summary.loc[("azure", "chat")]
    assert (azure["votes"], azure["wins"], azure["ties"]) == (5, 3, 1)
    assert azure["win_rate"] == pytest.approx(0.6)
    assert azure["ci_low"] == pytest.approx(0.2307, abs=1e-4) and azure["ci_high"] == pytest.approx(0.8824, abs=1e-4)
    assert azure["cost_per_win_usd"] == pytest.approx(0.005 / 3)
    assert summary.loc[("bedrock", "all"), "wins"] == 1
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_missing_database_reads_as_empty(tmp_path):
    an = Analytics(tmp_path / "absent.sqlite")
    assert an.headline()["requests"] == 0
    assert an.requests_page()[1] == 0
    assert an.latency_percentiles().empty
    assert an.vote_summary().empty
    assert not (tmp_path / "absent.sqlite").exists()  # analytics never creates the log


def test_mirror_works_where_duckdb_can_neither_install_nor_load_an_extension(log_path, tmp_path, monkeypatch):
    import duckdb

    real_connect = duckdb.connect
    offline = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "extension_directory": str(tmp_path / "no-extensions"),
    }

    def connect(database=":memory:", *args, **kwargs):
        return real_connect(database, *args, config=offline)

    monkeypatch.setattr(duckdb, "connect", connect)
    an = Analytics(log_path, max_staleness_s=0.0)
    try:
        assert an.refresh(force=True) == 7
        assert an.headline(Filters(start=EPOCH))["attempts"] == 7
    finally:
        an.close()


def test_rollups_agree_with_raw_rows_on_partial_days(tmp_path):
    import sqlite3
    import statistics

    from gateway_core.usage.demo_history import seed_demo

    path = tmp_path / "demo.sqlite"
    seed_demo(path, days=10, requests=3000, now=NOW, seed=3)
    start, end = NOW - timedelta(days=7, hours=5, minutes=13), NOW - timedelta(days=1, hours=3)
    f = Filters(start=start, end=end, users=("alice", "bob", "dana"))
    h = Analytics(path).headline(f)
    text = [t.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") for t in (start, end)]
    conn = sqlite3.connect(path)
    where = "ts >= ? AND ts < ? AND user IN ('alice', 'bob', 'dana')"
    requests, spend = conn.execute(f"SELECT sum(final), sum(cost_usd) FROM usage_logs WHERE {where}", text).fetchone()
    latencies = [r[0] for r in conn.execute(f"SELECT latency_ms FROM usage_logs WHERE {where} AND status = 'ok'", text)]
    assert h["requests"] == requests > 100
    assert h["spend_usd"] == pytest.approx(spend)
    assert h["p50_latency_ms"] == pytest.approx(statistics.median(latencies), rel=0.03)


def test_persisted_mirror_resumes_with_only_new_rows(tmp_path, db_target):
    from gateway_core.usage.demo_history import seed_demo

    db, mirror = db_target, str(tmp_path / "mirror.duckdb")
    seed_demo(db, days=3, requests=500)
    first = Analytics(db, mirror_path=mirror)
    loaded = first.refresh(force=True)
    spend = first.headline(Filters())["spend_usd"]
    first.close()
    assert loaded > 500

    seed_demo(db, days=3, requests=100, seed=1)
    second = Analytics(db, mirror_path=mirror)
    try:
        assert second.refresh(force=True) < loaded, "a restart loads only the rows added since"
        assert second.headline(Filters())["spend_usd"] > spend
        assert second.headline(Filters(start=EPOCH))["attempts"] > loaded
    finally:
        second.close()
