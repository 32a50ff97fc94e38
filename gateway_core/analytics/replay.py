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
  q of the new model's (for that task, else over all tasks), read off 1/16-octave
  histograms by nearest rank (within ~2%, as on the Analytics page).
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
from ..router import PRIOR_TOTAL_MS
from ..tokens import CALIBRATION_BOUNDS, DEFAULT_CALIBRATION
from ..types import PRIORITIES
from . import replay_sql as sql
from .filters import Filters

GROUPS = ("task", "team")


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
    models["mid"] = range(len(models))
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

_TEMP = ("_expected", "_hist", "_qt", "_pos", "_replay")


def _frame(con, text: str) -> pd.DataFrame:
    cur = con.execute(text)
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _with_deltas(frame: pd.DataFrame) -> pd.DataFrame:
    spend = frame["spend_usd"].where(frame["spend_usd"] != 0)
    return frame.assign(
        saving_pct=100.0 * frame["saving_usd"] / spend,
        p50_change_ms=frame["replay_p50_ms"] - frame["p50_ms"],
        p90_change_ms=frame["replay_p90_ms"] - frame["p90_ms"],
    )


def _split(groups: pd.DataFrame) -> tuple[dict, dict[str, pd.DataFrame]]:
    """(the totals, one frame per group) from the grouping-sets result."""
    total = groups[groups["scope"] == "all"].drop(columns=["scope", *GROUPS])
    totals = {k: _plain(v) for k, v in total.to_dict("records")[0].items()} if len(total) else {"requests": 0}
    by = {}
    for g in GROUPS:
        others = [o for o in GROUPS if o != g]
        by[g] = groups[groups["scope"] == g].drop(columns=["scope", *others]).reset_index(drop=True)
    return totals, by


def _run_steps(con, where: str, params: list, scenario: Scenario, cands: pd.DataFrame) -> None:
    steps = (
        ("_expected", sql.EXPECTED.format(where=where), params),
        ("_hist", sql.HISTOGRAM.format(where=where), params),
        ("_qt", sql.QUANTILES, []),
        ("_pos", sql.POSITIONS, []),
        ("_replay", sql.replay_sql(cands, where), [scenario.priority, *params]),
    )
    for name, text, args in steps:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {text}", args)


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
        groups = _with_deltas(_frame(con, sql.GROUPS))
        moves = _frame(con, sql.MOVES)
    finally:
        for name in _TEMP:
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.unregister("_models")
        con.unregister("_cands")
    totals, by = _split(groups)
    notes = [f"scenario: {scenario.describe()}"]
    unpriced = cands[cands["in_rate"].isna()]
    if len(unpriced):
        notes.append("unpriced under the scenario's prices: " + ", ".join(unpriced["provider"] + "/" + unpriced["model"]))
    return ReplayResult(scenario.describe(), totals, by["task"], by["team"], moves, cands.drop(columns="idx"), notes)
