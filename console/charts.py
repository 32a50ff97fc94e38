"""Altair chart builders for the Analytics page, one per analytics frame.

Each function takes the frame an ``Analytics`` query returned and gives back a chart, so a
page only lays charts out. Money axes are USD; the cost distribution uses a log axis
because single-request costs span several decades.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from gateway_core.providers import PROVIDERS

# Each provider keeps its registry colour on every chart.
PROVIDER_SCALE = alt.Scale(domain=list(PROVIDERS), range=[p.chart_color for p in PROVIDERS.values()])
HEIGHT = 260


def spend_over_time(frame: pd.DataFrame, by: str = "provider") -> alt.Chart:
    scale = PROVIDER_SCALE if by == "provider" else alt.Undefined
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("sum(cost_usd):Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color(f"{by}:N", scale=scale, title=by),
            tooltip=[
                alt.Tooltip("bucket:T"),
                f"{by}:N",
                alt.Tooltip("sum(cost_usd):Q", format="$,.4f", title="spend"),
                alt.Tooltip("sum(requests):Q", title="requests"),
            ],
        )
    )


def tokens_by_provider(frame: pd.DataFrame) -> alt.Chart:
    return (
        # Horizontal bars keep provider names readable; token types get their own palette so
        # they are not confused with the provider colours of the spend chart beside them.
        alt.Chart(frame, height=140)
        .mark_bar()
        .encode(
            y=alt.Y("provider:N", title=None),
            x=alt.X("tokens:Q", title="tokens", axis=alt.Axis(format="~s")),
            color=alt.Color(
                "token_type:N",
                title="type",
                sort=["input", "cached", "output"],
                scale=alt.Scale(domain=["input", "cached", "output"], range=["#0f766e", "#5eead4", "#a855f7"]),
            ),
            tooltip=["provider:N", "token_type:N", alt.Tooltip("tokens:Q", format=",")],
        )
    )


def cost_distribution(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X(
                "bin_start_usd:Q", scale=alt.Scale(type="log"), title="cost per request (USD, log)", axis=alt.Axis(format="$~g")
            ),
            x2="bin_end_usd:Q",
            y=alt.Y("requests:Q", title="requests"),
            tooltip=[
                alt.Tooltip("bin_start_usd:Q", format="$.6f", title="from"),
                alt.Tooltip("bin_end_usd:Q", format="$.6f", title="to"),
                "requests:Q",
            ],
        )
    )


def errors_over_time(frame: pd.DataFrame) -> alt.Chart:
    rates = frame.assign(
        error_rate=frame["errors"] / frame["requests"].where(frame["requests"] > 0),
        fallback_rate=frame["fallbacks"] / frame["requests"].where(frame["requests"] > 0),
    )
    long = rates.melt(id_vars=["bucket"], value_vars=["error_rate", "fallback_rate"], var_name="kind", value_name="rate")
    return (
        alt.Chart(long, height=HEIGHT)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("rate:Q", title="share of requests", axis=alt.Axis(format="%")),
            color=alt.Color("kind:N", title=None, scale=alt.Scale(range=["#dc2626", "#9333ea"])),
            tooltip=[alt.Tooltip("bucket:T"), "kind:N", alt.Tooltip("rate:Q", format=".2%")],
        )
    )


def top_users(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_bar()
        .encode(
            y=alt.Y("user:N", sort="-x", title=None),
            x=alt.X("cost_usd:Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            tooltip=["user:N", "team:N", "requests:Q", alt.Tooltip("cost_usd:Q", format="$,.4f", title="spend")],
        )
    )


def estimate_error(frame: pd.DataFrame) -> alt.Chart:
    long = frame.melt(
        id_vars=["provider", "model", "n"],
        value_vars=["mean_bias_pct", "prompt_mean_bias_pct"],
        var_name="estimate",
        value_name="bias_pct",
    ).replace({"estimate": {"mean_bias_pct": "total (prompt + expected output)", "prompt_mean_bias_pct": "prompt only"}})
    return (
        alt.Chart(long, height=HEIGHT)
        .mark_bar()
        .encode(
            y=alt.Y("model:N", title=None),
            yOffset="estimate:N",
            x=alt.X("bias_pct:Q", title="estimate − actual (% of actual)"),
            color=alt.Color("estimate:N", title=None),
            tooltip=["provider:N", "model:N", "estimate:N", alt.Tooltip("bias_pct:Q", format="+.1f"), "n:Q"],
        )
    )
