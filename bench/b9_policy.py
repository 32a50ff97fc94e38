"""B9: what a Rego routing policy adds to a request, with a warm decision cache and cold.

The step measured is the policy's part of a request: build the ``input`` document, get a
decision, apply it to the ranked route. Two arms run once per round in a shuffled order:

- ``none``: no policy configured, so the route passes through untouched (the baseline);
- ``warm``: the four example policies loaded from ``policies/``, every decision already
  in the cache (requests cycle over a pool of distinct teams, PII kinds and hours).

Then, for reference, two cold arms, also shuffled per round (fewer rounds; they are slow
and would disturb the CPU caches of the fast arms if mixed in):

- ``cold``: the same policies evaluated by regopy on every call (the compiled bundle);
- ``source``: one regopy ``query`` on the policy source, without a bundle.

The PII kinds a policy reads come from the masking detectors, which run on the prompt
whatever the cache holds, so their cost is measured beside it on two prompt sizes. Last,
the same question is asked of whole ``Gateway.generate`` calls (``b9_gateway``): a gateway
with the example policies against the same gateway without one.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime

from . import b9_gateway, common
from .b9_gateway import run_gateway_phase
from .common import Config, Target, clock, summarize

ID = "B9"
NAME = "b9_policy"
TITLE = "Routing policy (Rego): added time per request, warm cache vs no policy, and cold"

SIZES = {
    "smoke": {"rounds": 60, "cold_rounds": 10, "warmup": 20, "pii_calls": 50, "gw_rounds": 100},
    "quick": {"rounds": 5000, "cold_rounds": 300, "warmup": 200, "pii_calls": 2000, "gw_rounds": 3000},
    "full": {"rounds": 50000, "cold_rounds": 2000, "warmup": 1000, "pii_calls": 10000, "gw_rounds": 20000},
}
TARGET_ADDED_P50_US = 50.0
TEAMS = ("research-eu", "legal", "support", "marketing", "research", None)
PII = ((), ("email",), ("card", "phone"))
HOURS = (datetime(2025, 1, 6, 10), datetime(2025, 1, 6, 20), datetime(2025, 1, 11, 12))
PROMPT = (
    "Please summarise the attached ticket for the on-call engineer. The customer, reachable at "
    "ana.lopez@example.com or +44 20 7946 0958, reports that invoices for March were charged twice. "
)


def _candidates():
    from gateway_core.governance.policy import PolicyCandidate

    return [
        PolicyCandidate("azure", "gpt-4o-mini", "eu", 0.00015, 0.0006),
        PolicyCandidate("azure", "gpt-4o", "us", 0.0025, 0.01),
        PolicyCandidate("bedrock", common.HAIKU, "eu", 0.00025, 0.00125),
        PolicyCandidate("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0", "us", 0.003, 0.015),
        PolicyCandidate("openai", "gpt-4.1-mini", "us", 0.0004, 0.0016),
    ]


def _arms():
    from regopy import Interpreter, LogLevel

    from gateway_core.governance.policy import apply_decision, build_input
    from gateway_core.governance.policy_rego import RegoPolicy

    candidates = _candidates()
    route = [(c.provider, c.model) for c in candidates]
    engine = RegoPolicy(common.ROOT / "policies", check_interval_s=1.0)
    pool = list(itertools.product(TEAMS, PII, HOURS))
    cycle = itertools.cycle(pool)

    def make_input():
        team, pii, now = next(cycle)
        return build_input(
            task="chat",
            priority="balanced",
            candidates=candidates,
            now=now,
            team=team,
            pii=pii,
            prompt_chars=len(PROMPT),
            max_tokens=256,
            estimated_cost_usd=0.0004,
            key="key-1",
        )

    def safe_apply(decision):
        try:
            return apply_decision(decision, route)
        except Exception:  # noqa: BLE001 - a refusal is a valid outcome of the step
            return None

    source = Interpreter()
    source.log_level = LogLevel.NONE
    for s in engine.sources:
        source.add_module(s.name, s.text)

    def query_source():
        source.set_input(make_input())
        return source.query("data.gateway.routing")

    for _ in pool:  # every distinct input decided once: the warm arm only ever hits
        engine.decide(make_input())
    arms = {
        "none": lambda: route,
        "warm": lambda: safe_apply(engine.decide(make_input())),
        "cold": lambda: safe_apply(engine.evaluate(make_input())),
        "source": query_source,
    }
    return arms, engine, len(pool)


def _pii_costs(n: int) -> dict:
    from gateway_core.redact import pii_kinds

    out = {}
    for label, text in (("400_chars", (PROMPT * 3)[:400]), ("4000_chars", (PROMPT * 25)[:4000])):
        samples = []
        for _ in range(n):
            t0 = clock()
            pii_kinds(text)
            samples.append((clock() - t0) * 1e6)
        out[label] = summarize(samples)
    return out


def _gateway_metrics(cfg: Config, sizes: dict) -> tuple[dict, Target, str]:
    phase = run_gateway_phase(cfg, sizes)
    stats = {name: summarize(v) for name, v in phase["samples"].items()}
    added = {q: stats["policy"][q] - stats["none"][q] for q in ("p50", "p90", "p99")}
    cfg.log(
        f"  Gateway.generate p50: no policy {stats['none']['p50']:.1f} us, with the examples "
        f"{stats['policy']['p50']:.1f} us ({added['p50']:+.1f}); cache {phase['cache']}"
    )
    metrics = {"per_request_us": stats, "added_us": added, **{k: phase[k] for k in ("cache", "decision", "version")}}
    target = Target("Gateway.generate, added p50 with a warm cache", added["p50"], TARGET_ADDED_P50_US, "us")
    headline = (
        f"through Gateway.generate the example policies add {added['p50']:.1f} us at p50 "
        f"(no policy {stats['none']['p50']:.0f} us, with {stats['policy']['p50']:.0f} us), PII detection included"
    )
    return metrics, target, headline


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t_start = clock()
    arms, engine, distinct = _arms()
    for _ in range(sizes["warmup"]):
        for fn in arms.values():
            fn()
    rng = random.Random(8)
    samples = common.shuffled_rounds_us(arms, ["none", "warm"], sizes["rounds"], rng)
    samples.update(common.shuffled_rounds_us(arms, ["cold", "source"], sizes["cold_rounds"], rng))
    stats = {name: summarize(values) for name, values in samples.items()}
    added = {q: stats["warm"][q] - stats["none"][q] for q in ("p50", "p90", "p99")}
    cache = common.policy_stats(engine)
    pii = _pii_costs(sizes["pii_calls"])
    cfg.log(
        f"  no policy p50 {stats['none']['p50']:.2f} us; warm p50 {stats['warm']['p50']:.1f} us "
        f"(p99 {stats['warm']['p99']:.1f}); cold {stats['cold']['p50']:.0f} us; source query "
        f"{stats['source']['p50']:.0f} us; cache {cache['hits']} hits / {cache['misses']} misses"
    )
    pii_line = f"pii_kinds {pii['400_chars']['p50']:.1f} us at 400 chars, {pii['4000_chars']['p50']:.1f} us at 4000"
    cfg.log(f"  {pii_line} (p50)")
    gateway, gw_target, gw_headline = _gateway_metrics(cfg, sizes)
    targets = [Target("added p50 with a warm cache", added["p50"], TARGET_ADDED_P50_US, "us"), gw_target]
    common.report_targets(cfg, targets)
    speedup = common.ratio(stats["cold"]["p50"], stats["warm"]["p50"])
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes={**sizes, "distinct_inputs": distinct, "policy_files": len(engine.sources)},
        metrics={
            "us": stats,
            "added_us": added,
            "cache": cache,
            "pii_kinds_us": pii,
            "cold_over_warm_p50": speedup,
            "source_over_bundle_p50": common.ratio(stats["source"]["p50"], stats["cold"]["p50"]),
            "gateway": gateway,
        },
        targets=targets,
        notes=[
            "none and warm run once per round in a shuffled order, then cold and source likewise; "
            "medians of raw samples in microseconds",
            "warm and cold include building the input and applying the decision to a 5-candidate route",
            "pii_kinds runs on every request whose policy reads input.request.pii, cached or not",
            "gateway: two Gateways over the same instant providers (no HTTP), with and without "
            f"GATEWAY_POLICY_FILE=policies, one request each per round as a key in team {b9_gateway.TEAM}, "
            f"shuffled, {b9_gateway.PACE_S * 1e3:g} ms sleep after each round",
        ],
        duration_s=clock() - t_start,
        headlines=[
            gw_headline,
            f"policy step alone adds {added['p50']:.1f} us at p50 with a warm cache (no policy "
            f"{stats['none']['p50']:.2f} us, warm {stats['warm']['p50']:.1f} us); cold regopy "
            f"{stats['cold']['p50']:.0f} us (x{speedup}), source query {stats['source']['p50']:.0f} us",
            pii_line,
        ],
    )
