"""B11: what-if replay over 100k, 1M (and 10M) logged requests, against ranking them one by one in Python.

The gateway's replay (``Analytics.replay``) runs in DuckDB over the analytics mirror; the
mirror's load is timed apart, since the console keeps it warm. Five scenarios are timed
per round in a shuffled order: low_cost, low_latency, balanced, each request's own
priority, and one provider excluded. The baseline is what replay replaces: building the
router's candidates for each request and calling ``router.rank`` in Python, timed on a
sample and scaled to the whole period (the per-request cost is flat). The target is 5 s
for one replay at 1M requests.
"""

from __future__ import annotations

import math
import random
import statistics
from decimal import Decimal

from . import common, datasets
from .common import Config, Target, clock, summarize

ID = "B11"
NAME = "b11_replay"
TITLE = "What-if replay in DuckDB against ranking each request with router.rank in Python"

SIZES = {
    "smoke": {"requests": [2_000], "rounds": 1, "sample": 500, "cache": False},
    "quick": {"requests": [100_000], "rounds": 3, "sample": 5_000, "cache": True},
    "full": {"requests": [100_000, 1_000_000, 10_000_000], "rounds": 5, "sample": 20_000, "cache": True},
}
TARGET_1M_S = 5.0


def _scenarios():
    from gateway_core.analytics.replay import Scenario
    from gateway_core.providers import PROVIDER_NAMES

    return {
        "low_cost": Scenario(priority="low_cost"),
        "low_latency": Scenario(priority="low_latency"),
        "balanced": Scenario(priority="balanced"),
        "own_priority": Scenario(),
        "without_one_provider": Scenario(exclude=(PROVIDER_NAMES[1],)),
    }


def _python_baseline(analytics, prices, sample: int) -> dict:
    """Per-request cost of planning candidates and ranking them with the pure router."""
    from gateway_core.analytics import Filters
    from gateway_core.analytics.replay import Scenario, candidate_table
    from gateway_core.router import Candidate, RouteStats, rank
    from gateway_core.types import GenerateRequest

    with analytics._lock:
        _, cands = candidate_table(analytics._con, Filters(), Scenario(priority="low_cost"), prices)
        rows = analytics._con.execute(
            "SELECT estimate_raw_tokens, output_tokens, task FROM logs WHERE final AND status = 'ok' "
            "AND estimate_raw_tokens IS NOT NULL LIMIT ?",
            [sample],
        ).fetchall()
    stats = RouteStats({(c.provider, c.model): c.p90 for c in cands.itertuples()}, {}, {}, {})
    request = GenerateRequest(prompt="x", priority="low_cost")
    t0 = clock()
    for raw, output, _task in rows:
        candidates = []
        for c in cands.itertuples():
            est_in = math.ceil(raw * c.factor)
            cost = None if c.in_rate != c.in_rate else Decimal(repr(est_in * c.in_rate + output * c.out_rate))
            candidates.append(Candidate(c.provider, c.model, est_in, output, cost))
        rank(request, candidates, stats)
    per_request_us = (clock() - t0) / max(1, len(rows)) * 1e6
    return {"sampled_requests": len(rows), "per_request_us": per_request_us}


def _one_size(cfg: Config, requests: int, sizes: dict) -> dict:
    from gateway_core.analytics import Analytics
    from gateway_core.pricing import PriceTable

    db, facts = datasets.usage_db(requests, cache=sizes["cache"], work_dir=cfg.work_dir)
    prices = PriceTable.load()
    analytics = Analytics(db)
    try:
        t0 = clock()
        analytics.refresh(force=True)
        load_ms = (clock() - t0) * 1000
        scenarios = _scenarios()
        times = {name: [] for name in scenarios}
        replayed = None
        analytics.replay(scenarios["low_cost"], prices)  # warm-up, dropped
        rng = random.Random(11)
        for _ in range(sizes["rounds"]):
            order = list(scenarios)
            rng.shuffle(order)
            for name in order:
                t1 = clock()
                result = analytics.replay(scenarios[name], prices)
                times[name].append((clock() - t1) * 1000)
                replayed = result.totals["requests"]
        baseline = _python_baseline(analytics, prices, sizes["sample"])
    finally:
        analytics.close()
    per_scenario = {name: summarize(v) for name, v in times.items()}
    median_ms = statistics.median(v for vals in times.values() for v in vals)
    python_ms = baseline["per_request_us"] * replayed / 1000
    out = {
        **facts,
        "requests_replayed": replayed,
        "mirror_initial_load_ms": load_ms,
        "replay_ms": per_scenario,
        "replay_median_ms": median_ms,
        "python_rank": {**baseline, "scaled_ms": python_ms},
        "ratio_python_over_duckdb": common.ratio(python_ms, median_ms),
    }
    cfg.log(
        f"  {replayed:,} requests: replay median {median_ms:,.0f} ms (mirror load {load_ms / 1000:.1f} s apart) | "
        f"router.rank in Python ~{python_ms / 1000:,.1f} s ({out['ratio_python_over_duckdb']}x slower)"
    )
    return out


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t0 = clock()
    per_size = {str(n): _one_size(cfg, n, sizes) for n in sizes["requests"]}
    # The budget is 5 s at 1M; every smaller size measured must be inside it as well.
    targets = [
        Target(f"one replay at {int(n):,} requests, median", m["replay_median_ms"] / 1000, TARGET_1M_S, "s")
        for n, m in per_size.items()
    ]
    common.report_targets(cfg, targets)
    notes = [
        "five scenarios per round in shuffled order; the first replay is a dropped warm-up; mirror load timed apart",
        "baseline: candidates built per request and ranked with router.rank, timed on a sample and scaled linearly",
    ]
    if cfg.mode == "quick":
        notes.append("quick mode runs 100k only: the 1M target is judged by --full")
    lines = [
        f"{m['requests_replayed']:,} requests: replay median {m['replay_median_ms']:,.0f} ms vs "
        f"~{m['python_rank']['scaled_ms']:,.0f} ms ranking them in Python (x{m['ratio_python_over_duckdb']})"
        for m in per_size.values()
    ]
    return common.make_result(
        ID, NAME, TITLE, cfg, sizes=sizes, metrics={"by_requests": per_size}, targets=targets, notes=notes,
        duration_s=clock() - t0, headlines=lines,
    )  # fmt: skip
