"""Analytics summaries over the hand-built log of ``test_analytics``: savings split into saved
and overspent, teams, the previous period, provider health from the log, and a persisted
mirror written by an older version."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_analytics import NOW, write_log

from gateway_core.analytics import Analytics, Filters


@pytest.fixture
def log_path(tmp_path):
    return write_log(tmp_path)


@pytest.fixture
def an(log_path):
    a = Analytics(log_path, max_staleness_s=0.0)
    yield a
    a.close()


def test_savings_are_split_into_saved_and_overspent_per_provider(an):
    h = an.headline()
    # r1 saved 0.005 on azure; r2 overspent 0.010 on bedrock; synthetic r6 saved 0.1 on bedrock; r4 is unpriced
    assert (h["saved_usd"], h["overspent_usd"]) == (pytest.approx(0.105), pytest.approx(0.010))
    assert h["saved_usd"] - h["overspent_usd"] == pytest.approx(h["savings_usd"])
    assert h["cost_per_1k_requests"] == pytest.approx(108.0)
    split = an.savings_by_provider().set_index("provider")
    assert split.loc["azure", "saved_usd"] == pytest.approx(0.005) and split.loc["azure", "overspent_usd"] == 0
    assert split.loc["bedrock", "saved_usd"] == pytest.approx(0.1)
    assert split.loc["bedrock", "overspent_usd"] == pytest.approx(0.010)


def test_team_filter_and_spend_by_team(an):
    t2 = an.headline(Filters(teams=("t2",)))
    assert (t2["requests"], t2["spend_usd"]) == (2, pytest.approx(0.53))  # r2 and the synthetic r6
    assert an.latency_percentiles(Filters(teams=("t1",)))["n"].sum() == 2  # r1 and r4 answered
    teams = an.spend_by_team().groupby("team")["cost_usd"].sum()
    assert teams.to_dict() == {"t1": pytest.approx(0.010), "t2": pytest.approx(0.53)}
    assert an.filter_options()["teams"] == ["t1", "t2", "t3"]


def test_previous_period_has_the_same_length_and_ends_where_this_one_starts():
    now = datetime(2026, 3, 10, 12, 0)
    f = Filters(start=datetime(2026, 3, 1), end=datetime(2026, 3, 11), teams=("t1",))
    prev = f.previous(now=now)  # the future half-day of the open period does not count
    assert (prev.start, prev.end, prev.teams) == (datetime(2026, 2, 19, 12, 0), datetime(2026, 3, 1), ("t1",))  # 9.5 days
    closed = Filters(start=datetime(2026, 1, 1), end=datetime(2026, 1, 8)).previous(now=now)
    assert (closed.start, closed.end) == (datetime(2025, 12, 25), datetime(2026, 1, 1))


def test_provider_health_comes_from_the_log_window(an):
    health = an.provider_health(NOW.replace(tzinfo=None) - timedelta(hours=4)).set_index(["provider", "model"])
    mini = health.loc[("azure", "gpt-4o-mini")]
    assert (mini["calls"], mini["errors"], mini["error_rate"]) == (1, 0, 0)  # r1; r4 is 5 hours old
    claude = health.loc[("bedrock", "claude")]
    assert (claude["calls"], claude["errors"]) == (3, 1)  # r2's answer, r3's timeout, synthetic r6
    assert claude["error_rate"] == pytest.approx(1 / 3)
    assert claude["p50_ms"] == pytest.approx(350.0)
    real = an.provider_health(NOW.replace(tzinfo=None) - timedelta(hours=4), include_synthetic=False)
    assert real.set_index(["provider", "model"]).loc[("bedrock", "claude"), "calls"] == 2


def test_a_mirror_persisted_by_an_older_version_rebuilds_its_rollups(log_path, tmp_path):
    mirror = tmp_path / "old.duckdb"
    first = Analytics(log_path, max_staleness_s=0.0, mirror_path=str(mirror))
    first.refresh(force=True)
    first._con.execute("ALTER TABLE daily DROP COLUMN saved")  # as written before the split existed
    first.close()
    again = Analytics(log_path, max_staleness_s=0.0, mirror_path=str(mirror))
    try:
        assert again.headline()["saved_usd"] == pytest.approx(0.105)
    finally:
        again.close()
