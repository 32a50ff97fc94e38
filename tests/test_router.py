"""Ranking tables for every routing rule, plus the latency and output-token statistics it reads."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from gateway_core.router import Candidate, LatencyTracker, OutputTokenStats, RouteStats, rank
from gateway_core.stats import QualityStats, QualityTracker, wilson_interval
from gateway_core.types import GenerateRequest

MINI = Candidate("azure", "gpt-4o-mini", 100, 200, Decimal("0.000135"))
GPT4O = Candidate("azure", "gpt-4o", 100, 200, Decimal("0.002250"))
HAIKU = Candidate("bedrock", "anthropic.claude-3-haiku-20240307-v1:0", 110, 200, Decimal("0.000278"))
SONNET = Candidate("bedrock", "anthropic.claude-3-sonnet-20240229-v1:0", 110, 200, Decimal("0.003330"))
MYSTERY = Candidate("bedrock", "anthropic.unknown-v1:0", 110, 200, None)
ALL = (GPT4O, SONNET, MINI, HAIKU)


def req(**kw):
    return GenerateRequest(prompt="Summarise: the quarterly numbers", **kw)


def labels(ranking):
    return [c.label for c in ranking.ordered]


def stats(total=None, ttft=None, samples=None):
    total = total or {}
    ttft = ttft or {}
    samples = samples or {k: 50 for k in set(total) | set(ttft)}
    return RouteStats(total, ttft, samples, {k: v for k, v in samples.items() if k in ttft})


FAST_BEDROCK = stats(
    total={MINI.key: 900.0, GPT4O.key: 1500.0, HAIKU.key: 400.0, SONNET.key: 1200.0},
    ttft={MINI.key: 300.0, GPT4O.key: 350.0, HAIKU.key: 500.0, SONNET.key: 200.0},
)


# --- priorities ------------------------------------------------------------------------


def test_low_cost_picks_cheapest_then_the_other_provider():
    r = rank(req(priority="low_cost"), ALL, RouteStats())
    assert labels(r) == [MINI.label, HAIKU.label, GPT4O.label, SONNET.label]
    assert r.reason.startswith("low_cost: azure/gpt-4o-mini est $0.000135 < bedrock/anthropic.claude-3-haiku")


def test_low_cost_ranks_unpriced_last_and_says_so():
    r = rank(req(priority="low_cost"), (MYSTERY, SONNET, MINI), RouteStats())
    assert labels(r) == [MINI.label, SONNET.label, MYSTERY.label]
    assert r.scores[MYSTERY.label] is None
    assert "unpriced ranked last: bedrock/anthropic.unknown-v1:0" in r.reason


def test_low_latency_uses_total_p90_when_not_streaming():
    r = rank(req(priority="low_latency"), ALL, FAST_BEDROCK)
    assert labels(r)[0] == HAIKU.label and labels(r)[1] == MINI.label  # then the other provider
    assert "p90 400ms" in r.reason


def test_low_latency_uses_ttft_p90_when_streaming():
    r = rank(req(priority="low_latency"), ALL, FAST_BEDROCK, streaming=True)
    assert labels(r)[:2] == [SONNET.label, MINI.label]
    assert "p90 ttft 200ms" in r.reason


def test_unsampled_candidate_gets_the_median_prior_not_a_free_win():
    known = stats(total={MINI.key: 300.0, HAIKU.key: 900.0, GPT4O.key: 600.0})
    r = rank(req(priority="low_latency"), (MINI, HAIKU, GPT4O, SONNET), known)
    assert r.scores[SONNET.label] == 600.0  # median of the known p90s
    assert labels(r)[0] == MINI.label


def test_with_no_samples_anywhere_latency_ties_fall_back_to_config_order():
    r = rank(req(priority="low_latency"), (HAIKU, MINI), RouteStats())
    assert labels(r) == [HAIKU.label, MINI.label]
    assert "(prior)" in r.reason


def test_balanced_weighs_cost_ratio_and_latency_ratio_equally():
    s = stats(total={MINI.key: 2000.0, HAIKU.key: 500.0})
    r = rank(req(priority="balanced"), (MINI, HAIKU), s)
    # mini: 0.5*1 + 0.5*4 = 2.5 ; haiku: 0.5*(278/135) + 0.5*1 ≈ 1.53
    assert r.scores[MINI.label] == pytest.approx(2.5)
    assert r.scores[HAIKU.label] == pytest.approx(0.5 * 278 / 135 + 0.5, rel=1e-6)
    assert labels(r) == [HAIKU.label, MINI.label]
    assert r.reason.startswith("balanced: bedrock/")


def test_balanced_prefers_cheap_when_latency_is_equal():
    s = stats(total={MINI.key: 800.0, HAIKU.key: 800.0})
    assert labels(rank(req(priority="balanced"), (HAIKU, MINI), s))[0] == MINI.label


# --- hint, pin and fallback ------------------------------------------------------------


def test_provider_hint_puts_hinted_provider_first_ordered_by_priority():
    r = rank(req(priority="low_cost", provider_hint="bedrock"), ALL, RouteStats())
    assert labels(r) == [HAIKU.label, SONNET.label, MINI.label, GPT4O.label]
    assert "hint=bedrock" in r.reason


def test_hint_without_fallback_drops_the_other_provider():
    r = rank(req(priority="low_cost", provider_hint="bedrock", fallback=False), ALL, RouteStats())
    assert labels(r) == [HAIKU.label, SONNET.label]
    dropped = {c.label for c, _, why in r.rejected if why.startswith("dropped")}
    assert dropped == {MINI.label, GPT4O.label}
    assert "fallback disabled" in r.reason


def test_no_fallback_without_hint_keeps_only_the_first_choices_provider():
    r = rank(req(priority="low_cost", fallback=False), ALL, RouteStats())
    assert {c.provider for c in r.ordered} == {"azure"} and labels(r)[0] == MINI.label


def test_pinned_model_goes_first_even_when_dearer_and_never_falls_back_to_another_model():
    r = rank(req(priority="low_cost", model=SONNET.model), ALL, RouteStats())
    assert labels(r) == [SONNET.label]
    assert f"pinned model {SONNET.model}" in r.reason
    assert "3 candidate(s) serving other models are not fallbacks" in r.reason


def test_a_pinned_model_falls_back_to_another_copy_of_the_same_model():
    dep_a = Candidate("azure", "mini-eu", 100, 200, Decimal("0.0001"), serves="gpt-4o-mini")
    dep_b = Candidate("azure", "mini-us", 100, 200, Decimal("0.0001"), serves="gpt-4o-mini")
    profile = Candidate("bedrock", "us." + HAIKU.model, 110, 200, Decimal("0.0002"), serves=HAIKU.model)
    r = rank(req(priority="low_cost", model="mini-eu"), (GPT4O, dep_a, HAIKU, dep_b, MINI), RouteStats())
    assert labels(r) == [dep_a.label, dep_b.label, MINI.label]  # MINI is a deployment of gpt-4o-mini too
    r = rank(req(priority="low_cost", model=HAIKU.model), (MINI, profile, HAIKU, SONNET), RouteStats())
    assert labels(r) == [HAIKU.label, profile.label]


def test_a_pin_and_a_hint_choose_between_providers_serving_the_same_model():
    on_azure = Candidate("azure", "shared-model", 110, 200, Decimal("0.0001"))
    on_bedrock = Candidate("bedrock", "shared-model", 110, 200, Decimal("0.0009"))
    r = rank(req(priority="low_cost", model="shared-model", provider_hint="bedrock"), (on_azure, on_bedrock, MINI), RouteStats())
    assert labels(r)[0] == on_bedrock.label and on_azure in r.ordered  # the other copy stays a fallback
    assert "pinned model shared-model on bedrock" in r.reason
    unhinted = rank(req(priority="low_cost", model="shared-model"), (on_azure, on_bedrock, MINI), RouteStats())
    assert labels(unhinted)[:2] == [on_azure.label, on_bedrock.label]  # both pinned, cheapest first


def test_pinned_model_without_fallback_is_the_only_candidate():
    r = rank(req(priority="low_cost", model=GPT4O.model, fallback=False), ALL, RouteStats())
    assert labels(r) == [GPT4O.label]


def test_unknown_pinned_model_ranks_everything_and_says_so():
    r = rank(req(priority="low_cost", model="gpt-9"), ALL, RouteStats())
    assert labels(r)[0] == MINI.label and "pinned model gpt-9 is not a candidate" in r.reason


def test_other_provider_comes_second_even_if_same_provider_is_cheaper():
    r = rank(req(priority="low_cost"), (MINI, GPT4O, SONNET), RouteStats())
    assert labels(r) == [MINI.label, SONNET.label, GPT4O.label]


# --- breakers and exploration ----------------------------------------------------------


def test_fallback_skips_open_breaker_until_last_resort():
    r = rank(req(priority="low_cost"), ALL, RouteStats(), breaker_states={MINI.key: "open", HAIKU.key: "closed"})
    assert labels(r)[0] == HAIKU.label and labels(r)[-1] == MINI.label
    assert labels(r)[1] == GPT4O.label  # the other provider next, skipping the open one
    assert "breaker open: azure/gpt-4o-mini moved last" in r.reason
    assert (MINI, r.scores[MINI.label], "breaker open: last resort") in r.rejected


def test_open_hinted_provider_falls_behind_healthy_fallbacks():
    states = {HAIKU.key: "open", SONNET.key: "open"}
    r = rank(req(priority="low_cost", provider_hint="bedrock"), ALL, RouteStats(), breaker_states=states)
    assert labels(r) == [MINI.label, GPT4O.label, HAIKU.label, SONNET.label]


def test_half_open_candidate_keeps_its_place_so_the_probe_runs():
    r = rank(req(priority="low_cost"), ALL, RouteStats(), breaker_states={MINI.key: "half_open"})
    assert labels(r)[0] == MINI.label


def test_exploration_promotes_the_least_sampled_healthy_candidate():
    s = RouteStats({MINI.key: 300.0, HAIKU.key: 900.0, SONNET.key: 950.0}, {}, {MINI.key: 200, HAIKU.key: 40, SONNET.key: 3})
    assert labels(rank(req(priority="low_latency"), (MINI, HAIKU, SONNET), s, explore_roll=0.5))[0] == MINI.label
    r = rank(req(priority="low_latency"), (MINI, HAIKU, SONNET), s, explore_roll=0.01, explore_rate=0.05)
    assert labels(r)[:2] == [SONNET.label, MINI.label]
    assert "explore: bedrock/anthropic.claude-3-sonnet-20240229-v1:0 has 3 samples" in r.reason


def test_exploration_never_promotes_an_open_breaker_or_changes_low_cost():
    s = RouteStats({MINI.key: 300.0, HAIKU.key: 900.0}, {}, {MINI.key: 200, HAIKU.key: 0})
    r = rank(req(priority="low_latency"), (MINI, HAIKU), s, breaker_states={HAIKU.key: "open"}, explore_roll=0.0)
    assert labels(r)[0] == MINI.label
    assert labels(rank(req(priority="low_cost"), (GPT4O, MINI), s, explore_roll=0.0))[0] == MINI.label


def test_every_candidate_is_scored_and_every_runner_up_is_explained():
    r = rank(req(priority="balanced"), ALL, FAST_BEDROCK)
    assert set(r.scores) == {c.label for c in ALL}
    assert [c for c, _, _ in r.rejected] == list(r.ordered[1:])
    assert all(why.startswith("fallback #") for _, _, why in r.rejected)


def test_no_candidates_gives_an_empty_ranking():
    r = rank(req(), (), RouteStats())
    assert r.ordered == () and r.first is None and "no candidates" in r.reason


# --- latency statistics ----------------------------------------------------------------


def test_latency_tracker_p90_uses_nearest_rank_and_ignores_failures():
    t = LatencyTracker(window=200)
    for ms in range(1, 11):
        t.observe("azure", "m", ms * 100.0, ms * 10.0, True)
    t.observe("azure", "m", 5.0, None, False)  # a fast failure must not look like a fast provider
    health = t.summary("azure", "m")
    assert (health["p90_ms"], health["p50_ms"], health["ttft_p90_ms"]) == (900.0, 500.0, 90.0)
    assert health["error_rate"] == pytest.approx(1 / 11)
    snap = t.snapshot()
    assert snap.p90(("azure", "m")) == 900.0 and snap.p90(("azure", "m"), streaming=True) == 90.0
    assert snap.count(("azure", "m")) == 10


def test_latency_window_forgets_old_samples():
    t = LatencyTracker(window=5)
    for _ in range(5):
        t.observe("bedrock", "m", 5000.0, None, True)
    for _ in range(5):
        t.observe("bedrock", "m", 100.0, None, True)
    assert t.snapshot().p90(("bedrock", "m")) == 100.0


def test_latency_seed_loads_ok_and_error_rows_and_skips_rejected():
    rows = [
        {"provider": "azure", "model": "m", "latency_ms": 200.0, "ttft_ms": 50.0, "status": "ok"},
        {"provider": "azure", "model": "m", "latency_ms": 400.0, "ttft_ms": None, "status": "ok"},
        {"provider": "azure", "model": "m", "latency_ms": 10.0, "ttft_ms": None, "status": "error"},
        {"provider": "azure", "model": "m", "latency_ms": 0.0, "ttft_ms": None, "status": "rejected"},
    ]
    t = LatencyTracker()
    assert t.seed(rows) == 3
    snap = t.snapshot()
    assert snap.p90(("azure", "m")) == 400.0 and snap.count(("azure", "m")) == 2
    assert snap.count(("azure", "m"), streaming=True) == 1
    assert t.summary("azure", "m")["error_rate"] == pytest.approx(1 / 3)


def test_snapshot_is_stable_until_something_new_is_observed():
    t = LatencyTracker(snapshot_max_age_s=0)
    t.observe("azure", "m", 100.0, None, True)
    first = t.snapshot()
    assert t.snapshot() is first
    t.observe("azure", "m", 300.0, None, True)
    assert t.snapshot().p90(("azure", "m")) == 300.0 and first.p90(("azure", "m")) == 100.0


def test_snapshot_of_a_known_key_is_reused_within_its_max_age_but_a_new_key_shows_at_once():
    t = LatencyTracker(snapshot_max_age_s=3600)
    t.observe("azure", "m", 100.0, None, True)
    first = t.snapshot()
    t.observe("azure", "m", 900.0, None, True)
    assert t.snapshot() is first, "a hot key does not re-sort its window on every request"
    t.observe("bedrock", "c", 250.0, None, True)
    assert t.snapshot().p90(("bedrock", "c")) == 250.0


def test_tracker_is_consistent_under_concurrent_observers():
    t = LatencyTracker(window=10_000, snapshot_max_age_s=0)

    def work():
        for i in range(500):
            t.observe("azure", "m", float(i), None, True)
            t.snapshot()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert t.snapshot().count(("azure", "m")) == 2000


# --- expected output tokens ------------------------------------------------------------


def test_expected_output_tokens_start_at_the_task_default():
    s = OutputTokenStats({"summarise": 150, "chat": 400})
    assert s.expected("summarise") == 150 and s.expected("chat") == 400
    assert s.expected("classify") == 256  # no default configured: the documented fallback


def test_expected_output_tokens_follow_history_but_resist_one_outlier():
    s = OutputTokenStats({"summarise": 150})
    s.observe("summarise", 3000)
    assert s.expected("summarise") == round((150 * 3 + 3000) / 4)
    for _ in range(199):
        s.observe("summarise", 80)
    assert s.expected("summarise") == pytest.approx((150 * 3 + 3000 + 80 * 199) / 203, abs=1)
    s.observe("summarise", 80)  # the window (200) now drops the 3000
    assert s.expected("summarise") == round((150 * 3 + 80 * 200) / 203)


def test_output_tokens_seed_uses_successful_rows_only():
    s = OutputTokenStats({"chat": 100}, window=50)
    rows = [{"task": "chat", "output_tokens": 40, "status": "ok"}] * 20 + [
        {"task": "chat", "output_tokens": 9999, "status": "error"},
        {"task": "chat", "output_tokens": None, "status": "ok"},
    ]
    assert s.seed(rows) == 20
    assert s.expected("chat") == round((100 * 3 + 40 * 20) / 23)


def test_seeding_from_newest_first_rows_keeps_the_newest_window():
    old = [
        {
            "ts": f"2026-11-01T00:00:{i:02d}Z",
            "provider": "azure",
            "model": "m",
            "latency_ms": 5000.0,
            "ttft_ms": None,
            "status": "ok",
        }
        for i in range(5)
    ]
    new = [
        {
            "ts": f"2026-11-02T00:00:{i:02d}Z",
            "provider": "azure",
            "model": "m",
            "latency_ms": 100.0,
            "ttft_ms": None,
            "status": "ok",
        }
        for i in range(5)
    ]
    t = LatencyTracker(window=5)
    t.seed(list(reversed(old + new)))  # the usage log's order: newest first
    assert t.snapshot().p90(("azure", "m")) == 100.0


def test_seeding_ignores_ttft_of_non_streamed_rows():
    rows = [
        {"provider": "azure", "model": "m", "latency_ms": 900.0, "ttft_ms": 900.0, "status": "ok", "streamed": 0},
        {"provider": "azure", "model": "m", "latency_ms": 800.0, "ttft_ms": 120.0, "status": "ok", "streamed": 1},
    ]
    t = LatencyTracker()
    t.seed(rows)
    assert t.snapshot().p90(("azure", "m"), streaming=True) == 120.0


def test_summary_reports_health_figures_for_the_console():
    t = LatencyTracker()
    assert t.summary("azure", "m") == {
        "p50_ms": None,
        "p90_ms": None,
        "ttft_p50_ms": None,
        "ttft_p90_ms": None,
        "error_rate": None,
        "samples": 0,
    }
    for ms in (100.0, 200.0, 300.0):
        t.observe("azure", "m", ms, ms / 10, True)
    t.observe("azure", "m", 50.0, None, False)
    s = t.summary("azure", "m")
    assert (s["p50_ms"], s["p90_ms"], s["ttft_p90_ms"], s["error_rate"], s["samples"]) == (200.0, 300.0, 30.0, 0.25, 4)


# --- quality floor ---------------------------------------------------------------------

FLOOR = 0.45


@pytest.mark.parametrize(
    ("votes", "wins", "skipped"),
    [
        (40, 8, True),  # 20% with 40 votes: lower bound ~0.10, well below 0.45
        (29, 2, False),  # as bad, but one vote short of the default minimum: not judged yet
        (40, 30, False),  # 75%: lower bound ~0.60, above the floor
        (200, 86, True),  # 43%: lower bound ~0.36 just under
    ],
)
def test_floor_applies_once_a_model_has_enough_votes(votes, wins, skipped):
    q = QualityStats(FLOOR, 30, {(MINI.provider, MINI.model, "summarise"): (votes, wilson_interval(wins, votes)[0])})
    r = rank(req(priority="low_cost", task="summarise"), ALL, RouteStats(), quality=q)
    assert (labels(r)[0] != MINI.label) is skipped
    if skipped:
        assert labels(r) == [HAIKU.label, GPT4O.label, SONNET.label, MINI.label]
        assert f"quality floor 0.45 for summarise: skipped {MINI.label} lower bound" in r.reason
        assert f"over {votes} votes" in r.reason
        assert dict((c.label, why) for c, _, why in r.rejected)[MINI.label] == "below quality floor"
    else:
        assert "quality floor" not in r.reason


def test_floor_is_per_task_and_spares_a_pinned_model():
    q = QualityStats(FLOOR, 30, {(MINI.provider, MINI.model, "summarise"): (50, 0.1)})
    assert labels(rank(req(priority="low_cost", task="chat"), ALL, RouteStats(), quality=q))[0] == MINI.label
    pinned = rank(req(priority="low_cost", task="summarise", model="gpt-4o-mini"), ALL, RouteStats(), quality=q)
    assert labels(pinned)[0] == MINI.label and "quality floor" not in pinned.reason


def test_when_every_model_is_below_the_floor_the_order_is_unchanged():
    q = QualityStats(FLOOR, 30, {(c.provider, c.model, "chat"): (50, 0.1) for c in ALL})
    assert labels(rank(req(priority="low_cost"), ALL, RouteStats(), quality=q)) == labels(
        rank(req(priority="low_cost"), ALL, RouteStats())
    )


def test_tracker_is_off_without_a_floor_and_keeps_the_last_standing_when_a_load_fails():
    calls = []

    def loader():
        calls.append(1)
        if len(calls) > 1:
            raise OSError("database is locked")
        return [("azure", "gpt-4o-mini", "chat", 40, 8)]

    assert QualityTracker(loader, None).snapshot() is None and not calls
    tracker = QualityTracker(loader, FLOOR, max_age_s=0.0)
    first = tracker.snapshot()
    assert first.below(MINI.key, "chat") == (40, pytest.approx(wilson_interval(8, 40)[0]))
    assert tracker.snapshot().standing == first.standing and len(calls) == 2
