"""FinOps basics over daily spend: a month-end forecast with a band, and anomaly flags.

Both are pure functions of a small daily frame, so they are tested on planted data.

**Forecast.** Month to date plus the run rate times the days left, where the run rate is
the mean daily spend over the last ``window`` complete days (default 7: a week covers the
weekday/weekend cycle). Today counts at its full run rate, since it is not over. The band
is ±``z`` (1.96) standard deviations of that remaining spend, treating days as independent
draws from the window: ``z × sd(daily) × √(days left)``, never below zero.

**Anomalies.** Per series (a team, or a model), a day is flagged when its spend is more
than ``k`` (3) scaled MADs above (or, asked for, below) the median of the trailing
``window`` (14) days before it, and at least ``min_lift`` (25%) above it.
The MAD is scaled by 1.4826 so it estimates a standard deviation for normal data; a
trailing window whose MAD is zero (flat spend) uses 1% of its median instead, so a flat
series does not flag every cent. A day needs a full trailing window before it is judged.
"""

from __future__ import annotations

import calendar
import math
import statistics
from datetime import date, timedelta

import pandas as pd

Z95 = 1.959963984540054
MAD_SCALE = 1.4826


def month_end_forecast(daily: pd.DataFrame, today: date, *, window: int = 7, z: float = Z95) -> dict:
    """``daily`` has ``day`` and ``spend`` (USD) rows; days without a row spent nothing.

    Returns month_to_date, run_rate (USD/day), days_left (today included), forecast, low,
    high and the month's last day."""
    spend = _series(daily)
    first = today.replace(day=1)
    last = today.replace(day=calendar.monthrange(today.year, today.month)[1])
    mtd = float(spend[(spend.index >= first) & (spend.index < today)].sum())
    past = [spend.get(today - timedelta(days=i), 0.0) for i in range(1, window + 1)]
    past = [float(v) for v in past]
    rate = sum(past) / window
    sd = statistics.stdev(past) if len(past) > 1 else 0.0
    days_left = (last - today).days + 1
    forecast = mtd + rate * days_left
    half = z * sd * math.sqrt(days_left)
    return {
        "month_to_date": mtd,
        "run_rate": rate,
        "days_left": days_left,
        "forecast": forecast,
        "low": max(mtd, forecast - half),
        "high": forecast + half,
        "month_end": last,
    }


def _series(daily: pd.DataFrame) -> pd.Series:
    if daily.empty:
        return pd.Series(dtype=float)
    days = [d if isinstance(d, date) else pd.Timestamp(d).date() for d in daily["day"]]
    return pd.Series(daily["spend"].astype(float).values, index=days).groupby(level=0).sum()


def anomalies(
    daily: pd.DataFrame, by: str, *, window: int = 14, k: float = 3.0, min_lift: float = 0.25, both_ways: bool = False
) -> pd.DataFrame:
    """Flag days per ``by`` series (``daily`` has day, ``by`` and spend).

    Returns every judged day with its baseline median, MAD, score (distance in scaled MADs)
    and ``flagged``; missing days in a series count as zero spend. Only spikes are flagged
    unless ``both_ways``: weekends and holidays dip every week, and a dip costs nothing. A
    flagged day must also differ from the median by ``min_lift`` (25%) of it, so a steady
    series' few-cent wobble, which can be many MADs when the MAD is tiny, is not an alarm."""
    rows = []
    for key, group in daily.groupby(by):
        spend = _series(group)
        if spend.empty:
            continue
        days = pd.date_range(min(spend.index), max(spend.index), freq="D").date
        values = [float(spend.get(d, 0.0)) for d in days]
        for i in range(window, len(values)):
            trail = pd.Series(values[i - window : i])
            median = float(trail.median())
            mad = MAD_SCALE * float((trail - median).abs().median())
            scale = mad if mad > 0 else max(0.01 * abs(median), 1e-9)
            score = (values[i] - median) / scale
            material = abs(values[i] - median) >= min_lift * abs(median)
            rows.append(
                {
                    by: key,
                    "day": days[i],
                    "spend": values[i],
                    "median": median,
                    "mad": mad,
                    "score": score,
                    "flagged": material and (abs(score) if both_ways else score) > k,
                }
            )
    return pd.DataFrame(rows, columns=[by, "day", "spend", "median", "mad", "score", "flagged"])
