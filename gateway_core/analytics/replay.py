"""What-if replay: every logged request of a period re-ranked under another priority, price table or candidate set.

"What if everything had gone low_cost", "what if one provider's prices drop 20%", "what if
we drop gpt-4o": ``replay`` answers these in DuckDB over the analytics mirror, one row per
request (its final, successful attempt), applying the router's first-choice rules in SQL:

- **Candidates** are the (provider, model) pairs that served traffic in the period, minus
  the scenario's exclusions (the routing policy's forms: ``provider`` or
  ``provider/model``; a bare model id means that model on every provider).
- **Re-tokenised like the counterfactual:** a candidate's prompt tokens are the request's
  raw tiktoken count times the candidate's calibration factor (1 for a provider whose
  tokenizer tiktoken has; for the others the period's billed input over raw count), and
  its output is the output actually produced. The ranking estimate uses the task's mean
  output, as the router does before a call.
- **Scores** follow ``router``: estimated cost (unpriced last), p90 latency from the
  period's history, or the balanced ``W_COST``/``W_LATENCY`` blend; ties go to the
  candidate listed first. Hints, exploration and breakers are live-only and not replayed.
- **Latency from history:** a request that moves keeps its place in the latency
  distribution: at quantile q of its own model's latencies for its task, it gets quantile
  q of the new model's (for that task, else over all tasks).
- **Cost:** a request that stays is re-priced from its billed usage under the scenario's
  prices; one that moves costs its re-tokenised input and actual output at the new
  model's prices. The logged cost is the baseline.

The result reports spend, saving, p50/p90 latency before and after, and the share of
requests that move, in total and by task and by team, plus the moves themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import pandas as pd

from ..errors import ValidationError
from ..pricing import PriceTable
from ..providers import PROVIDERS
from ..router import PRIOR_TOTAL_MS, W_COST, W_LATENCY
from ..tokens import CALIBRATION_BOUNDS, DEFAULT_CALIBRATION
from ..types import PRIORITIES
from .filters import Filters

GROUPS = ("task", "team")
_QUANTILES = 100  # latency quantile table resolution: percentiles 0..100


@dataclass(frozen=True)
class Scenario:
    """What to change. ``priority`` None keeps each request's own; ``prices`` None keeps the
    current table; ``price_scale`` multiplies rates of a provider or ``provider/model``."""

    priority: str | None = None
    prices: PriceTable | None = None
    exclude: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()  # when set, only these providers take part
    price_scale: tuple[tuple[str, float], ...] = ()

    def __post_init__(self):
        if self.priority is not None and self.priority not in PRIORITIES:
            raise ValidationError("priority", f"must be one of {', '.join(PRIORITIES)}; got {self.priority!r}")
        for target, factor in self.price_scale:
            if not factor >= 0:
                raise ValidationError("price_scale", f"{target}: factor must be zero or more; got {factor!r}")

    def describe(self) -> str:
        parts = [f"priority {self.priority}"] if self.priority else []
        if self.prices is not None:
            parts.append(f"prices {self.prices.version}")
        parts += [f"{t} prices x{f:g}" for t, f in self.price_scale]
        if self.providers:
            parts.append("only " + ", ".join(self.providers))
        if self.exclude:
            parts.append("without " + ", ".join(self.exclude))
        return "; ".join(parts) or "each request's own priority, re-ranked"


@dataclass
class ReplayResult:
    scenario: str
    totals: dict
    by_task: pd.DataFrame
    by_team: pd.DataFrame
    moves: pd.DataFrame  # from -> to, requests, spend before and after
    candidates: pd.DataFrame  # the replayed candidates with their rates, factor and p90
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

        return {
            "scenario": self.scenario,
            "totals": {k: _plain(v) for k, v in self.totals.items()},
            "by_task": records(self.by_task),
            "by_team": records(self.by_team),
            "moves": records(self.moves),
            "candidates": records(self.candidates),
            "notes": list(self.notes),
        }


def _plain(value):
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value.item() if hasattr(value, "item") else value


# --- the candidate table -------------------------------------------------------------------


def _history(con: duckdb.DuckDBPyConnection, where: str, params: list) -> pd.DataFrame:
    """Per (provider, model) that answered in the period: requests, raw/billed input sums, p90."""
    cur = con.execute(
        f"""
        SELECT provider, model, count(*) AS attempts,
               sum(input_tokens) FILTER (estimate_raw_tokens > 0 AND input_tokens > 0) AS billed_in,
               sum(estimate_raw_tokens) FILTER (estimate_raw_tokens > 0 AND input_tokens > 0) AS raw_in,
               quantile_disc(latency_ms, 0.9) AS p90
        FROM logs WHERE {where} AND status = 'ok' AND provider IS NOT NULL AND model IS NOT NULL
        GROUP BY ALL ORDER BY provider, model""",
        params,
    )
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _factor(provider: str, billed, raw) -> float:
    cls = PROVIDERS.get(provider)
    if cls is None or not cls.calibrate_input_tokens:
        return 1.0
    if not raw or not billed:
        return DEFAULT_CALIBRATION
    lo, hi = CALIBRATION_BOUNDS
    return min(max(float(billed) / float(raw), lo), hi)


def _rates(prices: PriceTable, scale: dict, provider: str, model: str) -> tuple:
    """USD per token (input, cached input, output), or Nones when unpriced."""
    price = prices.lookup(provider, model)
    if price is None:
        return None, None, None
    k = Decimal(str(scale.get(f"{provider}/{model}", scale.get(provider, 1.0))))
    cached = price.input if price.cached_input is None else price.cached_input
    return tuple(float(v * k / 1_000_000) for v in (price.input, cached, price.output))


def _excluded(entries, providers, models, scenario: Scenario) -> set[tuple[str, str]]:
    """The (provider, model) pairs the scenario removes; an entry matching nothing is an error."""
    from ..governance.policy import PolicyDecision, apply_decision

    pairs = list(zip(providers, models))
    expanded = []
    for entry in entries:
        if "/" in entry or entry in providers:
            expanded.append(entry)
        elif entry in models:  # a bare model id: that model wherever it is served
            expanded += [f"{p}/{m}" for p, m in pairs if m == entry]
        else:
            raise ValidationError("exclude", f"{entry!r} is neither a provider nor a model that served requests in the period")
    if scenario.providers:
        unknown = [p for p in scenario.providers if p not in providers]
        if unknown:
            raise ValidationError("providers", f"{', '.join(unknown)} served no requests in the period")
        expanded += [p for p in dict.fromkeys(providers) if p not in scenario.providers]
    kept = apply_decision(PolicyDecision(excluded=tuple(expanded)), pairs) if pairs and expanded else pairs
    return set(pairs) - set(kept)


def candidate_table(con, f: Filters, scenario: Scenario, prices: PriceTable) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every model that answered in the period, with its factor and scenario rates; the
    candidates the scenario keeps, numbered in ranking tie-break order)."""
    start, end = f.bounds()
    where, params = Filters(start=start, end=end).where()
    hist = _history(con, where, params)
    scale = dict(scenario.price_scale)
    rows = []
    for r in hist.itertuples(index=False):
        rates = _rates(prices, scale, r.provider, r.model)
        rows.append((r.provider, r.model, _factor(r.provider, r.billed_in, r.raw_in), *rates, r.p90))
    models = pd.DataFrame(rows, columns=["provider", "model", "factor", "in_rate", "cached_rate", "out_rate", "p90"])
    if models.empty:
        return models, models.assign(idx=pd.Series(dtype="int64"))
    known = models["p90"].dropna()
    models["p90"] = models["p90"].fillna(float(known.median()) if len(known) else PRIOR_TOTAL_MS)
    try:
        dropped = _excluded(scenario.exclude, list(models["provider"]), list(models["model"]), scenario)
    except Exception as e:  # the policy's refusal when nothing is left
        if isinstance(e, ValidationError):
            raise
        raise ValidationError("exclude", "the scenario leaves no candidate") from None
    keep = [(p, m) not in dropped for p, m in zip(models["provider"], models["model"])]
    cands = models[keep].reset_index(drop=True)
    order = {name: i for i, name in enumerate(PROVIDERS)}
    cands = cands.assign(_o=cands["provider"].map(lambda p: order.get(p, len(order)))).sort_values(["_o", "model"])
    cands = cands.drop(columns="_o").reset_index(drop=True)
    return models, cands.assign(idx=range(len(cands)))


