"""The cost-intelligence queries of ``Analytics``: what-if replay, month-end forecast, anomalies, bill vs log.

``FinOpsQueries`` is mixed into ``Analytics`` and runs on its DuckDB mirror, rollups and
read-only SQLite connection, under its lock; the arithmetic lives in pure modules
(``replay`` builds its SQL, ``forecast`` and ``reconcile`` work on small frames) so each
method here only fetches, hands over and returns.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from . import billing, forecast, reconcile, votes
from .filters import Filters

ANOMALY_DIMS = ("team", "model")


def _dims_only(f: Filters | None, start: date, end: date | None = None) -> Filters:
    """``f``'s dimension filters over another time range."""
    return replace(f or Filters(), start=start, end=end)


class FinOpsQueries:
    def replay(self, scenario, prices, f: Filters | None = None):
        """The what-if ``replay.Scenario`` over the requests ``f`` selects (see ``replay``)."""
        from .replay import replay

        with self._lock:
            self.refresh()
            return replay(self._con, f or Filters(), scenario, prices)

    def daily_spend(self, f: Filters | None = None, by: str | None = None) -> pd.DataFrame:
        """USD per day (and per ``by``: team, model, provider or user) from the daily rollups."""
        if by not in (None, "team", "model", "provider", "user"):
            raise ValueError(f"by must be team, model, provider or user; got {by!r}")
        key = f'coalesce("{by}", \'(none)\') AS "{by}", ' if by else ""
        return self._facts(
            f, "daily", f"SELECT day, {key}coalesce(sum(spend), 0) AS spend FROM {{facts}} GROUP BY ALL ORDER BY ALL"
        )

    def month_end_forecast(self, f: Filters | None = None, today: date | None = None) -> dict:
        """Month-to-date spend and the month-end forecast with its band (``forecast.month_end_forecast``)."""
        today = today or datetime.now(UTC).date()
        start = min(today.replace(day=1), today - timedelta(days=7))
        return forecast.month_end_forecast(self.daily_spend(_dims_only(f, start, today)), today)

    def spend_spikes(self, f: Filters | None = None) -> pd.DataFrame:
        """Flagged days of every team and every model, as (kind, series, day, spend, median, score), largest first."""
        frames = []
        for by in ANOMALY_DIMS:
            found = self.spend_anomalies(f, by)
            frames.append(found.rename(columns={by: "series"}).assign(kind=by))
        out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        cols = ["kind", "series", "day", "spend", "median", "score"]
        return out[cols].sort_values("score", ascending=False, ignore_index=True) if len(out) else pd.DataFrame(columns=cols)

    def spend_anomalies(self, f: Filters | None = None, by: str = "team") -> pd.DataFrame:
        """Flagged days per team or model inside ``f``'s range, each judged against the 14 days before
        it; today is left out until it is over (a partial day is not a dip)."""
        if by not in ANOMALY_DIMS:
            raise ValueError(f"by must be one of {', '.join(ANOMALY_DIMS)}; got {by!r}")
        f = f or Filters()
        start, end = f.bounds()
        daily = self.daily_spend(_dims_only(f, start.date() - timedelta(days=14), end), by)
        judged = forecast.anomalies(daily, by)
        today = datetime.now(UTC).date()
        keep = judged["flagged"] & (judged["day"] >= start.date()) & (judged["day"] < today)
        return judged[keep].reset_index(drop=True)

    def saved_vs_overspent(self, f: Filters | None = None) -> pd.DataFrame:
        """Per day: what routing saved against the counterfactual, and what it overspent where the
        alternative would have been cheaper (both positive USD), over successful priced requests."""
        where, params = (f or Filters()).where()
        return self._run(
            f"""SELECT CAST(ts AS DATE) AS day,
                       sum(greatest(counterfactual_cost_usd - cost_usd, 0)) AS saved_usd,
                       sum(greatest(cost_usd - counterfactual_cost_usd, 0)) AS overspent_usd,
                       count(*) FILTER (counterfactual_cost_usd < cost_usd) AS overspent_requests, count(*) AS requests
                FROM logs WHERE {where} AND final AND status = 'ok' AND cost_usd IS NOT NULL
                     AND counterfactual_cost_usd IS NOT NULL
                GROUP BY ALL ORDER BY day""",
            params,
        )

    def breaker_events(self, f: Filters | None = None) -> pd.DataFrame:
        """Per day: requests routed while a circuit breaker was open (the router notes it in the
        route reason), read from SQLite since the mirror leaves reasons out."""
        start, end = (f or Filters()).bounds()
        with self._lock:
            conn = self._source.conn()
            if conn is None:
                return pd.DataFrame(columns=["day", "requests"])
            rows = conn.execute(
                """SELECT substr(ts, 1, 10) AS day, count(*) FROM usage_logs
                   WHERE ts >= ? AND ts < ? AND final = 1 AND route_reason LIKE '%breaker open:%' GROUP BY 1 ORDER BY 1""",
                (start.strftime("%Y-%m-%d %H:%M:%S"), (end or datetime(9999, 1, 1)).strftime("%Y-%m-%d %H:%M:%S")),
            ).fetchall()
        return pd.DataFrame(rows, columns=["day", "requests"])

    def model_votes(self) -> pd.DataFrame:
        """Blind-vote standing per (provider, model, task) with the cost-quality frontier (``votes``)."""
        with self._lock:
            return votes.model_votes(self._source.conn())

    def vote_progress(self, min_votes: int = 30) -> pd.DataFrame:
        """How close each compared pair of models is to the votes the quality floor needs."""
        with self._lock:
            return votes.pair_progress(self._source.conn(), min_votes)

    # --- bill reconciliation ------------------------------------------------------------

    def usage_by_model_day(self, f: Filters | None = None) -> pd.DataFrame:
        """Billed tokens (input including cached, output) and spend per day, provider and model."""
        return self._facts(
            f,
            "daily",
            """SELECT CAST(day AS VARCHAR) AS day, provider, model,
                      coalesce(sum(input), 0) + coalesce(sum(cached), 0) AS log_input,
                      coalesce(sum(output), 0) AS log_output, coalesce(sum(spend), 0) AS log_cost_usd
               FROM {facts} WHERE provider IS NOT NULL GROUP BY ALL ORDER BY ALL""",
        )

    def bill_imports(self) -> pd.DataFrame:
        with self._lock:
            return billing.imports(self._source.conn())

    def bill_reconciliation(self, prices, threshold_pct: float = billing.DEFAULT_THRESHOLD_PCT) -> dict:
        """The latest bills against the log: ``daily`` (per day and model), ``models`` (period
        totals), ``unknown`` (meters no rule maps), ``imports``."""
        with self._lock:
            conn = self._source.conn()
            bill = billing.bill_by_model_day(conn)
            unknown = billing.unknown_meters(conn)
            imports = billing.imports(conn)
        if bill.empty:
            log = pd.DataFrame(columns=["day", "provider", "model", "log_input", "log_output", "log_cost_usd"])
        else:
            first, last = date.fromisoformat(min(bill["day"])), date.fromisoformat(max(bill["day"]))
            log = self.usage_by_model_day(Filters(first, last + timedelta(days=1)))
        daily = reconcile.reconcile(bill, log, prices.canonical_model, threshold_pct)
        return {"daily": daily, "models": reconcile.by_model(daily, threshold_pct), "unknown": unknown, "imports": imports}

    def bill_price_warnings(self, prices, threshold_pct: float = billing.DEFAULT_THRESHOLD_PCT) -> dict:
        """(provider, model) -> the measured bill gap, for the price table's warnings."""
        return reconcile.price_warnings(self.bill_reconciliation(prices, threshold_pct)["models"], threshold_pct)
