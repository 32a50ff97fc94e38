"""Daily rollups and log-bucketed histograms that keep the Analytics page fast at millions of rows.

Every refresh aggregates only the rows it just appended into two small DuckDB tables:

- ``daily``: additive measures (spend, requests, errors, tokens, savings net and split
  into saved and overspent, estimate-error sums) per (day, provider, model, task, user,
  team, API key name, synthetic);
- ``hist``: counts per (day, provider, model, synthetic, kind, bucket), where kind 0 is
  latency, 1 is TTFT (bucket ``floor(log2(ms) * 16)``, so a percentile read from it is
  within ~2% of the exact one) and 2 is cost per final request (quarter decades).

A query reads the rollups for the whole days inside its time range and aggregates the raw
mirror, with the same SQL, for the partial days at the edges; both halves have the same
shape and are summed together, so results equal a raw scan (percentiles up to bucket
width). Keys may repeat across refreshes; everything is re-summed at read time and the
tables are compacted now and then.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb

LATENCY_BUCKETS_PER_OCTAVE = 16
COST_BINS_PER_DECADE = 4
KIND_LATENCY, KIND_TTFT, KIND_COST = 0, 1, 2
DAILY_DIMS = ("provider", "model", "task", "user", "team", "key_name", "synthetic")
HIST_DIMS = ("provider", "model", "synthetic")
# What the headline tiles sum; the rest of MEASURES serves the estimate-accuracy views.
HEADLINE_MEASURES = (
    "attempts",
    "requests",
    "errors",
    "fallbacks",
    "spend",
    "input",
    "output",
    "cached",
    "unpriced_attempts",
    "unpriced_est",
    "est",
    "savings",
    "saved",
    "overspent",
    "cf",
)
MEASURES = HEADLINE_MEASURES + ("est_n", "est_abs", "est_bias", "prompt_abs", "prompt_bias")

_DAILY_SELECT = """
SELECT CAST(ts AS DATE) AS day, provider, model, task, "user", team, key_name, synthetic,
       count(*) AS attempts,
       count(*) FILTER (final) AS requests,
       count(*) FILTER (final AND status = 'error') AS errors,
       count(*) FILTER (final AND attempt > 1) AS fallbacks,
       sum(cost_usd) AS spend,
       sum(input_tokens - coalesce(cached_input_tokens, 0)) AS input,
       sum(output_tokens) AS output,
       sum(coalesce(cached_input_tokens, 0)) FILTER (input_tokens IS NOT NULL) AS cached,
       count(*) FILTER (unpriced) AS unpriced_attempts,
       sum(cost_est_usd) FILTER (unpriced) AS unpriced_est,
       sum(cost_est_usd) AS est,
       sum(counterfactual_cost_usd - cost_usd) FILTER (final AND status = 'ok') AS savings,
       sum(greatest(counterfactual_cost_usd - cost_usd, 0)) FILTER (final AND status = 'ok' AND both_priced) AS saved,
       sum(greatest(cost_usd - counterfactual_cost_usd, 0)) FILTER (final AND status = 'ok' AND both_priced) AS overspent,
       sum(counterfactual_cost_usd) FILTER (final AND status = 'ok' AND cost_usd IS NOT NULL) AS cf,
       count(*) FILTER (est_ok) AS est_n,
       sum(abs(total_tokens_est - actual) / actual) FILTER (est_ok) AS est_abs,
       sum((total_tokens_est - actual) / actual) FILTER (est_ok) AS est_bias,
       sum(abs(prompt_tokens_est - input_tokens) / input_tokens) FILTER (est_ok) AS prompt_abs,
       sum((prompt_tokens_est - input_tokens) / input_tokens) FILTER (est_ok) AS prompt_bias
FROM (SELECT *, input_tokens + output_tokens AS actual,
             status = 'ok' AND input_tokens > 0 AND total_tokens_est IS NOT NULL AS est_ok,
             cost_usd IS NOT NULL AND counterfactual_cost_usd IS NOT NULL AS both_priced
      FROM logs WHERE {cond})
