"""Synthetic usage history, so a fresh install's Analytics page has something real-looking to show.

``seed_demo`` writes ``requests`` synthetic requests spread over the last ``days`` days
straight into ``usage_logs`` (large ``executemany`` transactions, not the background
writer), every row marked ``synthetic = 1`` so ``purge_synthetic`` can remove them and
the router never learns from them. The shape follows real traffic: a diurnal curve with
quieter weekends, a dozen users in four teams calling through eight API keys, all five
tasks with their own token sizes,
the models of ``demo_traffic.toml`` (rows of the price table) with log-normal latencies,
~3% failed requests and ~2% fallbacks
(a failed attempt followed by a final attempt on the other provider). Costs come from the
real ``PriceTable``: per-token prices are read once per model and applied with numpy.

Measured on a shared 2-vCPU machine: ``generate_rows`` produces about 150k requests/s;
writing into SQLite (37-column rows, two indexes) is the bottleneck at 23-45k rows/s, so
100k requests take 2-4 s and 1M requests 40-45 s. Benchmarks that need 10M rows should
feed ``generate_rows`` batches to their own writer, or seed once and reuse the file.
"""

from __future__ import annotations

import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources

import numpy as np

from .. import db
from ..pricing import COST_QUANTUM
from ..providers import PROVIDERS
from ..types import Usage
from .migrations import bump_generation, ensure_schema
from .schema import APPEND_LOCK, INSERT_SQL, WRITABLE


def _load_traffic() -> dict:
    """The traffic shape from ``demo_traffic.toml``: models, priorities and tasks (data, not code)."""
    return tomllib.loads(resources.files(__package__).joinpath("demo_traffic.toml").read_text("utf-8"))


_TRAFFIC = _load_traffic()
# provider, model, tokens/s, TTFT median ms, tokenizer ratio, estimate bias, estimate noise
MODELS = tuple(
    (m["provider"], m["model"], m["tokens_per_s"], m["ttft_ms"], m["tokenizer_ratio"], m["estimate_bias"], m["estimate_noise"])
    for m in _TRAFFIC["models"]
)
_INDEX = {m["model"]: i for i, m in enumerate(_TRAFFIC["models"])}
COUNTERPART = np.array([_INDEX[m["counterpart"]] for m in _TRAFFIC["models"]])  # same tier, other provider
PROMPT_CACHE = np.array([bool(m["prompt_cache"]) for m in _TRAFFIC["models"]])
PRIORITIES = tuple(_TRAFFIC["priorities"])
PRIORITY_SHARE = tuple(_TRAFFIC["priorities"].values())
# Model mix per priority (rows) over MODELS (columns): cost-led traffic leans on the small models.
MODEL_SHARE = np.array([[m["share"][p] for m in _TRAFFIC["models"]] for p in PRIORITIES])
# task: share, input median, input sigma, output median, output sigma
TASK_SHAPES = {task: tuple(shape) for task, shape in _TRAFFIC["tasks"].items()}
TEAMS = {
    "search": ("alice", "bob", "chen"),
    "support": ("dana", "eli", "fatima", "gus"),
    "data-science": ("hiro", "ines", "jamal"),
    "marketing": ("kate", "luis"),
}
USERS = tuple(u for members in TEAMS.values() for u in members)
USER_TEAM = tuple(team for team, members in TEAMS.items() for _ in members)
# Each team calls through two API keys, its service's and its members' notebooks.
USER_KEY = tuple(
    f"{team}-{'service' if i % 2 == 0 else 'notebooks'}" for team, members in TEAMS.items() for i in range(len(members))
)
# error type: share of failures, latency median ms, message
ERRORS = (
    ("rate_limited", 0.5, 90.0, "429 Too Many Requests (synthetic)"),
    ("timeout", 0.2, 30000.0, "read timed out (synthetic)"),
    ("unavailable", 0.3, 450.0, "503 Service Unavailable (synthetic)"),
)
FALLBACK_OK, FALLBACK_FAILED, SINGLE_FAILED = 0.016, 0.004, 0.026  # ~2% fallbacks, ~3% failed
CHUNK_REQUESTS = 200_000


# --- time of day --------------------------------------------------------------------------


