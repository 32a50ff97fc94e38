"""Analytics by team and by API key: filters and breakdowns over a hand-built log, worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.usage import UsageLog

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=3)  # whole days ago: served from the rollups

# request, attempt, final, team, key_name, status, cost, latency ms, ts
ROWS = [
    ("a1", 1, 1, "search", "search-api", "ok", 0.010, 100.0, NOW - timedelta(minutes=5)),
    ("a2", 1, 1, "search", "search-api", "ok", 0.030, 300.0, OLD),
    ("a3", 1, 0, "search", "search-batch", "error", None, 50.0, NOW - timedelta(minutes=9)),
    ("a3", 2, 1, "search", "search-batch", "ok", 0.020, 200.0, NOW - timedelta(minutes=8)),
    ("a4", 1, 1, "support", "support-bot", "ok", 0.005, 400.0, OLD),
    ("a5", 1, 1, "default", None, "ok", 0.100, 800.0, NOW - timedelta(minutes=1)),
]


@pytest.fixture
def an(tmp_path):
    path = tmp_path / "usage.sqlite"
    with UsageLog(path) as log:
        for rid, attempt, final, team, key, status, cost, latency, ts in ROWS:
            log.write(
                {
                    "request_id": rid,
                    "attempt": attempt,
                    "final": final,
                    "provider": "azure",
                    "model": "gpt-4o-mini",
                    "team": team,
                    "key_name": key,
                    "status": status,
                    "cost_usd": cost,
                    "latency_ms": latency,
                    "input_tokens": 100 if status == "ok" else None,
                    "output_tokens": 10 if status == "ok" else None,
                    "ts": ts,
                }
            )
    a = Analytics(path, max_staleness_s=0.0)
    yield a
    a.close()


def test_spend_breaks_down_by_team_and_by_key(an):
    teams = an.spend_by_team(Filters()).groupby("team")[["requests", "cost_usd"]].sum()
    assert teams.loc["search", "requests"] == 3 and teams.loc["search", "cost_usd"] == pytest.approx(0.060)
    assert teams.loc["support", "cost_usd"] == pytest.approx(0.005)
    keys = an.spend_by_key(Filters()).groupby("key")[["requests", "cost_usd"]].sum()
    assert keys.loc["search-api", "requests"] == 2 and keys.loc["search-api", "cost_usd"] == pytest.approx(0.040)
    assert keys.loc["search-batch", "requests"] == 1  # a3 failed over and answered: one request, two attempts
    assert keys.loc["(no key)", "cost_usd"] == pytest.approx(0.100)
    assert sorted(keys.index) == ["(no key)", "search-api", "search-batch", "support-bot"]


def test_team_and_key_filters_narrow_every_figure(an):
    search = an.headline(Filters(teams=("search",)))
    assert (search["requests"], search["attempts"]) == (3, 4)
    assert search["spend_usd"] == pytest.approx(0.060)
    api = an.headline(Filters(keys=("search-api",)))
    assert api["requests"] == 2 and api["spend_usd"] == pytest.approx(0.040)
    # Latency is read from raw rows when a team or key is chosen (the stored histograms carry
    # neither), bucketed the same way: within one bucket (~2.2%) of a2's 300 ms, not a5's 800.
    assert api["p95_latency_ms"] == pytest.approx(300.0, rel=0.022)
    both = an.spend_by_key(Filters(teams=("search",), keys=("search-batch", "support-bot")))
    assert both["key"].tolist() == ["search-batch"]
    assert an.headline(Filters(keys=("nobody",)))["requests"] == 0


def test_filter_options_offer_teams_and_keys(an):
    opts = an.filter_options()
    assert opts["teams"] == ["default", "search", "support"]
    assert opts["keys"] == ["search-api", "search-batch", "support-bot"]