GROUP BY ALL"""

_HIST_SELECT = f"""
SELECT CAST(ts AS DATE) AS day, provider, model, synthetic, kind, bucket, count(*) AS n
FROM (
    SELECT ts, provider, model, synthetic, {KIND_LATENCY} AS kind,
           floor(log2(greatest(latency_ms, 0.01)) * {LATENCY_BUCKETS_PER_OCTAVE})::SMALLINT AS bucket
    FROM logs WHERE {{cond}} AND status = 'ok' AND latency_ms IS NOT NULL
    UNION ALL
    SELECT ts, provider, model, synthetic, {KIND_TTFT},
           floor(log2(greatest(ttft_ms, 0.01)) * {LATENCY_BUCKETS_PER_OCTAVE})::SMALLINT
    FROM logs WHERE {{cond}} AND status = 'ok' AND ttft_ms IS NOT NULL
    UNION ALL
    SELECT ts, provider, model, synthetic, {KIND_COST},
           floor(log10(cost_usd) * {COST_BINS_PER_DECADE})::SMALLINT
    FROM logs WHERE {{cond}} AND final AND cost_usd > 0
)
GROUP BY ALL"""

COMPACT_EVERY = 200  # refreshes between compactions


def rollups_match(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a persisted mirror's ``daily`` table has today's measures (an older one rebuilds)."""
    try:
        names = {row[0] for row in con.execute("SELECT column_name FROM (DESCRIBE daily)").fetchall()}
    except duckdb.Error:
        return False
    return names >= {"day", *DAILY_DIMS, *MEASURES}


def create_rollups(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TABLE daily AS {_DAILY_SELECT.format(cond='false')}")
    con.execute(f"CREATE OR REPLACE TABLE hist AS {_HIST_SELECT.format(cond='false')}")


def roll_up(con: duckdb.DuckDBPyConnection, after_id: int) -> None:
    """Aggregate mirror rows with ``id > after_id`` into the rollup tables."""
    cond = f"id > {int(after_id)}"
    con.execute(f"INSERT INTO daily {_DAILY_SELECT.format(cond=cond)}")
    con.execute(f"INSERT INTO hist {_HIST_SELECT.format(cond=cond)}")


def compact(con: duckdb.DuckDBPyConnection) -> None:
    sums = ", ".join(f"sum({m}) AS {m}" for m in MEASURES)
    dims = ", ".join(f'"{d}"' for d in DAILY_DIMS)
    con.execute(f"CREATE OR REPLACE TABLE daily AS SELECT day, {dims}, {sums} FROM daily GROUP BY ALL")
    con.execute(
        "CREATE OR REPLACE TABLE hist AS SELECT day, provider, model, synthetic, kind, bucket, sum(n) AS n FROM hist GROUP BY ALL"
    )


def _split(start: datetime, end: datetime | None):
    """(first whole day, end of the last whole day or None) inside [start, end)."""
    first = datetime(start.year, start.month, start.day)
    if first < start:
        first += timedelta(days=1)
    last = None if end is None else datetime(end.year, end.month, end.day)
    return first, last


def facts_sql(kind: str, start: datetime, end: datetime | None, dims: str, params: list, use_rollup: bool) -> tuple[str, list]:
    """A subquery over ``daily``- or ``hist``-shaped rows covering [start, end) with ``dims`` applied.

    ``dims`` is a predicate over dimension columns only; it is valid on the mirror and the rollups.
    """
    select = _DAILY_SELECT if kind == "daily" else _HIST_SELECT
    first, last = _split(start, end)
    if not use_rollup or (last is not None and first >= last):
        cond, raw_params = _between(start, end, dims, params)
        return f"({select.format(cond=cond)})", raw_params * select.count("{cond}")
    parts, all_params = [], []
    day_cond = "day >= ?" + ("" if last is None else " AND day < ?")
    day_params = [first.date()] + ([] if last is None else [last.date()])
    parts.append(f"SELECT * FROM {kind} WHERE {day_cond} AND {dims}")
    all_params += day_params + params
    for lo, hi in ((start, first), (last, end)):
        if lo is not None and hi is not None and lo < hi:
            cond, raw_params = _between(lo, hi, dims, params)
            parts.append(select.format(cond=cond))
            all_params += raw_params * select.count("{cond}")
    return "(" + "\nUNION ALL BY NAME\n".join(parts) + ")", all_params


def _between(start: datetime, end: datetime | None, dims: str, params: list) -> tuple[str, list]:
    if end is None:
        return f"ts >= ? AND {dims}", [start, *params]
    return f"ts >= ? AND ts < ? AND {dims}", [start, end, *params]


def percentile_value(bucket: float | None, per_octave: int = LATENCY_BUCKETS_PER_OCTAVE) -> float | None:
    """The geometric middle of a log2 bucket, in ms."""
    if bucket is None or bucket != bucket:
        return None
    return 2 ** ((bucket + 0.5) / per_octave)