# --- the replay itself ---------------------------------------------------------------------

_EXPECTED = """
SELECT coalesce(task, 'unknown') AS task, round(avg(output_tokens)) AS exp_out
FROM logs WHERE {where} AND final AND status = 'ok' AND output_tokens IS NOT NULL GROUP BY 1"""

_REQUESTS = """
SELECT l.id, coalesce(l.task, 'unknown') AS task, coalesce(l.team, '(no team)') AS team,
       coalesce(CAST(? AS VARCHAR), l.priority, 'balanced') AS priority, l.provider, l.model,
       l.output_tokens, l.cost_usd, l.latency_ms, e.exp_out,
       coalesce(l.estimate_raw_tokens, l.input_tokens / s.factor) AS raw,
       (l.input_tokens - coalesce(l.cached_input_tokens, 0)) * s.in_rate + coalesce(l.cached_input_tokens, 0) * s.cached_rate
           + l.output_tokens * s.out_rate AS same_cost,
       floor(log2(greatest(l.latency_ms, 0.01)) * 16)::SMALLINT AS bucket
FROM (SELECT * FROM logs WHERE {where} AND final AND status = 'ok'
      AND input_tokens IS NOT NULL AND output_tokens IS NOT NULL AND latency_ms IS NOT NULL) l
JOIN _models s ON l.provider = s.provider AND l.model = s.model
JOIN _expected e ON e.task = coalesce(l.task, 'unknown')"""