def _hour_weights(start: datetime, hours: int) -> np.ndarray:
    """Weight per hour: a morning and an afternoon peak, weekends at a third of weekdays."""
    first = np.datetime64(start.replace(tzinfo=None), "h")
    stamps = first + np.arange(hours)
    hour = (stamps - stamps.astype("datetime64[D]")).astype(np.int64)
    weekday = (stamps.astype("datetime64[D]").astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    curve = 0.06 + np.exp(-(((hour - 10.5) / 2.5) ** 2)) + 0.8 * np.exp(-(((hour - 15.0) / 2.5) ** 2))
    return curve * np.where(weekday >= 5, 0.33, 1.0)


def _timestamps(n: int, days: int, now: datetime, rng: np.random.Generator) -> np.ndarray:
    """``n`` sorted UTC instants in microseconds since the epoch, none after ``now``."""
    now_us = int(now.timestamp() * 1_000_000)
    start_us = now_us - days * 86_400_000_000
    weights = _hour_weights(datetime.fromtimestamp(start_us / 1e6, UTC), days * 24)
    hour = rng.choice(len(weights), size=n, p=weights / weights.sum())
    ts = start_us + hour * 3_600_000_000 + rng.integers(0, 3_600_000_000, size=n)
    return np.sort(np.minimum(ts, now_us))


def _ts_text(us: np.ndarray) -> list[str]:
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us").tolist()
    return [s[:10] + " " + s[11:] for s in text]


# --- prices -------------------------------------------------------------------------------


def _unit_prices(price_table) -> np.ndarray:
    """USD per token (input, output, cached input) per model; NaN where the model is unpriced."""
    out = np.full((len(MODELS), 3), np.nan)
    million = 1_000_000
    for i, (provider, model, *_rest) in enumerate(MODELS):
        inp = price_table.estimate_cost(provider, model, million, 0)
        if inp is None:
            continue
        outp = price_table.estimate_cost(provider, model, 0, million)
        cached = price_table.cost(provider, model, Usage(million, 0, "provider", million))
        out[i] = [float(Decimal(inp) / million), float(Decimal(outp) / million), float(Decimal(cached) / million)]
    return out


_COST_DIGITS = -COST_QUANTUM.as_tuple().exponent


def _money(tokens_in, tokens_out, cached, unit: np.ndarray) -> np.ndarray:
    # The price table quantises costs to COST_QUANTUM; rounding to the same grain keeps the two in step.
    return np.round((tokens_in - cached) * unit[:, 0] + cached * unit[:, 2] + tokens_out * unit[:, 1], _COST_DIGITS)


# --- requests and attempts ----------------------------------------------------------------


def _requests(ts: np.ndarray, rng: np.random.Generator) -> dict:
    """Who asked what, how big, and how it went: one entry per request."""
    n = len(ts)
    task_names = list(TASK_SHAPES)
    shapes = np.array([TASK_SHAPES[t] for t in task_names])
    task = rng.choice(len(task_names), size=n, p=shapes[:, 0] / shapes[:, 0].sum())
    priority = rng.choice(len(PRIORITIES), size=n, p=PRIORITY_SHARE)
    cum = MODEL_SHARE.cumsum(axis=1)[priority]
    model = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(MODELS) - 1)
    user_w = 1.0 / np.arange(1, len(USERS) + 1) ** 0.8
    user = rng.choice(len(USERS), size=n, p=user_w / user_w.sum())
    raw = np.clip(rng.lognormal(np.log(shapes[task, 1]), shapes[task, 2]), 5, 120_000).astype(np.int64)
    output = np.clip(rng.lognormal(np.log(shapes[task, 3]), shapes[task, 4]), 1, 4096).astype(np.int64)
    outcome = np.searchsorted(np.cumsum([FALLBACK_OK, FALLBACK_FAILED, SINGLE_FAILED]), rng.random(n), side="right")
    return {
        "ts": ts,
        "task": task,
        "priority": priority,
        "model": model,
        "user": user,
        "raw": raw,
        "output": output,
        "expected_output": shapes[task, 3].astype(np.int64),
        "outcome": outcome,
        "streamed": rng.random(n) < 0.35,
        "hinted": rng.random(n) < 0.05,
    }


