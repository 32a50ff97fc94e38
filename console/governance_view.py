"""The Governance page's tables and burn-down charts, built from governance records; pure.

Money shows as the console's dollars, instants as UTC. A burn-down plots what is left of a
budget over its period: solid from the period's start to now, at the average rate the
ledger shows so far, then dashed to the reset at that same rate (the forecast
``BudgetStatus`` carries). Where the dashed line crosses zero is when the budget runs out
if nothing changes. No key secret ever reaches a frame: records hold only hashes, and the
key column shows the public id.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import altair as alt
import pandas as pd

from console import format as fmt
from gateway_core.governance.keys import display

UTC_TEXT = "%Y-%m-%d %H:%M"


def _moment(epoch: float | None) -> str:
    return fmt.DASH if epoch is None else datetime.fromtimestamp(epoch, UTC).strftime(UTC_TEXT)


def _names(values) -> str:
    return ", ".join(values) if values else "any"


def _count(value: int | None) -> str:
    return fmt.DASH if value is None else f"{value:,}"


def _budget(amount: Decimal | None, period: str) -> str:
    return fmt.DASH if amount is None else f"{fmt.usd(amount)} per {period}"


def keys_frame(keys, now: float) -> pd.DataFrame:
    """One row per stored key, newest first; the key itself shows as its public id."""
    rows = [
        {
            "name": k.name,
            "key": display(k.key_id),
            "team": k.team,
            "user": k.user or fmt.DASH,
            "state": k.state(now),
            "budget": _budget(k.budget_usd, k.budget_period),
            "rpm": _count(k.rpm),
            "tpm": _count(k.tpm),
            "models": _names(k.models),
            "providers": _names(k.providers),
            "expires": _moment(k.expires_at),
            "created": _moment(k.created_at),
            "note": k.revoked_reason or "",
        }
        for k in sorted(keys, key=lambda k: -k.created_at)
    ]
    return pd.DataFrame(rows, columns=list(KEY_COLUMNS))


KEY_COLUMNS = (
    "name",
    "key",
    "team",
    "user",
    "state",
    "budget",
    "rpm",
    "tpm",
    "models",
    "providers",
    "expires",
    "created",
    "note",
)


def teams_frame(teams, statuses) -> pd.DataFrame:
    """One row per team with its budget this period; ``statuses`` are ``Governance.budgets()``."""
    by_owner = {s.owner: s for s in statuses}
    rows = []
    for t in sorted(teams, key=lambda t: t.name):
        s = by_owner.get(f"team:{t.name}")
        rows.append(
            {
                "team": t.name,
                "budget": _budget(t.budget_usd, t.budget_period),
                "soft limit": f"{t.soft:.0%}" if s else fmt.DASH,
                "spent": fmt.usd(s.spent_usd) if s else fmt.DASH,
                "reserved": fmt.usd(s.reserved_usd) if s else fmt.DASH,
                "used": s.used_fraction if s else None,
                "resets": s.resets_at.strftime(UTC_TEXT) if s else fmt.DASH,
                "forecast": fmt.usd(s.forecast_usd) if s else fmt.DASH,
                "rpm": _count(t.rpm),
                "tpm": _count(t.tpm),
            }
        )
    return pd.DataFrame(
        rows, columns=["team", "budget", "soft limit", "spent", "reserved", "used", "resets", "forecast", "rpm", "tpm"]
    )


def owner_label(owner: str) -> str:
    """``team:ml`` -> ``team ml``."""
    kind, _, name = owner.partition(":")
    return f"{kind} {name}"


def near_frame(statuses) -> pd.DataFrame:
    """Budgets at or past their soft limit, fullest first, with when they run out at this rate."""
    rows = [
        {
            "budget of": owner_label(s.owner),
            "used": s.used_fraction,
            "spent": fmt.usd(s.spent_usd),
            "limit": f"{fmt.usd(s.limit_usd)} per {s.period}",
            "forecast": fmt.usd(s.forecast_usd),
            "runs out": s.exhausted_at.strftime(UTC_TEXT) if s.exhausted_at else "not this period",
            "resets": s.resets_at.strftime(UTC_TEXT),
        }
        for s in sorted(statuses, key=lambda s: -s.used_fraction)
    ]
    return pd.DataFrame(rows, columns=["budget of", "used", "spent", "limit", "forecast", "runs out", "resets"])


def burn_down_frame(s) -> pd.DataFrame:
    """The remaining budget at the period's start, now and (forecast) at the reset."""
    limit = float(s.limit_usd)
    points = [
        (s.period_start, limit, "so far"),
        (s.as_of, limit - float(s.spent_usd), "so far"),
        (s.as_of, limit - float(s.spent_usd), "forecast"),
        (s.resets_at, limit - float(s.forecast_usd), "forecast"),
    ]
    frame = pd.DataFrame(points, columns=["ts", "remaining_usd", "series"])
    frame["ts"] = pd.to_datetime(frame["ts"]).dt.tz_convert(None)
    return frame


def burn_down_caption(s) -> str:
    runs_out = f" · runs out {s.exhausted_at:%Y-%m-%d %H:%M} UTC at this rate" if s.exhausted_at else ""
    return (
        f"{fmt.usd(s.spent_usd)} spent of {fmt.usd(s.limit_usd)} ({s.used_fraction:.0%}, reserved "
        f"{fmt.usd(s.reserved_usd)}) · forecast {fmt.usd(s.forecast_usd)} by the reset on {s.resets_at:%Y-%m-%d}{runs_out}"
    )


def burn_down_chart(s, height: int = 200) -> alt.LayerChart:
    frame = burn_down_frame(s)
    limit = float(s.limit_usd)
    # Down to one budget below zero at most: a steep forecast runs off the chart rather than
    # squashing the part of the picture that shows what is left.
    floor = max(min(0.0, float(frame["remaining_usd"].min())), -limit)
    y = alt.Y("remaining_usd:Q", title="left (USD)", axis=alt.Axis(format="$,.2f"), scale=alt.Scale(domain=[floor, limit]))
    lines = (
        alt.Chart(frame, height=height)
        .mark_line(point=True, clip=True)
        .encode(
            x=alt.X("ts:T", title=None),
            y=y,
            color=alt.Color("series:N", title=None, scale=alt.Scale(domain=["so far", "forecast"], range=["#2563eb", "#f97316"])),
            strokeDash=alt.StrokeDash(
                "series:N", legend=None, scale=alt.Scale(domain=["so far", "forecast"], range=[[1, 0], [6, 4]])
            ),
            tooltip=[
                alt.Tooltip("ts:T", title="UTC", format="%Y-%m-%d %H:%M"),
                "series:N",
                alt.Tooltip("remaining_usd:Q", format="$,.4f"),
            ],
        )
    )
    marks = pd.DataFrame({"level": [limit * (1 - s.soft), 0.0], "label": [f"soft limit ({s.soft:.0%} used)", "budget spent"]})
    rules = alt.Chart(marks).mark_rule(strokeDash=[2, 2], color="#9ca3af").encode(y="level:Q", tooltip=["label:N"])
    return alt.layer(lines, rules)
