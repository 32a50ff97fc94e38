"""The SQL of the what-if replay, built per run with the candidates' rates written in as constants.

``replay`` runs these in order over the analytics mirror: the period's expected output per
task, a log2 latency histogram per (model, task) with its quantile table and each bucket's
position, then one query that re-prices, re-ranks and re-times every request, and one
aggregate over it. Every (request, candidate) score is a scalar column and the winner is
found with ``least`` and a CASE ladder, so DuckDB never builds a row per pair or a list per
request: that is what keeps a million requests within a few seconds.

Latency buckets are 1/16 octave (``rollups.LATENCY_BUCKETS_PER_OCTAVE``), so a quantile read
from the histogram is within ~2% of the exact one, as on the Analytics page.
"""

from __future__ import annotations

import pandas as pd

from ..router import W_COST, W_LATENCY
from .rollups import LATENCY_BUCKETS_PER_OCTAVE

POINTS = 100  # the quantile table holds percentiles 0..100
_B = LATENCY_BUCKETS_PER_OCTAVE

EXPECTED = """
SELECT coalesce(task, 'unknown') AS task, round(avg(output_tokens)) AS exp_out
FROM logs WHERE {where} AND final AND status = 'ok' AND output_tokens IS NOT NULL GROUP BY 1"""

HISTOGRAM = f"""
SELECT m.mid, h.task, h.bucket, h.n FROM (
    SELECT provider, model, coalesce(task, 'unknown') AS task,
           floor(log2(greatest(latency_ms, 0.01)) * {_B})::SMALLINT AS bucket, count(*) AS n
    FROM logs WHERE {{where}} AND status = 'ok' AND latency_ms IS NOT NULL GROUP BY ALL) h
JOIN _models m ON m.provider = h.provider AND m.model = h.model"""

# Per (model, task) and per model over all tasks ('*'): the cumulative count at each bucket.
_CUMULATIVE = """
WITH both_ AS (SELECT mid, task, bucket, n FROM _hist
               UNION ALL SELECT mid, '*', bucket, sum(n) FROM _hist GROUP BY mid, bucket)
SELECT mid, task, bucket, n, sum(n) OVER (PARTITION BY mid, task ORDER BY bucket) AS cum,
       sum(n) OVER (PARTITION BY mid, task) AS total
FROM (SELECT mid, task, bucket, sum(n) AS n FROM both_ GROUP BY ALL)"""

# Nearest rank, as everywhere in the gateway: percentile p is the first bucket whose
# cumulative count reaches p% of the total; its latency is the bucket's geometric middle.
QUANTILES = f"""
SELECT c.mid, c.task, p.p, pow(2, (min(c.bucket) + 0.5) / {_B}) AS latency
FROM ({_CUMULATIVE}) c, (SELECT range AS p FROM range(0, {POINTS + 1})) p
WHERE c.cum >= greatest(p.p / {POINTS}.0 * c.total, 1) GROUP BY ALL"""

# Where in its model's distribution for the task a latency bucket sits: the share below its middle.
POSITIONS = f"SELECT mid, task, bucket, (cum - n / 2.0) / total AS q FROM ({_CUMULATIVE}) WHERE task <> '*'"

_REPLAY = """
WITH req AS (
    SELECT l.id, coalesce(l.task, 'unknown') AS task, coalesce(l.team, '(no team)') AS team,
           coalesce(CAST(? AS VARCHAR), l.priority, 'balanced') AS priority, s.mid AS src,
           l.provider || '/' || l.model AS before, l.output_tokens, l.cost_usd, l.latency_ms, e.exp_out,
           coalesce(l.estimate_raw_tokens, l.input_tokens / s.factor) AS raw,
           (l.input_tokens - coalesce(l.cached_input_tokens, 0)) * s.in_rate
               + coalesce(l.cached_input_tokens, 0) * s.cached_rate + l.output_tokens * s.out_rate AS same_cost,
           floor(log2(greatest(l.latency_ms, 0.01)) * {b})::SMALLINT AS bucket
    FROM (SELECT * FROM logs WHERE {where} AND final AND status = 'ok'
          AND input_tokens IS NOT NULL AND output_tokens IS NOT NULL AND latency_ms IS NOT NULL) l
    JOIN _models s ON l.provider = s.provider AND l.model = s.model
    JOIN _expected e ON e.task = coalesce(l.task, 'unknown')),
costs AS (SELECT *, {costs} FROM req),
bounds AS (SELECT *, {lo} AS lo, {hi} AS hi FROM costs),
blend AS (SELECT *, {balanced} FROM bounds),
chosen AS (
    SELECT *, CASE priority WHEN 'low_cost' THEN {pick_cost} WHEN 'low_latency' THEN {fastest} ELSE {pick_blend} END AS new_idx
    FROM (SELECT *, {blend_lo} AS blo FROM blend))
SELECT r.id, r.task, r.team, r.before, c.provider || '/' || c.model AS after, c.mid <> r.src AS moved, r.cost_usd,
       CASE WHEN c.mid = r.src THEN r.same_cost ELSE ceil(r.raw * c.factor) * c.in_rate + r.output_tokens * c.out_rate END
           AS replay_cost,
       r.latency_ms,
       CASE WHEN c.mid = r.src THEN r.latency_ms ELSE coalesce(qt.latency, qa.latency, r.latency_ms) END AS replay_latency_ms
FROM chosen r JOIN _cands c ON c.idx = r.new_idx
LEFT JOIN _pos p ON p.mid = r.src AND p.task = r.task AND p.bucket = r.bucket
LEFT JOIN _qt qt ON qt.mid = c.mid AND qt.task = r.task AND qt.p = CAST(round(p.q * {n}) AS INTEGER)
LEFT JOIN _qt qa ON qa.mid = c.mid AND qa.task = '*' AND qa.p = CAST(round(p.q * {n}) AS INTEGER)"""

