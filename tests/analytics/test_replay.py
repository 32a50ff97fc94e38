"""What-if replay over a small hand-built log: every total here is worked out by hand.

Prices come from a test price file with round numbers (USD per 1M tokens): the Azure model
bills 1 in / 2 out, the Bedrock model 3 in / 4 out. Bedrock's logged input is 1.25 x the raw
tiktoken count, so its calibration factor is exactly 1.25.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway_core.analytics import Analytics, Filters
from gateway_core.analytics.replay import Scenario
from gateway_core.errors import ValidationError
from gateway_core.pricing import PriceTable
from gateway_core.usage import UsageLog

AZ, BR = ("azure", "gpt-4o-mini"), ("bedrock", "anthropic.claude-3-haiku-20240307-v1:0")
NOW = datetime.now(UTC)
PRICES = """
version = "test"
[[prices]]
provider = "azure"
model = "gpt-4o-mini"
input = "1"
output = "2"
[[prices]]
provider = "bedrock"
model = "anthropic.claude-3-haiku-20240307-v1:0"
input = "3"
output = "4"
"""
# id, (provider, model), task, team, input, output, raw, latency, logged cost
REQUESTS = [
    ("r1", AZ, "chat", "a", 1000, 100, 1000, 100.0, 1200e-6),
    ("r2", AZ, "chat", "b", 2000, 300, 2000, 200.0, 2600e-6),
    ("r3", BR, "summarise", "a", 1250, 200, 1000, 300.0, 4550e-6),
    ("r4", BR, "summarise", "b", 2500, 100, 2000, 400.0, 7900e-6),
]
BASELINE = 16250e-6


@pytest.fixture
def prices(tmp_path):
    path = tmp_path / "prices.toml"
    path.write_text(PRICES)
    return PriceTable.load(str(path))


@pytest.fixture
def an(tmp_path):
    path = tmp_path / "usage.sqlite"
    with UsageLog(path) as log:
        for i, (rid, (provider, model), task, team, inp, out, raw, latency, cost) in enumerate(REQUESTS):
            log.write(
                {
                    "request_id": rid,
                    "provider": provider,
                    "model": model,
                    "task": task,
                    "team": team,
                    "priority": "balanced",
                    "input_tokens": inp,
                    "output_tokens": out,
                    "cached_input_tokens": 0,
                    "estimate_raw_tokens": raw,
                    "latency_ms": latency,
                    "cost_usd": cost,
                    "ts": NOW - timedelta(hours=1 + i),
                }
            )
    a = Analytics(path, max_staleness_s=0.0)
    yield a
    a.close()


def test_all_on_one_provider_matches_totals_worked_by_hand(an, prices):
    # r3, r4 move to Azure at their raw count: 1000x1 + 200x2 and 2000x1 + 100x2.
    azure = an.replay(Scenario(providers=("azure",)), prices)
    assert azure.totals["requests"] == 4
    assert azure.totals["spend_usd"] == pytest.approx(BASELINE)
    assert azure.totals["replay_spend_usd"] == pytest.approx((1200 + 2600 + 1400 + 2200) * 1e-6)
    assert azure.totals["saving_usd"] == pytest.approx((16250 - 7400) * 1e-6)
    assert azure.totals["moved_share"] == pytest.approx(0.5)
    # r1, r2 move to Bedrock at 1.25 x raw: 1250x3 + 100x4 and 2500x3 + 300x4.
    bedrock = an.replay(Scenario(exclude=("azure",)), prices)
    assert bedrock.totals["replay_spend_usd"] == pytest.approx((4150 + 8700 + 4550 + 7900) * 1e-6)
    assert bedrock.totals["saving_usd"] == pytest.approx((16250 - 25300) * 1e-6)
    moved = {(m["before"], m["after"]): m["requests"] for m in bedrock.moves.to_dict("records")}
    assert moved == {("azure/gpt-4o-mini", "bedrock/anthropic.claude-3-haiku-20240307-v1:0"): 2}


def test_replay_reports_by_task_and_team(an, prices):
    r = an.replay(Scenario(providers=("azure",)), prices)
    task = r.by_task.set_index("task")
    assert task.loc["summarise", "moved_share"] == 1.0 and task.loc["chat", "moved_share"] == 0.0
    assert task.loc["summarise", "replay_spend_usd"] == pytest.approx(3600e-6)
    team = r.by_team.set_index("team")
    assert team.loc["a", "spend_usd"] == pytest.approx((1200 + 4550) * 1e-6)
    assert team.loc["a", "replay_spend_usd"] == pytest.approx((1200 + 1400) * 1e-6)


def test_moved_requests_take_the_same_place_in_the_new_models_latency_history(an, prices):
    # Azure never served summarise, so its latencies over all tasks (100, 200) are used; r3 and
    # r4 sit at the 25th and 75th percentile of Bedrock's summarise latencies (300, 400), and the
    # nearest-rank 25th and 75th percentiles of Azure's are 100 and 200 ms (read off 1/16-octave
    # buckets, so within ~2.2%).
    r = an.replay(Scenario(providers=("azure",)), prices)
    summarise = r.by_task.set_index("task").loc["summarise"]
    assert summarise["p90_ms"] == 400.0
    assert summarise["replay_p50_ms"] == pytest.approx(100.0, rel=0.022)
    assert summarise["replay_p90_ms"] == pytest.approx(200.0, rel=0.022)
    assert summarise["p90_change_ms"] == pytest.approx(summarise["replay_p90_ms"] - 400.0)


def test_low_cost_sends_everything_to_the_cheapest_and_low_latency_to_the_fastest(an, prices):
    cheap = an.replay(Scenario(priority="low_cost"), prices)
    assert set(cheap.moves["after"]) == {"azure/gpt-4o-mini"}
    fast = an.replay(Scenario(priority="low_latency"), prices)  # p90: Azure 200 ms, Bedrock 400 ms
    assert fast.totals["moved_share"] == 0.5 and set(fast.moves["after"]) == {"azure/gpt-4o-mini"}


def test_a_price_cut_moves_traffic_once_the_cheaper_side_flips(an, prices):
    # At a tenth of its price Bedrock costs 0.3 in / 0.4 out, below Azure even at 1.25 x tokens.
    r = an.replay(Scenario(priority="low_cost", price_scale=(("bedrock", 0.1),)), prices)
    assert set(r.moves["after"]) == {"bedrock/anthropic.claude-3-haiku-20240307-v1:0"}
    assert r.totals["replay_spend_usd"] == pytest.approx((415 + 870 + 455 + 790) * 1e-6)


def test_replay_refuses_an_exclusion_that_matches_nothing_or_leaves_nothing(an, prices):
    with pytest.raises(ValidationError) as e:
        an.replay(Scenario(exclude=("gpt-9",)), prices)
    assert e.value.field == "exclude"
    with pytest.raises(ValidationError) as e:
        an.replay(Scenario(exclude=("azure", "bedrock")), prices)
    assert e.value.field == "exclude"
    with pytest.raises(ValidationError):
        Scenario(priority="fastest")


def test_a_bare_model_id_excludes_that_model_and_an_empty_period_is_refused(an, prices):
    r = an.replay(Scenario(exclude=("gpt-4o-mini",)), prices)
    assert set(r.moves["after"]) == {"bedrock/anthropic.claude-3-haiku-20240307-v1:0"}
    with pytest.raises(ValidationError) as e:
        an.replay(Scenario(), prices, Filters(start=NOW + timedelta(days=1)))
    assert e.value.field == "since"
