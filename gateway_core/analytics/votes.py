"""The blind A/B verdicts summarised: win rate per provider and task, with a Wilson interval.

Each vote puts two sides in front of a person; each side counts once for its provider.
A side wins when the verdict names it; a tie or "both bad" is a vote without a win, so a
provider's win rate is wins / votes it took part in. The 95% interval is Wilson's, which
stays inside [0, 1] and behaves at small counts where the normal approximation does not.
Cost per win is what was spent on that provider's answers divided by its wins. The table
is small (people click it), so it is read straight from SQLite.
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from ..stats import wilson_interval

COLUMNS = (
    "provider",
    "task",
    "votes",
    "wins",
    "ties",
    "both_bad",
    "win_rate",
    "ci_low",
    "ci_high",
    "cost_usd",
    "cost_per_win_usd",
)


def _sides(conn: sqlite3.Connection) -> pd.DataFrame:
    rows = conn.execute(
        """SELECT provider_a, coalesce(task, 'unknown'), verdict = 'a', verdict, cost_a_usd FROM ab_votes
           UNION ALL
           SELECT provider_b, coalesce(task, 'unknown'), verdict = 'b', verdict, cost_b_usd FROM ab_votes"""
    ).fetchall()
    return pd.DataFrame(rows, columns=["provider", "task", "won", "verdict", "cost_usd"])


def _summarise(sides: pd.DataFrame) -> dict:
    votes, wins = len(sides), int(sides["won"].sum())
    low, high = wilson_interval(wins, votes)
    cost = float(sides["cost_usd"].fillna(0).sum())
    return {
        "votes": votes,
        "wins": wins,
        "ties": int((sides["verdict"] == "tie").sum()),
        "both_bad": int((sides["verdict"] == "both_bad").sum()),
        "win_rate": wins / votes if votes else 0.0,
        "ci_low": low,
        "ci_high": high,
        "cost_usd": cost,
        "cost_per_win_usd": cost / wins if wins else None,
    }


def vote_summary(conn: sqlite3.Connection | None) -> pd.DataFrame:
    """Rows per (provider, task) plus one ``task == "all"`` row per provider."""
    try:
        sides = _sides(conn) if conn is not None else None
    except sqlite3.OperationalError:
        sides = None  # the table does not exist yet
    if sides is None or sides.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out = []
    for (provider, task), group in sides.groupby(["provider", "task"], sort=True):
        out.append({"provider": provider, "task": task, **_summarise(group)})
    for provider, group in sides.groupby("provider", sort=True):
        out.append({"provider": provider, "task": "all", **_summarise(group)})
    return pd.DataFrame(out, columns=list(COLUMNS))