def _attempts(req: dict, rng: np.random.Generator) -> dict:
    """Expand requests to attempt rows: fallbacks get a failed first attempt on their model."""
    fb = np.flatnonzero(req["outcome"] <= 1)  # outcome 0: fallback then ok, 1: fallback then failed
    n = len(req["ts"])
    first = {k: v[fb] for k, v in req.items()}
    final = dict(req)
    final["model"] = np.where(req["outcome"] <= 1, COUNTERPART[req["model"]], req["model"])
    err = rng.choice(len(ERRORS), size=n + len(fb), p=[e[1] for e in ERRORS])
    err_latency = np.array([e[2] for e in ERRORS])[err] * rng.lognormal(0, 0.3, len(err))
    final["ts"] = req["ts"].copy()
    final["ts"][fb] += (err_latency[: len(fb)] * 1000).astype(np.int64)  # the retry starts when attempt 1 failed
    rows = {k: np.concatenate([first[k], final[k]]) for k in req}
    rows["attempt"] = np.concatenate([np.ones(len(fb), np.int64), np.where(req["outcome"] <= 1, 2, 1)])
    rows["final"] = np.concatenate([np.zeros(len(fb), bool), np.ones(n, bool)])
    rows["req_index"] = np.concatenate([fb, np.arange(n)])
    failed_final = (req["outcome"] == 1) | (req["outcome"] == 2)
    rows["failed"] = np.concatenate([np.ones(len(fb), bool), failed_final])
    rows["error"], rows["err_latency"] = err, err_latency
    order = np.lexsort((rows["attempt"], rows["ts"]))
    return {k: v[order] for k, v in rows.items()}


