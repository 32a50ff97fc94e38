"""Month-end forecast and spend anomalies: worked numbers, and a spike planted in demo history."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.forecast import Z95, anomalies, month_end_forecast
from gateway_core.usage import UsageLog
from gateway_core.usage.demo_history import seed_demo


def test_forecast_is_month_to_date_plus_run_rate_with_a_band():
    # Nov 2026: ten days at $10, then $20 a day for the seven days before the 18th.
    days = [date(2026, 11, d) for d in range(1, 18)]
    daily = pd.DataFrame({"day": days, "spend": [10.0] * 10 + [20.0] * 7})
    f = month_end_forecast(daily, date(2026, 11, 18))
    assert f["month_to_date"] == pytest.approx(240.0)
    assert f["run_rate"] == pytest.approx(20.0) and f["days_left"] == 13  # the 18th to the 30th
    assert f["forecast"] == pytest.approx(240.0 + 20.0 * 13)
    assert f["low"] == f["high"] == pytest.approx(500.0)  # a flat week has no spread
    noisy = daily.assign(spend=[10.0] * 10 + [10.0, 30.0] * 3 + [20.0])
    g = month_end_forecast(noisy, date(2026, 11, 18))
    sd = pd.Series([10.0, 30.0] * 3 + [20.0]).std()
    assert g["high"] - g["forecast"] == pytest.approx(Z95 * sd * math.sqrt(13))
    assert month_end_forecast(pd.DataFrame(columns=["day", "spend"]), date(2026, 11, 18))["forecast"] == 0.0


def test_a_day_three_mads_above_its_trailing_fortnight_is_flagged_and_a_dip_is_not():
    days = [date(2026, 10, 1) + timedelta(days=i) for i in range(30)]
    spend = [100.0 + (i % 3) for i in range(30)]
    spend[20], spend[25] = 160.0, 10.0  # a spike and a dip
    daily = pd.DataFrame({"day": days, "team": "search", "spend": spend})
    judged = anomalies(daily, "team")
    assert judged["day"].min() == days[14]  # judged only with a full trailing window
    assert judged[judged["flagged"]]["day"].tolist() == [days[20]]
    assert set(anomalies(daily, "team", both_ways=True).query("flagged")["day"]) == {days[20], days[25]}
    # A steady series' wobble can be many MADs when the MAD is tiny; under 25% it is no alarm.
    steady = daily.assign(spend=[100.0 + 0.01 * (i % 2) for i in range(29)] + [103.0])
    judged = anomalies(steady, "team")
    assert judged["score"].iloc[-1] > 100 and not judged["flagged"].any()


def test_a_spike_planted_in_demo_history_is_flagged_for_its_team_and_model(tmp_path):
    path = tmp_path / "log.sqlite"
    seed_demo(path, requests=20_000, days=30, seed=3)
    spike_day = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with UsageLog(path) as log:
        for i in range(60):  # about $30 of gpt-4o traffic, several weeks of the team's usual spend
            log.write(
                {
                    "request_id": f"spike-{i}",
                    "provider": "azure",
                    "model": "gpt-4o",
                    "team": "marketing",
                    "user": "kate",
                    "task": "rewrite",
                    "input_tokens": 50_000,
                    "output_tokens": 40_000,
                    "cost_usd": 0.525,
                    "latency_ms": 9000.0,
                    "ts": spike_day + timedelta(seconds=i),
                }
            )
    an = Analytics(path, max_staleness_s=0.0)
    try:
        teams = an.spend_anomalies(Filters(), by="team")
        top = teams.sort_values("score").iloc[-1]
        assert (top["team"], top["day"]) == ("marketing", spike_day.date())
        models = an.spend_anomalies(Filters(), by="model")
        assert f"gpt-4o@{spike_day.date()}" in set(models["model"] + "@" + models["day"].astype(str))
        forecast = an.month_end_forecast()
        assert forecast["low"] <= forecast["forecast"] <= forecast["high"]
    finally:
        an.close()
