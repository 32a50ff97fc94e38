"""B5: the Analytics page's query set at 100k, 1M (and 10M) rows, and how soon new rows show.

The page's queries run through ``gateway_core.analytics.Analytics`` (a DuckDB mirror of the
SQLite log) with the page's default filters, the last 30 days. The baseline runs the same
three-chart page PERF.md uses (daily cost by provider and model, p50/p95 latency by
provider, top 20 users by cost) as plain SQL inside SQLite through ``sqlite3``; the
gateway's versions of those three charts are timed separately so the ratio compares like
with like. Freshness: right after a refresh, 10k rows are written through ``UsageLog`` and
the page's headline is polled until it counts them: the near-worst case, since the
mirror has just been refreshed when they land.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import common, datasets
from .common import Config, Target, clock, summarize

ID = "B5"
NAME = "b5_analytics"
TITLE = "Analytics page queries (DuckDB mirror) against the same page as SQL inside SQLite"

SIZES = {
    "smoke": {"requests": [2_000], "page_reps": 2, "sqlite_reps": {2_000: 1}, "new_rows": 500, "cache": False},
    # Loading a 1M-row mirror alone takes 10-40 s on the 2-core machine, past the quick budget.
    "quick": {"requests": [100_000], "page_reps": 5, "sqlite_reps": {100_000: 2}, "new_rows": 10_000, "cache": True},
    "full": {
        "requests": [100_000, 1_000_000, 10_000_000],
        "page_reps": 7,
        "sqlite_reps": {100_000: 5, 1_000_000: 3, 10_000_000: 1},
        "new_rows": 10_000,
        "cache": True,
    },
}
TARGET_1M_MS = 150.0
TARGET_10M_MS = 1200.0
TARGET_VISIBLE_S = 2.0

# The Analytics page's query set, by the names analytics.py exposes.
PAGE = (
    ("headline", lambda a, f: a.headline(f)),
    ("spend_over_time", lambda a, f: a.spend_over_time(f, "day")),
    ("tokens_by_provider", lambda a, f: a.tokens_by_provider(f)),
    ("cost_per_request_distribution", lambda a, f: a.cost_per_request_distribution(f)),
    ("latency_percentiles", lambda a, f: a.latency_percentiles(f)),
    ("errors_over_time", lambda a, f: a.errors_over_time(f, "day")),
    ("top_users", lambda a, f: a.top_users(f, 20)),
)
THREE_CHARTS = ("spend_over_time", "latency_percentiles", "top_users")

SQLITE_PAGE = (
    (
        "daily_cost_by_provider_model",
        """
        SELECT substr(ts, 1, 10) AS day, provider, model, sum(cost_usd) AS cost, count(*) AS attempts
        FROM usage_logs WHERE ts >= ? AND provider IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""",
    ),
    (
        "latency_p50_p95_by_provider",
        """
        WITH r AS (
            SELECT provider, latency_ms,
                   row_number() OVER (PARTITION BY provider ORDER BY latency_ms) AS rn,
                   count(*) OVER (PARTITION BY provider) AS n
            FROM usage_logs WHERE ts >= ? AND status = 'ok' AND latency_ms IS NOT NULL)
        SELECT provider, min(CASE WHEN rn >= 0.50 * n THEN latency_ms END) AS p50,
               min(CASE WHEN rn >= 0.95 * n THEN latency_ms END) AS p95
        FROM r GROUP BY provider""",
    ),
    (
        "top_20_users_by_cost",
        """
        SELECT user, sum(cost_usd) AS cost, count(*) AS attempts FROM usage_logs
        WHERE ts >= ? GROUP BY user ORDER BY cost DESC LIMIT 20""",
    ),
)


def _since_text() -> str:
    return (datetime.now(UTC) - timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")


def _sqlite_page(db: Path, reps: int) -> dict:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    since = _since_text()
    per_query = {name: [] for name, _ in SQLITE_PAGE}
    totals = []
    try:
        for _ in range(reps):
            t_page = clock()
            for name, sql in SQLITE_PAGE:
                t0 = clock()
                con.execute(sql, (since,)).fetchall()
                per_query[name].append((clock() - t0) * 1000)
            totals.append((clock() - t_page) * 1000)
    finally:
        con.close()
    return {"page_ms": summarize(totals), "queries_ms": {k: statistics.median(v) for k, v in per_query.items()}}


def _analytics_page(analytics, reps: int) -> dict:
    from gateway_core.analytics import Filters

    f = Filters()
    available = [(name, fn) for name, fn in PAGE if hasattr(analytics, name)]
    per_query = {name: [] for name, _ in available}
    totals, three = [], []
    for _ in range(reps + 1):  # the first pass warms DuckDB's caches and is dropped
        t_page = clock()
        for name, fn in available:
            t0 = clock()
            fn(analytics, f)
            per_query[name].append((clock() - t0) * 1000)
        totals.append((clock() - t_page) * 1000)
        three.append(sum(per_query[n][-1] for n in THREE_CHARTS if n in per_query))
    return {
        "page_ms": summarize(totals[1:]),
        "three_charts_ms": summarize(three[1:]),
        "queries_ms": {k: statistics.median(v[1:]) for k, v in per_query.items()},
        "missing_queries": [name for name, _ in PAGE if not hasattr(analytics, name)],
    }


def _visibility(cfg: Config, src: Path, n_new: int) -> dict:
    """Time from 10k rows committed to the page's headline counting them."""
    from gateway_core.analytics import Analytics, Filters
    from gateway_core.usage.writer import UsageLog

    from .b4_usage_log import sample_row

    db = datasets.copy_db(src, cfg.work_dir / "b5_visibility.sqlite")
    analytics = Analytics(db)
    try:
        f = Filters()
        before = analytics.headline(f)["attempts"]
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        log = UsageLog(db)
        analytics.refresh(force=True)  # the mirror is as fresh as it gets when the rows land
        for i in range(n_new):
            log.write({**sample_row(i, "new"), "ts": now})
        log.close()
        t0 = clock()
        polls = 0
        while analytics.headline(f)["attempts"] < before + n_new:
            polls += 1
            if clock() - t0 > 30:
                raise TimeoutError("new rows did not become visible within 30 s")
            time.sleep(0.02)
        visible_s = clock() - t0
        # What one incremental sync of n_new rows costs, measured apart from the staleness wait.
        log = UsageLog(db)
        for i in range(n_new):
            log.write({**sample_row(i, "sync"), "ts": now})
        log.close()
        t1 = clock()
        added = analytics.refresh(force=True)
        sync_ms = (clock() - t1) * 1000
    finally:
        analytics.close()
    cfg.log(
        f"  {n_new:,} new rows visible after {visible_s:.3f} s (sync of {added:,} rows: {sync_ms:.0f} ms; "
        f"staleness bound {analytics.max_staleness_s} s)"
    )
    return {
        "new_rows": n_new,
        "visible_s": visible_s,
        "polls": polls,
        "incremental_sync_ms": sync_ms,
        "max_staleness_s": analytics.max_staleness_s,
        "worst_case_bound_s": analytics.max_staleness_s + sync_ms / 1000,
    }