def _measures(rows: dict, unit: np.ndarray, rng: np.random.Generator) -> dict:
    """Tokens, estimates, costs and timings for attempt rows."""
    m, n = rows["model"], len(rows["model"])
    spec = np.array([r[2:] for r in MODELS])  # tps, ttft, tokenizer ratio, est bias, est noise
    ok = ~rows["failed"]
    inp = np.maximum(1, np.round(rows["raw"] * spec[m, 2] * rng.lognormal(0, 0.02, n))).astype(np.int64)
    est_in = np.maximum(1, np.round(inp * spec[m, 3] * rng.lognormal(0, spec[m, 4]))).astype(np.int64)
    cached = np.where(PROMPT_CACHE[m] & (inp >= 1024) & (rng.random(n) < 0.25), (inp * rng.uniform(0.3, 0.9, n)) // 128 * 128, 0)
    cached = cached.astype(np.int64)
    ttft = spec[m, 1] * rng.lognormal(0, 0.35, n)
    gen_ms = rows["output"] / spec[m, 0] * 1000 * rng.lognormal(0, 0.2, n)
    cf = COUNTERPART[m]
    cf_out = np.where(ok, rows["output"], rows["expected_output"])
    return {
        "input": inp,
        "cached": cached,
        "est_in": est_in,
        "ok": ok,
        "cost": np.where(ok, _money(inp, rows["output"], cached, unit[m]), np.nan),
        "cost_est": _money(est_in, rows["expected_output"], 0, unit[m]),
        "cf_cost": _money(est_in, cf_out, 0, unit[cf]),
        "latency": np.where(ok, ttft + gen_ms, rows["err_latency"]),
        "ttft": np.where(ok & rows["streamed"], ttft, np.nan),
    }


def _nullable(values: np.ndarray, null: np.ndarray) -> list:
    out = values.tolist()
    for i in np.flatnonzero(null).tolist():
        out[i] = None
    return out


def _pick(table, index: np.ndarray) -> list:
    return np.asarray(table, dtype=object)[index].tolist()


def _columns(rows: dict, meas: dict, unit: np.ndarray, tag: str, version: str) -> dict:
    """Column name -> list of SQL values, for every written column."""
    m, ok, n = rows["model"], meas["ok"], len(rows["model"])
    providers = [p for p, *_ in MODELS]
    unpriced = np.isnan(unit[m, 0])
    task_names = list(TASK_SHAPES)
    reasons = [[f"{p}: {model} ranked first (synthetic)" for _, model, *_ in MODELS] for p in PRIORITIES]
    calibrated = np.array([PROVIDERS[p].calibrate_input_tokens for p in providers])[m]
    sources = np.where(ok, "provider", np.where(calibrated, "calibrated", "tiktoken"))
    cf = COUNTERPART[m]
    return {
        "ts": _ts_text(rows["ts"]),
        "request_id": [f"syn-{tag}-{i:09d}" for i in rows["req_index"].tolist()],
        "attempt": rows["attempt"].tolist(),
        "final": rows["final"].astype(np.int64).tolist(),
        "user": _pick(USERS, rows["user"]),
        "team": _pick(USER_TEAM, rows["user"]),
        "key_name": _pick(USER_KEY, rows["user"]),
        "task": _pick(task_names, rows["task"]),
        "priority": _pick(PRIORITIES, rows["priority"]),
        "provider_hint": _nullable(np.array(providers, dtype=object)[m], ~rows["hinted"]),
        "route_reason": np.array(reasons, dtype=object)[rows["priority"], m].tolist(),
        "provider": _pick(providers, m),
        "model": _pick([model for _, model, *_ in MODELS], m),
        "prompt_tokens_est": meas["est_in"].tolist(),
        "completion_tokens_est": rows["expected_output"].tolist(),
        "total_tokens_est": (meas["est_in"] + rows["expected_output"]).tolist(),
        "cost_est_usd": _nullable(meas["cost_est"], unpriced),
        "input_tokens": _nullable(meas["input"], ~ok),
        "output_tokens": _nullable(rows["output"], ~ok),
        "cached_input_tokens": _nullable(meas["cached"], ~ok),
        "cost_usd": _nullable(meas["cost"], ~ok | unpriced),
        "unpriced": (ok & unpriced).astype(np.int64).tolist(),
        "token_source": sources.tolist(),
        "counterfactual_provider": _pick(providers, cf),
        "counterfactual_model": _pick([model for _, model, *_ in MODELS], cf),
        "counterfactual_cost_usd": _nullable(meas["cf_cost"], np.isnan(meas["cf_cost"])),
        "latency_ms": np.round(meas["latency"], 3).tolist(),
        "ttft_ms": _nullable(np.round(meas["ttft"], 3), np.isnan(meas["ttft"])),
        "streamed": rows["streamed"].astype(np.int64).tolist(),
        "status": np.where(ok, "ok", "error").tolist(),
        "error_type": _nullable(np.array([e[0] for e in ERRORS], dtype=object)[rows["error"]], ok),
        "error_message": _nullable(np.array([e[3] for e in ERRORS], dtype=object)[rows["error"]], ok),
        "price_version": [version] * n,
        "synthetic": [1] * n,
        "estimate_raw_tokens": rows["raw"].tolist(),
    }


def generate_rows(
    requests: int,
    *,
    days: int = 30,
    now: datetime | None = None,
    seed: int = 0,
    price_table=None,
    chunk_requests: int = CHUNK_REQUESTS,
) -> Iterator[list[tuple]]:
    """Yield lists of INSERT tuples (``schema.WRITABLE`` order) for ``requests`` requests.

    Rows come out in time order, chunk by chunk, so memory stays bounded at 10M requests.
    """
    if price_table is None:
        from ..pricing import PriceTable

        price_table = PriceTable.load()
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    unit = _unit_prices(price_table)
    root = np.random.SeedSequence(seed)
    ts_all = _timestamps(requests, days, now, np.random.default_rng(root.spawn(1)[0]))
    tag = uuid.uuid4().hex[:8]  # keeps request ids unique when the same seed is loaded twice
    for k, start in enumerate(range(0, requests, chunk_requests)):
        rng = np.random.default_rng([seed, k + 1])
        req = _requests(ts_all[start : start + chunk_requests], rng)
        rows = _attempts(req, rng)
        rows["req_index"] = rows["req_index"] + start
        columns = _columns(rows, _measures(rows, unit, rng), unit, tag, price_table.version)
        nulls = [None] * len(columns["ts"])  # content is never stored for synthetic rows
        yield list(zip(*(columns.get(name, nulls) for name in WRITABLE)))


def seed_demo(
    db_path: db.Target,
    *,
    days: int = 30,
    requests: int = 100_000,
    now: datetime | None = None,
    seed: int = 0,
    price_table=None,
) -> int:
    """Write synthetic history into the usage log; returns the number of rows (attempts) written."""
    if days < 1 or requests < 0:
        raise ValueError("days must be at least 1 and requests must not be negative")
    ensure_schema(db_path)
    conn = db.connect(db_path)
    written = 0
    try:
        for batch in generate_rows(requests, days=days, now=now, seed=seed, price_table=price_table):
            with conn.transaction():
                conn.lock(APPEND_LOCK)  # ids in commit order, beside live writers
                conn.executemany(INSERT_SQL, batch)
            written += len(batch)
    finally:
        conn.close()
    return written


def replace_demo(db_path: db.Target, **kw) -> tuple[int, int]:
    """``seed_demo`` after removing the synthetic history already there, so loading twice
    leaves one history, not two; returns (rows written, rows removed)."""
    removed = purge_synthetic(db_path)
    return seed_demo(db_path, **kw), removed


def purge_synthetic(db_path: db.Target) -> int:
    """Delete every synthetic row; returns how many went. Mirrors see the bumped generation and rebuild."""
    ensure_schema(db_path)
    conn = db.connect(db_path)
    try:
        with conn.transaction():
            deleted = conn.execute("DELETE FROM usage_logs WHERE synthetic = 1").rowcount
            if deleted:
                bump_generation(conn)
        return deleted
    finally:
        conn.close()