# Each request's estimated cost on every candidate, as one list, then the index of the
# lowest key for its priority: list_position finds the first minimum, so ties go to the
# candidate listed first, as in ``rank``. An unpriced candidate's cost is NULL: it never
# wins low_cost unless nothing is priced (then position 1), and its balanced cost term is
# the worst priced term + 1.
_CHOICE = """
SELECT *, CASE priority
          WHEN 'low_cost' THEN coalesce(list_position(costs, lo), 1) - 1
          WHEN 'low_latency' THEN {fastest}
          ELSE list_position(balanced, list_min(balanced)) - 1 END AS new_idx
FROM (SELECT *, {balanced} AS balanced
      FROM (SELECT *, list_min(costs) AS lo, list_max(costs) AS hi FROM (SELECT *, {costs} AS costs FROM _req)))"""

# The source side's position in its latency distribution, from log2 buckets (1/16 octave):
# the share of its (model, task) requests below the bucket's middle.
_POSITIONS = """
SELECT provider, model, task, bucket,
       (sum(n) OVER (PARTITION BY provider, model, task ORDER BY bucket) - n / 2.0)
           / sum(n) OVER (PARTITION BY provider, model, task) AS q
FROM (SELECT provider, model, task, bucket, count(*) AS n FROM _req GROUP BY ALL)"""

_LATENCY_TABLE = """
SELECT provider, model, coalesce(task, 'unknown') AS task, quantile_cont(latency_ms, {points}) AS qs
FROM logs WHERE {where} AND status = 'ok' AND latency_ms IS NOT NULL AND provider IS NOT NULL GROUP BY ALL
UNION ALL
SELECT provider, model, '*', quantile_cont(latency_ms, {points})
FROM logs WHERE {where} AND status = 'ok' AND latency_ms IS NOT NULL AND provider IS NOT NULL GROUP BY ALL"""

_RESULT = """
SELECT r.id, r.task, r.team, r.provider || '/' || r.model AS before, c.provider || '/' || c.model AS after,
       NOT (c.provider = r.provider AND c.model = r.model) AS moved,
       r.cost_usd,
       CASE WHEN c.provider = r.provider AND c.model = r.model THEN r.same_cost
            ELSE ceil(r.raw * c.factor) * c.in_rate + r.output_tokens * c.out_rate END AS replay_cost,
       r.latency_ms,
       CASE WHEN c.provider = r.provider AND c.model = r.model THEN r.latency_ms
            ELSE coalesce(qt.qs[CAST(round(p.q * {n}) AS INTEGER) + 1], qa.qs[CAST(round(p.q * {n}) AS INTEGER) + 1],
                          r.latency_ms) END AS replay_latency_ms
FROM _chosen r JOIN _cands c ON c.idx = r.new_idx
LEFT JOIN _pos p ON p.provider = r.provider AND p.model = r.model AND p.task = r.task AND p.bucket = r.bucket
LEFT JOIN _lat qt ON qt.provider = c.provider AND qt.model = c.model AND qt.task = r.task
LEFT JOIN _lat qa ON qa.provider = c.provider AND qa.model = c.model AND qa.task = '*'"""

_GROUP = """
SELECT {g}, count(*) AS requests, avg(moved::INTEGER) AS moved_share,
       sum(cost_usd) AS spend_usd, sum(replay_cost) AS replay_spend_usd,
       sum(cost_usd) FILTER (replay_cost IS NOT NULL) - sum(replay_cost) FILTER (cost_usd IS NOT NULL) AS saving_usd,
       count(*) FILTER (cost_usd IS NULL OR replay_cost IS NULL) AS unpriced,
       quantile_disc(latency_ms, 0.5) AS p50_ms, quantile_disc(replay_latency_ms, 0.5) AS replay_p50_ms,
       quantile_disc(latency_ms, 0.9) AS p90_ms, quantile_disc(replay_latency_ms, 0.9) AS replay_p90_ms
FROM _replay GROUP BY ALL ORDER BY spend_usd DESC NULLS LAST"""

