"""Blind votes per model: win rates with intervals, the cost-quality frontier, and progress to enough votes."""

from __future__ import annotations

import pytest

from gateway_core.analytics import Analytics
from gateway_core.analytics.votes import on_frontier
from gateway_core.stats import wilson_interval
from gateway_core.usage import UsageLog

MINI, HAIKU, SONNET = ("azure", "gpt-4o-mini"), ("bedrock", "claude-haiku"), ("bedrock", "claude-sonnet")


def vote(log, n, a, b, verdict, cost_a, cost_b, task="chat"):
    for i in range(n):
        log.record_vote(
            compare_id=f"{a[1]}-{b[1]}-{verdict}-{i}",
            verdict=verdict,
            task=task,
            provider_a=a[0],
            model_a=a[1],
            cost_a_usd=cost_a,
            provider_b=b[0],
            model_b=b[1],
            cost_b_usd=cost_b,
        )


@pytest.fixture
def an(tmp_path):
    path = tmp_path / "usage.sqlite"
    with UsageLog(path) as log:
        # mini vs haiku: mini wins 6 of 10, cheap; mini vs sonnet: sonnet wins 8 of 10, dear.
        vote(log, 6, MINI, HAIKU, "a", 0.001, 0.002)
        vote(log, 4, MINI, HAIKU, "b", 0.001, 0.002)
        vote(log, 8, MINI, SONNET, "b", 0.001, 0.010)
        vote(log, 2, MINI, SONNET, "tie", 0.001, 0.010)
    a = Analytics(path, max_staleness_s=0.0)
    yield a
    a.close()


def test_win_rate_interval_and_cost_per_win_per_model(an):
    votes = an.model_votes().set_index(["provider", "model"])
    mini = votes.loc[MINI]
    assert (mini["votes"], mini["wins"], mini["ties"]) == (20, 6, 2)
    assert (mini["ci_low"], mini["ci_high"]) == pytest.approx(wilson_interval(6, 20))
    assert mini["cost_per_win_usd"] == pytest.approx(20 * 0.001 / 6)
    assert votes.loc[SONNET, "win_rate"] == pytest.approx(0.8)


def test_frontier_keeps_models_nobody_beats_on_both_cost_and_quality(an):
    votes = an.model_votes().set_index(["provider", "model"])
    # mini: 30% at $0.0033/win; haiku: 40% at $0.005/win; sonnet: 80% at $0.0125/win -> all trade off.
    assert votes["frontier"].all()
    frame = votes.reset_index()
    haiku = frame.index[frame["model"] == "claude-haiku"][0]
    frame.loc[haiku, ["cost_per_win_usd", "win_rate"]] = [0.02, 0.5]  # dearer and worse than sonnet
    assert not on_frontier(frame, haiku)


def test_pair_progress_counts_each_models_votes_against_the_floors_minimum(an):
    progress = an.vote_progress(min_votes=15).set_index(["model_a", "model_b"])
    haiku_pair = progress.loc[("azure/gpt-4o-mini", "bedrock/claude-haiku")]
    assert (haiku_pair["votes"], haiku_pair["votes_a"], haiku_pair["votes_b"]) == (10, 20, 10)
    assert haiku_pair["progress"] == pytest.approx(10 / 15)
    assert progress["needed"].unique().tolist() == [15]