def _one_size(cfg: Config, requests: int, sizes: dict) -> tuple[dict, Path]:
    from gateway_core.analytics import Analytics

    db, facts = datasets.usage_db(requests, cache=sizes["cache"], work_dir=cfg.work_dir)
    gen = "cached" if facts["cached"] else f"generated in {facts['generated_s']:.1f} s"
    cfg.log(f"  {facts['rows']:,} rows ({requests:,} requests, {gen})")
    analytics = Analytics(db)
    try:
        t0 = clock()
        loaded = analytics.refresh(force=True)
        load_ms = (clock() - t0) * 1000
        page = _analytics_page(analytics, sizes["page_reps"])
    finally:
        analytics.close()
    base = _sqlite_page(db, sizes["sqlite_reps"][requests])
    three, base_p50 = page["three_charts_ms"]["p50"], base["page_ms"]["p50"]
    out = {
        **facts,
        "mirror_initial_load_ms": load_ms,
        "rows_loaded": loaded,
        "analytics": page,
        "sqlite_baseline": base,
        "ratio_sqlite_over_duckdb_three_charts": common.ratio(base_p50, three),
    }
    cfg.log(
        f"    mirror load {load_ms:,.0f} ms | full page p50 {page['page_ms']['p50']:.1f} ms | three charts "
        f"{three:.1f} ms vs SQLite {base_p50:,.0f} ms ({out['ratio_sqlite_over_duckdb_three_charts']}x faster)"
    )
    return out, db


def run(cfg: Config) -> dict:
    sizes = cfg.sizes(SIZES)
    t0 = clock()
    per_size, targets = {}, []
    db_small = None
    for requests in sizes["requests"]:
        per_size[str(requests)], db = _one_size(cfg, requests, sizes)
        db_small = db_small or db
    visibility = _visibility(cfg, db_small, sizes["new_rows"])
    for requests, limit in ((1_000_000, TARGET_1M_MS), (10_000_000, TARGET_10M_MS)):
        if str(requests) in per_size:
            targets.append(
                Target(
                    f"page query set at {requests // 1_000_000}M requests, p50",
                    per_size[str(requests)]["analytics"]["page_ms"]["p50"],
                    limit,
                    "ms",
                )
            )
    targets.append(Target(f"{sizes['new_rows']:,} new rows visible", visibility["visible_s"], TARGET_VISIBLE_S, "s"))
    common.report_targets(cfg, targets)
    notes = [
        "page = headline, spend over time, tokens by provider, cost distribution, latency percentiles, "
        "errors over time, top users; default filters (last 30 days); first pass dropped as warm-up",
        "baseline = three-chart page in SQLite SQL; ratio compares it with the same three charts in DuckDB",
        "visibility is measured right after a mirror refresh, i.e. close to the worst case",
    ]
    missing = next(iter(per_size.values()))["analytics"]["missing_queries"]
    if missing:
        notes.append(f"analytics functions not found, left out of the page: {', '.join(missing)}")
    if cfg.mode == "quick":
        notes.append("quick mode runs 100k only: the 1M and 10M targets are judged by --full")
    lines = [
        f"{m['rows']:,} rows: page p50 {m['analytics']['page_ms']['p50']:.0f} ms (7 queries); three charts "
        f"{m['analytics']['three_charts_ms']['p50']:.0f} ms vs SQLite {m['sqlite_baseline']['page_ms']['p50']:,.0f} ms "
        f"(x{m['ratio_sqlite_over_duckdb_three_charts']} faster); mirror load from scratch {m['mirror_initial_load_ms'] / 1000:.1f} s"
        for m in per_size.values()
    ]
    lines.append(
        f"{visibility['new_rows']:,} new rows visible after {visibility['visible_s']:.2f} s "
        f"(incremental sync {visibility['incremental_sync_ms']:.0f} ms)"
    )
    return common.make_result(
        ID,
        NAME,
        TITLE,
        cfg,
        sizes=sizes,
        metrics={"by_requests": per_size, "visibility": visibility},
        targets=targets,
        notes=notes,
        duration_s=clock() - t0,
        headlines=lines,
    )
