"""The blind A/B verdicts summarised: win rate per provider (or model) and task, with a Wilson interval.

Each vote puts two sides in front of a person; each side counts once for its provider.
A side wins when the verdict names it; a tie or "both bad" is a vote without a win, so a
provider's win rate is wins / votes it took part in. The 95% interval is Wilson's, which
stays inside [0, 1] and behaves at small counts where the normal approximation does not.
Cost per win is what was spent on that provider's answers divided by its wins. The table
is small (people click it), so it is read straight from SQLite.

Per model, ``model_votes`` adds the cost-quality frontier of each task: the models no other
model beats on both cost per win and win rate. ``pair_progress`` says how far each pair of
models compared on a task is from the votes the quality floor needs before it judges.
"""

from __future__ import annotations

import pandas as pd

from .. import db
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


def _sides(conn) -> pd.DataFrame:
    rows = conn.execute(
        """SELECT provider_a, coalesce(model_a, '?'), coalesce(task, 'unknown'), verdict = 'a', verdict, cost_a_usd FROM ab_votes
           UNION ALL
           SELECT provider_b, coalesce(model_b, '?'), coalesce(task, 'unknown'), verdict = 'b', verdict, cost_b_usd FROM ab_votes"""
    ).fetchall()
    return pd.DataFrame(rows, columns=["provider", "model", "task", "won", "verdict", "cost_usd"])


def _read_sides(conn: object | None) -> pd.DataFrame | None:
    try:
        return _sides(conn) if conn is not None else None
    except db.UNAVAILABLE:
        return None  # the table does not exist yet


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


def vote_summary(conn: object | None) -> pd.DataFrame:
    """Rows per (provider, task) plus one ``task == "all"`` row per provider."""
    sides = _read_sides(conn)
    if sides is None or sides.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out = []
    for (provider, task), group in sides.groupby(["provider", "task"], sort=True):
        out.append({"provider": provider, "task": task, **_summarise(group)})
    for provider, group in sides.groupby("provider", sort=True):
        out.append({"provider": provider, "task": "all", **_summarise(group)})
    return pd.DataFrame(out, columns=list(COLUMNS))


def model_votes(conn: object | None) -> pd.DataFrame:
    """Rows per (provider, model, task), each with ``frontier``: on its task's cost-quality frontier."""
    cols = ["provider", "model", *COLUMNS[1:], "frontier"]
    sides = _read_sides(conn)
    if sides is None or sides.empty:
        return pd.DataFrame(columns=cols)
    out = [
        {"provider": p, "model": m, "task": t, **_summarise(group)}
        for (p, m, t), group in sides.groupby(["provider", "model", "task"], sort=True)
    ]
    frame = pd.DataFrame(out)
    frame["frontier"] = [on_frontier(frame[frame["task"] == t], i) for i, t in zip(frame.index, frame["task"])]
    return frame[cols]


def on_frontier(task_rows: pd.DataFrame, index) -> bool:
    """Whether row ``index`` has a win and no other row of its task wins as often for less per win."""
    me = task_rows.loc[index]
    if me["cost_per_win_usd"] is None or me["wins"] == 0:
        return False
    others = task_rows.drop(index)
    others = others[others["wins"] > 0]
    cheaper_or_same = others["cost_per_win_usd"].astype(float) <= float(me["cost_per_win_usd"])
    better_or_same = others["win_rate"] >= me["win_rate"]
    strictly = (others["cost_per_win_usd"].astype(float) < float(me["cost_per_win_usd"])) | (others["win_rate"] > me["win_rate"])
    return not bool((cheaper_or_same & better_or_same & strictly).any())


def pair_progress(conn: object | None, min_votes: int = 30) -> pd.DataFrame:
    """Per pair of models compared on a task: votes so far, each side's votes, and progress to ``min_votes``.

    The floor judges each model on its own votes for the task, so a pair is ready when both
    of its models have ``min_votes``."""
    cols = ["task", "model_a", "model_b", "votes", "votes_a", "votes_b", "needed", "progress"]
    if conn is None:
        return pd.DataFrame(columns=cols)
    try:
        d = conn.dialect
        rows = conn.execute(
            f"""SELECT coalesce(task, 'unknown'), {d.least}(pa, pb), {d.greatest}(pa, pb), count(*) FROM (
                   SELECT task, provider_a || '/' || coalesce(model_a, '?') AS pa, provider_b || '/' || coalesce(model_b, '?') AS pb
                   FROM ab_votes) AS pairs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        ).fetchall()
    except db.UNAVAILABLE:
        return pd.DataFrame(columns=cols)
    per_model: dict = {}
    for task, a, b, n in rows:
        for side in (a, b):
            per_model[(task, side)] = per_model.get((task, side), 0) + n
    out = []
    for task, a, b, n in rows:
        va, vb = per_model[(task, a)], per_model[(task, b)]
        out.append((task, a, b, n, va, vb, min_votes, min(1.0, min(va, vb) / min_votes)))
    return pd.DataFrame(out, columns=cols)
