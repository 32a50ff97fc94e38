"""Every analytics query the console and API run, as named functions over a DuckDB mirror.

``Analytics`` keeps an in-memory DuckDB copy of ``usage_logs`` (``mirror``) and
refreshes it by ``id > watermark`` whenever a query finds it older than
``max_staleness_s``, so new rows show up within seconds without reloading history. Each
refresh also folds the new rows into daily rollups and log-bucketed histograms
(``rollups``), which is what keeps the Analytics page fast at millions of rows;
percentiles therefore come from histograms (within ~2% of exact). Row-level views (the
audit log and the export) live in ``audit``; the A/B vote summary in
``votes``; replay, forecast, anomalies and the bill reconciliation in ``finops``. The SQLite file is only ever read.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from datetime import datetime
from itertools import accumulate
from pathlib import Path

import duckdb
import pandas as pd

from .. import db
from ..stats import nearest_rank
from . import audit, summaries
from .filters import Filters
from .finops import FinOpsQueries
from .loading import BackgroundLoad, LoadProgress
from .mirror import LogSource, create_mirror, mirror_matches
from .rollups import (
    COMPACT_EVERY,
    COST_BINS_PER_DECADE,
    KIND_COST,
    KIND_LATENCY,
    KIND_TTFT,
    compact,
    create_rollups,
    facts_sql,
    percentile_value,
    roll_up,
    rollups_match,
)
from .votes import vote_summary as _vote_summary

BUCKETS = ("hour", "day", "week")


def _bucket(bucket: str) -> str:
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}; got {bucket!r}")
    return bucket


def _open_mirror(mirror_path: str | None) -> duckdb.DuckDBPyConnection:
    if mirror_path:
        try:
            return duckdb.connect(mirror_path)
        except duckdb.Error:  # held by another process: analytics still works, just colder
            pass
    return duckdb.connect(":memory:")


class Analytics(FinOpsQueries):
    """Read-only analytics over one usage log (a SQLite file or a PostgreSQL URL). Safe to share between threads."""

    def __init__(
        self,
        db_path: db.Target,
        *,
        max_staleness_s: float = 1.0,
        mirror_path: str | None = None,
        background_rows: int | None = None,
    ):
        """``mirror_path`` keeps the DuckDB mirror in a file, so a restart loads only the rows
        added since (a cold load costs ~20 s per million rows). If that file is locked by
        another process, the mirror lives in memory instead. With ``background_rows``, a
        load of at least that many rows runs on a thread (``loading`` says how far it got);
        queries made meanwhile wait for it."""
        self.db_path = db_path if db.is_postgres(db_path) else Path(db_path)
        self.max_staleness_s = max_staleness_s
        self._con = _open_mirror(mirror_path)
        self._source = LogSource(self.db_path)
        self._lock = threading.RLock()
        self._watermark = self._generation = self._since_compact = 0
        self._refreshed_at = float("-inf")
        if not self._resume():
            self._rebuild()
        self._first_load: BackgroundLoad | None = None
        pending = self._source.max_id() - self._watermark if background_rows is not None else 0
        if background_rows is not None and pending >= background_rows:
            self._first_load = BackgroundLoad(pending, lambda note: self.refresh(force=True, on_rows=note))

    def loading(self) -> LoadProgress | None:
        """While a background load runs: rows loaded so far and about how many in all; else None."""
        return None if self._first_load is None else self._first_load.progress()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait for a background load to finish; True when none is running."""
        return True if self._first_load is None else self._first_load.wait(timeout)

    # --- freshness ---------------------------------------------------------------------

    def _rebuild(self) -> None:
        create_mirror(self._con)
        create_rollups(self._con)
        self._con.execute("CREATE OR REPLACE TABLE mirror_meta (source VARCHAR, watermark BIGINT, generation BIGINT)")
        self._watermark = 0

    def _resume(self) -> bool:
        """Continue a persisted mirror of this same log, if it is still consistent with it."""
        try:
            rows = self._con.execute("SELECT source, watermark, generation FROM mirror_meta").fetchall()
        except duckdb.Error:
            return False
        row = rows[0] if rows else None
        if row is None or row[0] != db.identity(self.db_path) or not (mirror_matches(self._con) and rollups_match(self._con)):
            return False
        if row[2] != self._source.generation() or self._source.max_id() < row[1]:
            return False
        self._watermark, self._generation = int(row[1]), int(row[2])
        return True

    def _save_watermark(self) -> None:
        self._con.execute("DELETE FROM mirror_meta")
        self._con.execute(
            "INSERT INTO mirror_meta VALUES (?, ?, ?)", [db.identity(self.db_path), self._watermark, self._generation]
        )

    def refresh(self, force: bool = False, on_rows=None) -> int:
        """Copy rows added since the last refresh; returns how many. Rebuilds after a purge.
        ``on_rows(rows copied so far)`` hears about each chunk copied."""
        with self._lock:
            if not force and time.monotonic() - self._refreshed_at < self.max_staleness_s:
                return 0
            generation = self._source.generation()
            if generation != self._generation or self._source.max_id() < self._watermark:
                self._rebuild()
                self._generation = generation
            before = self._watermark
            added, self._watermark = self._source.copy_new_rows(self._con, before, on_rows)
            if added:
                roll_up(self._con, before)
                self._since_compact += 1
                if self._since_compact >= COMPACT_EVERY:
                    compact(self._con)
                    self._since_compact = 0
                self._save_watermark()
            self._refreshed_at = time.monotonic()
            return added

    def reset(self) -> int:
        """Drop the mirror and load everything again; returns the rows loaded."""
        with self._lock:
            self._rebuild()
            self._source.close()
            return self.refresh(force=True)

    def close(self) -> None:
        with self._lock:
            self._source.close()
            self._con.close()

    def _run(self, sql: str, params: list | tuple = ()) -> pd.DataFrame:
        # fetchall + DataFrame costs ~0.5 ms on these small results; DuckDB's .df() ~6 ms.
        with self._lock:
            self.refresh()
            cur = self._con.execute(sql, list(params))
            rows = cur.fetchall()
            return pd.DataFrame(rows, columns=[d[0] for d in cur.description])

    def _facts(self, f: Filters | None, kind: str, sql: str, extra: list | tuple = ()) -> pd.DataFrame:
        """Run ``sql`` with ``{facts}`` bound to rollup-shaped rows covering the filters."""
        f = f or Filters()
        start, end = f.bounds()
        dims, params = f.dims()
        # The histograms carry no task, user, team or key, so those filters aggregate raw rows instead.
        use_rollup = kind == "daily" or not (f.tasks or f.users or f.teams or f.keys)
        source, params = facts_sql(kind, start, end, dims, params, use_rollup)
        return self._run(sql.replace("{facts}", source), [*params, *extra])

    def _percentiles(self, f: Filters | None, group: tuple[str, ...], points: tuple[int, ...]) -> pd.DataFrame:
        """Nearest-rank percentiles of latency and TTFT per ``group``, read off the log2 histograms.

        DuckDB returns each group's histogram as two short lists; walking them in Python is
        several times cheaper than a window function over the histogram rows.
        """
        cols = "".join(f"{g}, " for g in group)
        frame = self._facts(
            f,
            "hist",
            f"""
            SELECT {cols}kind, list(bucket ORDER BY bucket) AS buckets, list(n ORDER BY bucket) AS counts
            FROM (SELECT {cols}kind, bucket, sum(n) AS n FROM {{facts}}
                  WHERE kind IN ({KIND_LATENCY}, {KIND_TTFT}) AND provider IS NOT NULL GROUP BY ALL)
            GROUP BY ALL""",
        )
        rows = []
        for buckets, counts in zip(frame.pop("buckets"), frame.pop("counts")):
            cum = list(accumulate(counts))
            picks = [buckets[bisect_left(cum, nearest_rank(p / 100, cum[-1]))] for p in points]
            rows.append({"n": cum[-1], **{f"p{p}": percentile_value(b) for p, b in zip(points, picks)}})
        return pd.concat([frame, pd.DataFrame(rows, index=frame.index, columns=["n", *(f"p{p}" for p in points)])], axis=1)

    # --- the Analytics page ------------------------------------------------------------

    def headline(self, f: Filters | None = None) -> dict:
        """Spend, volume, reliability, tokens, savings (net, saved, overspent) and p50/p95 latency."""
        return summaries.headline(self._facts, self._percentiles, f)

    def savings_by_provider(self, f: Filters | None = None) -> pd.DataFrame:
        return summaries.savings_by_provider(self._facts, f)

    def spend_by_team(self, f: Filters | None = None) -> pd.DataFrame:
        return summaries.spend_by_team(self._facts, f)

    def spend_by_key(self, f: Filters | None = None) -> pd.DataFrame:
        return summaries.spend_by_key(self._facts, f)

    def provider_health(self, since: datetime, include_synthetic: bool = True) -> pd.DataFrame:
        """Per (provider, model) since ``since``: calls, errors, error rate, p50/p90 latency, p90 TTFT."""
        return summaries.provider_health(self._run, since, include_synthetic)

    def spend_over_time(self, f: Filters | None = None, bucket: str = "day") -> pd.DataFrame:
        if _bucket(bucket) == "hour":  # rollups are daily; hours come from raw rows
            where, params = (f or Filters()).where()
            return self._run(
                f"""
                SELECT date_trunc('hour', ts) AS bucket, provider, model, coalesce(sum(cost_usd), 0) AS cost_usd,
                       count(*) FILTER (final) AS requests
                FROM logs WHERE {where} AND provider IS NOT NULL GROUP BY ALL ORDER BY bucket, provider, model""",
                params,
            )
        return self._facts(
            f,
            "daily",
            f"""
            SELECT CAST(date_trunc('{bucket}', day) AS TIMESTAMP) AS bucket, provider, model,
                   coalesce(sum(spend), 0) AS cost_usd, sum(requests) AS requests
            FROM {{facts}} WHERE provider IS NOT NULL GROUP BY ALL ORDER BY bucket, provider, model""",
        )

    def tokens_by_provider(self, f: Filters | None = None) -> pd.DataFrame:
        """``input`` is uncached input, so input + cached + output is everything billed."""
        return self._facts(
            f,
            "daily",
            """
            WITH t AS (SELECT provider, sum(input) AS input, sum(cached) AS cached, sum(output) AS output
                       FROM {facts} WHERE provider IS NOT NULL GROUP BY provider)
            SELECT provider, token_type, coalesce(tokens, 0)::BIGINT AS tokens
            FROM t UNPIVOT INCLUDE NULLS (tokens FOR token_type IN (input, cached, output))
            ORDER BY provider, token_type""",
        )

    def cost_per_request_distribution(self, f: Filters | None = None) -> pd.DataFrame:
        """Histogram of priced final requests on quarter-decade bins (costs span several decades)."""
        k = COST_BINS_PER_DECADE
        return self._facts(
            f,
            "hist",
            f"""
            SELECT pow(10, bucket / {k}) AS bin_start_usd, pow(10, (bucket + 1) / {k}) AS bin_end_usd,
                   sum(n) AS requests
            FROM {{facts}} WHERE kind = {KIND_COST} GROUP BY bucket ORDER BY bucket""",
        )

    def latency_percentiles(self, f: Filters | None = None) -> pd.DataFrame:
        """p50/p90/p95/p99 of latency and TTFT per (provider, model), over successful attempts."""
        points = (50, 90, 95, 99)
        frame = self._percentiles(f, ("provider", "model"), points)
        names = {f"p{p}": f"p{p}" for p in points}
        lat = (
            frame[frame.kind == KIND_LATENCY]
            .drop(columns="kind")
            .rename(columns={k: f"{v}_latency_ms" for k, v in names.items()})
        )
        ttft = (
            frame[frame.kind == KIND_TTFT]
            .drop(columns=["kind", "n"])
            .rename(columns={k: f"{v}_ttft_ms" for k, v in names.items()})
        )
        return lat.merge(ttft, on=["provider", "model"], how="left").sort_values(["provider", "model"], ignore_index=True)

    def errors_over_time(self, f: Filters | None = None, bucket: str = "day") -> pd.DataFrame:
        if _bucket(bucket) == "hour":
            where, params = (f or Filters()).where()
            return self._run(
                f"""
                SELECT date_trunc('hour', ts) AS bucket, count(*) FILTER (status = 'error') AS errors,
                       count(*) FILTER (attempt > 1) AS fallbacks, count(*) AS requests
                FROM logs WHERE {where} AND final GROUP BY ALL ORDER BY bucket""",
                params,
            )
        return self._facts(
            f,
            "daily",
            f"""
            SELECT CAST(date_trunc('{bucket}', day) AS TIMESTAMP) AS bucket, sum(errors) AS errors,
                   sum(fallbacks) AS fallbacks, sum(requests) AS requests
            FROM {{facts}} GROUP BY ALL HAVING sum(requests) > 0 ORDER BY bucket""",
        )

    def top_users(self, f: Filters | None = None, n: int = 10) -> pd.DataFrame:
        return self._facts(
            f,
            "daily",
            """
            SELECT coalesce("user", '(anonymous)') AS "user", arg_max(team, day) AS team,
                   sum(requests) AS requests, coalesce(sum(spend), 0) AS cost_usd
            FROM {facts} GROUP BY 1 ORDER BY cost_usd DESC, requests DESC LIMIT ?""",
            [int(n)],
        )

    def estimate_error_by_model(self, f: Filters | None = None) -> pd.DataFrame:
        """How far pre-request estimates were from billed usage, in percent of the actual.

        ``mean_*`` compare the whole estimate (prompt plus expected output); ``prompt_*``
        isolate the tokenizer estimate, which is what Claude calibration improves.
        """
        return self._facts(
            f,
            "daily",
            """
            SELECT provider, model, sum(est_n) AS n,
                   sum(est_abs) / sum(est_n) * 100 AS mean_abs_pct_error,
                   sum(est_bias) / sum(est_n) * 100 AS mean_bias_pct,
                   sum(prompt_abs) / sum(est_n) * 100 AS prompt_mean_abs_pct_error,
                   sum(prompt_bias) / sum(est_n) * 100 AS prompt_mean_bias_pct
            FROM {facts} WHERE provider IS NOT NULL GROUP BY ALL HAVING sum(est_n) > 0 ORDER BY provider, model""",
        )

    def filter_options(self) -> dict[str, list[str]]:
        """Distinct values for the filter widgets, over all loaded history."""
        out = {}
        for key, column in (
            ("providers", "provider"),
            ("models", "model"),
            ("tasks", "task"),
            ("users", "user"),
            ("teams", "team"),
            ("keys", "key_name"),
        ):
            frame = self._run(f'SELECT DISTINCT "{column}" AS v FROM daily WHERE "{column}" IS NOT NULL ORDER BY 1')
            out[key] = frame["v"].tolist()
        return out

    # --- row-level views ---------------------------------------------------------------

    def export_csv(self, f: Filters | None = None) -> bytes:
        """The filtered attempts as CSV (every column but stored prompt and response text)."""
        where, params = (f or Filters()).where()
        with self._lock:
            return audit.export_csv(self._source.conn(), where, params)

    def requests_page(
        self, f: Filters | None = None, search: str = "", page: int = 1, page_size: int = 50, *, content: bool = True
    ) -> tuple[pd.DataFrame, int]:
        """One row per request (its final attempt), newest first, and the total matching.

        ``search`` matches any attempt's request id, user, model, error type or stored prompt
        (the prompt only with ``content``).
        """
        where, params = (f or Filters()).where()
        return audit.requests_page(self._run, where, params, search, page, page_size, content=content)

    def attempts_for(self, request_id: str, *, content: bool = True) -> pd.DataFrame:
        """Every attempt of one request from SQLite (indexed, never stale), content masked
        (and not read at all without ``content``)."""
        with self._lock:
            return audit.attempts_for(self._source.conn(), request_id, content=content)

    def rejections(self, f: Filters | None = None, limit: int = 200) -> tuple[pd.DataFrame, int]:
        """Refused requests in the filters' time range (and users), newest first, and their count."""
        f = f or Filters()
        start, end = f.bounds()
        with self._lock:
            return audit.rejections(self._source.conn(), start, end, tuple(f.users), limit)

    def vote_summary(self) -> pd.DataFrame:
        with self._lock:
            return _vote_summary(self._source.conn())