_TEMP = ("_expected", "_req", "_chosen", "_pos", "_lat", "_replay")


def _num(value) -> str:
    return "NULL" if value is None or value != value else repr(float(value))


def _choice_sql(cands: pd.DataFrame) -> str:
    """``_CHOICE`` with every candidate's rates, factor and p90 written in as constants."""
    costs, balanced = [], []
    min_p90 = max(float(cands["p90"].min()), 1e-6)
    for c in cands.itertuples(index=False):
        priced = c.in_rate == c.in_rate and c.in_rate is not None
        cost = f"(ceil(raw * {_num(c.factor)}) * {_num(c.in_rate)} + exp_out * {_num(c.out_rate)})" if priced else "NULL"
        costs.append(cost if priced else "CAST(NULL AS DOUBLE)")
        term = "(hi + 1e-12) / (lo + 1e-12) + 1.0" if not priced else f"({cost} + 1e-12) / (lo + 1e-12)"
        balanced.append(f"({W_COST} * CASE WHEN lo IS NULL THEN 1.0 ELSE {term} END + {W_LATENCY} * {_num(c.p90)} / {min_p90!r})")
    fastest = int(cands.sort_values(["p90", "idx"]).iloc[0]["idx"])
    return _CHOICE.format(costs="[" + ", ".join(costs) + "]", balanced="[" + ", ".join(balanced) + "]", fastest=fastest)


def _frame(con, sql: str, params=()) -> pd.DataFrame:
    cur = con.execute(sql, list(params))
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _with_deltas(frame: pd.DataFrame) -> pd.DataFrame:
    spend = frame["spend_usd"].where(frame["spend_usd"] != 0)
    return frame.assign(
        saving_pct=100.0 * frame["saving_usd"] / spend,
        p50_change_ms=frame["replay_p50_ms"] - frame["p50_ms"],
        p90_change_ms=frame["replay_p90_ms"] - frame["p90_ms"],
    )


def _run_steps(con, where: str, params: list, scenario: Scenario, cands: pd.DataFrame) -> None:
    points = "[" + ", ".join(str(i / _QUANTILES) for i in range(_QUANTILES + 1)) + "]"
    steps = (
        ("_expected", _EXPECTED.format(where=where), params),
        ("_req", _REQUESTS.format(where=where), [scenario.priority, *params]),
        ("_chosen", _choice_sql(cands), []),
        ("_pos", _POSITIONS, []),
        ("_lat", _LATENCY_TABLE.format(points=points, where=where), params * 2),
        ("_replay", _RESULT.format(n=_QUANTILES), []),
    )
    for name, sql, args in steps:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}", args)


def replay(con: duckdb.DuckDBPyConnection, f: Filters, scenario: Scenario, prices: PriceTable) -> ReplayResult:
    """Run ``scenario`` over the requests ``f`` selects in the mirror behind ``con``.

    The caller holds whatever lock guards ``con``; temporary tables are dropped on the way out.
    """
    prices = scenario.prices or prices
    models, cands = candidate_table(con, f, scenario, prices)
    if cands.empty:
        raise ValidationError("since", "no successful requests in the period to replay")
    where, params = f.where()
    con.register("_models", models)
    con.register("_cands", cands)
    try:
        _run_steps(con, where, params, scenario, cands)
        total = _with_deltas(_frame(con, _GROUP.format(g="'all' AS scope"))).drop(columns="scope")
        by = {g: _with_deltas(_frame(con, _GROUP.format(g=g))) for g in GROUPS}
        moves = _frame(
            con,
            """SELECT before, after, count(*) AS requests, sum(cost_usd) AS spend_usd, sum(replay_cost) AS replay_spend_usd
               FROM _replay WHERE moved GROUP BY ALL ORDER BY requests DESC""",
        )
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.unregister("_models")
        con.unregister("_cands")
    totals = {k: _plain(v) for k, v in total.to_dict("records")[0].items()} if len(total) else {"requests": 0}
    notes = [f"scenario: {scenario.describe()}"]
    unpriced = cands[cands["in_rate"].isna()]
    if len(unpriced):
        notes.append("unpriced under the scenario's prices: " + ", ".join(unpriced["provider"] + "/" + unpriced["model"]))
    return ReplayResult(scenario.describe(), totals, by["task"], by["team"], moves, cands.drop(columns="idx"), notes)
