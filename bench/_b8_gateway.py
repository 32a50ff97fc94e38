"""B8, second half: what governance adds to ``Gateway.generate`` itself, in process.

The providers are swapped for B1's instant fake, so what is timed is the gateway's own work
(validation, plan, ranking, the governance steps, the usage-log row) on a real SQLite file
in WAL mode, with the usage-log writer and the settle thread running as they do in service.
Arms, one call each per iteration in a freshly shuffled order:

- ``no_key``: no key, and the ``default`` team has no limits: the baseline, where governance
  is one cached lookup and three checks that find nothing to do;
- ``key_no_limits``: a key chosen by name, with no budget or rate limit;
- ``key_budget``: a key whose team has a budget (one reservation per request);
- ``key_typical``: a team budget and the key's requests and tokens per minute;
- ``key_full``: a key budget and a team budget, and four rate limits;
- ``principal_typical``: ``key_typical`` given as an authenticated ``Principal``, as the REST
  API passes it (its bearer key was checked by the middleware, served from the cache);
- ``gate_no_key``: the four governance steps alone, for the baseline's principal, on a
  ready-made plan: what the baseline itself spends on governance.
"""

from __future__ import annotations

import random
from decimal import Decimal

from . import common
from .b1_overhead import PROMPT, InstantProvider
from .common import summarize

GATEWAY_SIZES = {
    "smoke": {"gw_iterations": 60, "gw_warmup": 20},
    "quick": {"gw_iterations": 3000, "gw_warmup": 300},
    "full": {"gw_iterations": 20000, "gw_warmup": 1000},
}
GATEWAY_ARMS = ("no_key", "key_no_limits", "key_budget", "key_typical", "key_full", "principal_typical", "gate_no_key")
MAX_TOKENS = 64


def seed_keys(gov) -> str:
    """The teams and keys both halves of B8 measure: no limits, a budget, a budget with rates,
    and two budgets with four rates (limits far above what a run uses). Returns the full key."""
    big, many = Decimal("1000000"), 1_000_000_000
    gov.set_team("open")
    gov.set_team("plain", budget_usd=big)
    gov.set_team("strict", budget_usd=big, rpm=many, tpm=many)
    gov.create_key(name="open-key", team="open")
    gov.create_key(name="budget-key", team="plain")
    gov.create_key(name="typical-key", team="plain", rpm=many, tpm=many)
    _, full_key = gov.create_key(name="full-key", team="strict", budget_usd=big, rpm=many, tpm=many)
    return full_key


def _gateway(db):
    from gateway_core import Gateway, Settings

    settings = Settings.from_mapping(common.demo_env(db, "zero"))
    gw = Gateway(settings, providers={"azure": InstantProvider("azure"), "bedrock": InstantProvider("bedrock")})
    seed_keys(gw.governance)
    return gw


def _gate_steps(gw, req):
    """The four governance steps of a request without a key, on a plan made once."""
    from gateway_core import gate, planning
    from gateway_core.executor import Trail

    rt = gw.runtime
    plan = planning.rank_plan(rt, planning.build_plan(rt, req, streaming=False))

    def run():
        trail = Trail()
        principal = gate.authenticate(rt, None, trail)
        gate.settle(rt, gate.reserve(rt, gate.allowed(rt, plan, principal), principal, trail), trail)

    return run


def _arms(gw) -> dict:
    from gateway_core import GenerateRequest

    req = GenerateRequest(prompt=PROMPT, task="chat", max_tokens=MAX_TOKENS)
    typical = gw.governance.principal_for("typical-key")
    return {
        "no_key": lambda: gw.generate(req),
        "key_no_limits": lambda: gw.generate(req, key="open-key"),
        "key_budget": lambda: gw.generate(req, key="budget-key"),
        "key_typical": lambda: gw.generate(req, key="typical-key"),
        "key_full": lambda: gw.generate(req, key="full-key"),
        "principal_typical": lambda: gw.generate(req, key=typical),
        "gate_no_key": _gate_steps(gw, req),
    }


def measure(cfg, sizes: dict) -> dict:
    """Per-arm µs statistics, the added p50 of each over ``no_key``, and the rows it logged."""
    gw = _gateway(cfg.work_dir / "b8_gateway.sqlite")
    try:
        arms = _arms(gw)

        samples = common.warm_shuffled_rounds_us(arms, sizes["gw_iterations"], sizes["gw_warmup"], random.Random(88))
        profile = None
        if cfg.profile:
            profile = common.save_profile(cfg, "b8_gateway", common.profile_text(arms["key_typical"], repeat=2000))
        gw.usage_log.flush()
        rows = _count(gw.usage_log.path)
    finally:
        gw.close()
    stats = {name: summarize(values) for name, values in samples.items()}
    base = stats["no_key"]["p50"]
    added = {name: stats[name]["p50"] - base for name in GATEWAY_ARMS if name not in ("no_key", "gate_no_key")}
    for name in GATEWAY_ARMS:
        s = stats[name]
        extra = f"  added p50 {added[name]:+7.1f} µs" if name in added else ""
        cfg.log(f"  gateway {name:17} p50 {s['p50']:7.1f} µs  p90 {s['p90']:7.1f} µs  p99 {s['p99']:7.1f} µs{extra}")
    calls = (sizes["gw_iterations"] + sizes["gw_warmup"]) * (len(GATEWAY_ARMS) - 1)
    return {"us_per_call": stats, "added_p50_us": added, "rows_logged": rows, "rows_expected": calls, "profile": profile}


def _count(path) -> int:
    import sqlite3

    con = sqlite3.connect(path)
    try:
        return con.execute("SELECT count(*) FROM usage_logs").fetchone()[0]
    finally:
        con.close()
