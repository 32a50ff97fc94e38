"""Summaries over the rollups and the raw mirror: the headline figures, savings split by
provider, spend by team, and provider health over a recent window.

Each function receives the owning ``Analytics``'s query functions (``facts`` runs SQL over
rollup-shaped rows covering the filters; ``run`` runs SQL over the raw mirror), so these
stay plain SQL plus arithmetic and ``Analytics`` stays a thin list of named queries.
Savings are split because netting hides both halves: a request routed to the cheaper
provider saved money against its counterfactual, one routed to the dearer provider
overspent, and an operator needs each on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pandas as pd

from .filters import Filters
from .rollups import HEADLINE_MEASURES, KIND_LATENCY

NO_TEAM = "(no team)"
NO_KEY = "(no key)"


def _num(value, default=0.0):
    return default if value is None or value != value else value


def _ratio(a, b) -> float:
    return float(_num(a)) / float(b) if b else 0.0


def headline(facts: Callable, percentiles: Callable, f: Filters | None) -> dict:
    sums = ", ".join(f"sum({m}) AS {m}" for m in HEADLINE_MEASURES)
    row = facts(f, "daily", f"SELECT {sums} FROM {{facts}}").iloc[0]
    requests, attempts = int(_num(row["requests"], 0)), int(_num(row["attempts"], 0))
    spend = float(_num(row["spend"]))
    out = {
        "spend_usd": spend,
        "requests": requests,
        "attempts": attempts,
        "error_rate": _ratio(row["errors"], requests),
        "fallback_rate": _ratio(row["fallbacks"], requests),
        "p50_latency_ms": None,
        "p95_latency_ms": None,
        "p50_ttft_ms": None,
        "p95_ttft_ms": None,
        "input_tokens": int(_num(row["input"], 0) + _num(row["cached"], 0)),
        "output_tokens": int(_num(row["output"], 0)),
        "cached_input_tokens": int(_num(row["cached"], 0)),
        "cost_per_request": _ratio(spend, requests),
        "cost_per_1k_requests": 1000 * _ratio(spend, requests),
        "unpriced_share": _ratio(row["unpriced_attempts"], attempts),
        "unpriced_spend_share": _ratio(row["unpriced_est"], _num(row["est"])),
        "savings_usd": float(_num(row["savings"])),
        "savings_pct": 100.0 * _ratio(row["savings"], _num(row["cf"])),
        "saved_usd": float(_num(row["saved"])),
        "overspent_usd": float(_num(row["overspent"])),
    }
    for r in percentiles(f, (), (50, 95)).itertuples():
        name = "latency_ms" if r.kind == KIND_LATENCY else "ttft_ms"
        out[f"p50_{name}"], out[f"p95_{name}"] = r.p50, r.p95
    return out


def savings_by_provider(facts: Callable, f: Filters | None) -> pd.DataFrame:
    """Per serving provider: saved and overspent against the counterfactual, and requests."""
    return facts(
        f,
        "daily",
        """
        SELECT provider, coalesce(sum(saved), 0) AS saved_usd, coalesce(sum(overspent), 0) AS overspent_usd,
               sum(requests) AS requests
        FROM {facts} WHERE provider IS NOT NULL GROUP BY provider ORDER BY provider""",
    )


def spend_by_team(facts: Callable, f: Filters | None) -> pd.DataFrame:
    """Spend and requests per (team, provider); traffic without a team is grouped as one."""
    return facts(
        f,
        "daily",
        f"""
        SELECT coalesce(team, '{NO_TEAM}') AS team, provider, coalesce(sum(spend), 0) AS cost_usd,
               sum(requests) AS requests
        FROM {{facts}} WHERE provider IS NOT NULL GROUP BY ALL HAVING sum(attempts) > 0 ORDER BY team, provider""",
    )


def spend_by_key(facts: Callable, f: Filters | None) -> pd.DataFrame:
    """Spend and requests per (API key name, provider); requests made without a key are grouped as one."""
    return facts(
        f,
        "daily",
        f"""
        SELECT coalesce(key_name, '{NO_KEY}') AS "key", provider, coalesce(sum(spend), 0) AS cost_usd,
               sum(requests) AS requests
        FROM {{facts}} WHERE provider IS NOT NULL GROUP BY ALL HAVING sum(attempts) > 0 ORDER BY "key", provider""",
    )


def provider_health(run: Callable, since: datetime, include_synthetic: bool = True) -> pd.DataFrame:
    """Calls, error rate and latency per (provider, model) since ``since``, from the log.

    A cancelled call says nothing about a provider's health (its caller left), so it is
    counted but kept out of the error rate; latency percentiles are over answered calls."""
    synthetic = "" if include_synthetic else "AND NOT synthetic"
    return run(
        f"""
        SELECT provider, model, count(*) AS calls,
               count(*) FILTER (status = 'error') AS errors,
               count(*) FILTER (status = 'cancelled') AS cancelled,
               count(*) FILTER (status = 'error') / nullif(count(*) FILTER (status != 'cancelled'), 0) AS error_rate,
               quantile_cont(latency_ms, 0.5) FILTER (status = 'ok') AS p50_ms,
               quantile_cont(latency_ms, 0.9) FILTER (status = 'ok') AS p90_ms,
               quantile_cont(ttft_ms, 0.9) FILTER (status = 'ok') AS ttft_p90_ms,
               max(ts) AS last_call
        FROM logs WHERE ts >= ? AND provider IS NOT NULL {synthetic}
        GROUP BY ALL ORDER BY provider, model""",
        [since],
    )