GROUPS = """
SELECT CASE WHEN grouping(task) = 0 THEN 'task' WHEN grouping(team) = 0 THEN 'team' ELSE 'all' END AS scope,
       task, team, count(*) AS requests, avg(moved::INTEGER) AS moved_share,
       sum(cost_usd) AS spend_usd, sum(replay_cost) AS replay_spend_usd,
       sum(cost_usd) FILTER (replay_cost IS NOT NULL) - sum(replay_cost) FILTER (cost_usd IS NOT NULL) AS saving_usd,
       count(*) FILTER (cost_usd IS NULL OR replay_cost IS NULL) AS unpriced,
       quantile_disc(latency_ms, 0.5) AS p50_ms, quantile_disc(replay_latency_ms, 0.5) AS replay_p50_ms,
       quantile_disc(latency_ms, 0.9) AS p90_ms, quantile_disc(replay_latency_ms, 0.9) AS replay_p90_ms
FROM _replay GROUP BY GROUPING SETS ((), (task), (team)) ORDER BY spend_usd DESC NULLS LAST"""

MOVES = """
SELECT before, after, count(*) AS requests, sum(cost_usd) AS spend_usd, sum(replay_cost) AS replay_spend_usd
FROM _replay WHERE moved GROUP BY ALL ORDER BY requests DESC"""


def _num(value) -> str:
    return "NULL" if value is None or value != value else repr(float(value))


def _ladder(columns: list[str], target: str) -> str:
    """The index of the first column equal to ``target`` (0 when none is: nothing priced)."""
    return "CASE " + " ".join(f"WHEN {c} = {target} THEN {i}" for i, c in enumerate(columns)) + " ELSE 0 END"


def _least(fn: str, columns: list[str]) -> str:
    return columns[0] if len(columns) == 1 else f"{fn}({', '.join(columns)})"


def replay_sql(cands: pd.DataFrame, where: str) -> str:
    """The per-request query for these candidates (``idx`` order is the tie-break order).

    A candidate's estimated cost is its re-tokenised prompt at its input rate plus the task's
    mean output at its output rate (NULL when unpriced, which ``least`` skips). The balanced
    score is ``rank``'s: ``W_COST`` x cost over the cheapest (unpriced: the worst priced term
    + 1, or 1 when nothing is priced) + ``W_LATENCY`` x p90 over the fastest."""
    min_p90 = max(float(cands["p90"].min()), 1e-6)
    costs, blends = [], []
    for c in cands.itertuples(index=False):
        i = c.idx
        priced = c.in_rate is not None and c.in_rate == c.in_rate
        cost = f"ceil(raw * {_num(c.factor)}) * {_num(c.in_rate)} + exp_out * {_num(c.out_rate)}" if priced else "NULL::DOUBLE"
        costs.append(f"{cost} AS c{i}")
        term = f"(c{i} + 1e-12) / (lo + 1e-12)" if priced else "(hi + 1e-12) / (lo + 1e-12) + 1.0"
        blends.append(f"{W_COST} * coalesce({term}, 1.0) + {W_LATENCY} * {_num(c.p90)} / {min_p90!r} AS b{i}")
    cs = [f"c{i}" for i in cands["idx"]]
    bs = [f"b{i}" for i in cands["idx"]]
    fastest = int(cands.sort_values(["p90", "idx"]).iloc[0]["idx"])
    return _REPLAY.format(
        b=_B,
        where=where,
        n=POINTS,
        costs=", ".join(costs),
        lo=_least("least", cs),
        hi=_least("greatest", cs),
        balanced=", ".join(blends),
        blend_lo=_least("least", bs),
        pick_cost=_ladder(cs, "lo"),
        pick_blend=_ladder(bs, "blo"),
        fastest=fastest,
    )
