"""Altair chart builders for the Analytics page, one per analytics frame.

Each function takes the frame an ``Analytics`` query returned and gives back a chart, so a
page only lays charts out. Money axes are USD; the cost distribution uses a log axis
because single-request costs span several decades. Models are labelled by readable name
(three Claude ids would otherwise truncate to the same "anthropic.claude…"), legends sit
under the plot so a phone-width column keeps its drawing area, and the current, still
partial, time bucket is drawn faded and says so, so a half-day is not read as a dip.
"""

from __future__ import annotations

from datetime import UTC, datetime

import altair as alt
import pandas as pd

from gateway_core.explain import model_name
from gateway_core.providers import PROVIDERS
from gateway_core.providers import label as provider_label

HEIGHT = 260
BAR_STEP = 24  # px per bar on category axes, so every label has room
LEGEND = alt.Legend(orient="bottom", direction="horizontal", title=None, labelLimit=260)
UNITS = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(weeks=1)}
PARTIAL_NOTE = "so far (partial)"


def provider_scale(providers) -> alt.Scale:
    """Registry colours for the providers present (a legend lists only those)."""
    present = [p for p in PROVIDERS if p in set(providers)] or list(PROVIDERS)
    return alt.Scale(domain=[provider_label(p) for p in present], range=[PROVIDERS[p].chart_color for p in present])


def mark_partial(frame: pd.DataFrame, bucket: str, now: datetime | None = None) -> pd.DataFrame:
    """Adds ``period``: "complete", or "so far (partial)" for a bucket that has not ended yet."""
    now = pd.Timestamp(now if now is not None else datetime.now(UTC))
    now = now.tz_convert("UTC").tz_localize(None) if now.tzinfo is not None else now
    ends = pd.to_datetime(frame["bucket"]) + UNITS[bucket]
    return frame.assign(period=["complete" if end <= now else PARTIAL_NOTE for end in ends])


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "provider" in out:
        out["provider"] = out["provider"].map(provider_label)
    if "model" in out:
        out["model"] = out["model"].map(model_name)
    return out


def _opacity() -> alt.OpacityValue:
    return alt.condition(f"datum.period == '{PARTIAL_NOTE}'", alt.value(0.35), alt.value(1.0))


def spend_over_time(frame: pd.DataFrame, by: str = "provider", bucket: str = "day") -> alt.Chart:
    shown = _named(mark_partial(frame, bucket))
    scale = provider_scale(frame["provider"]) if by == "provider" else alt.Undefined
    return (
        alt.Chart(shown, height=HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("sum(cost_usd):Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color(f"{by}:N", scale=scale, legend=LEGEND),
            opacity=_opacity(),
            tooltip=[
                alt.Tooltip("bucket:T"),
                alt.Tooltip("period:N"),
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
        alt.Chart(_named(frame), height=alt.Step(BAR_STEP * 1.5))
        .mark_bar()
        .encode(
            y=alt.Y("provider:N", title=None),
            x=alt.X("tokens:Q", title="tokens", axis=alt.Axis(format="~s")),
            color=alt.Color(
                "token_type:N",
                legend=LEGEND,
                sort=["input", "cached", "output"],
                scale=alt.Scale(domain=["input", "cached", "output"], range=["#0f766e", "#5eead4", "#a855f7"]),
            ),
            tooltip=["provider:N", "token_type:N", alt.Tooltip("tokens:Q", format=",")],
        )
    )


def cost_distribution(frame: pd.DataFrame) -> alt.Chart:
    # Each bar spans its bin on the log axis and rises from zero (y2): without y2 a bar with
    # both x and x2 is drawn as a thin horizontal range, which reads as floating dashes.
    return (
        alt.Chart(frame, height=HEIGHT)
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "bin_start_usd:Q", scale=alt.Scale(type="log"), title="cost per request (USD, log)", axis=alt.Axis(format="$~g")
            ),
            x2="bin_end_usd:Q",
            y=alt.Y("requests:Q", title="requests"),
            y2=alt.datum(0),
            tooltip=[
                alt.Tooltip("bin_start_usd:Q", format="$.6f", title="from"),
                alt.Tooltip("bin_end_usd:Q", format="$.6f", title="to"),
                alt.Tooltip("requests:Q", format=","),
            ],
        )
    )


RATE_NAMES = {"error_rate": "error rate", "fallback_rate": "fallback rate"}


def errors_over_time(frame: pd.DataFrame, bucket: str = "day") -> alt.Chart:
    requests = frame["requests"].where(frame["requests"] > 0)
    rates = frame.assign(error_rate=frame["errors"] / requests, fallback_rate=frame["fallbacks"] / requests)
    long = rates.melt(id_vars=["bucket", "requests"], value_vars=list(RATE_NAMES), var_name="kind", value_name="rate")
    long = long.assign(kind=long["kind"].map(RATE_NAMES))
    long = mark_partial(long, bucket)
    base = alt.Chart(long, height=HEIGHT).encode(
        x=alt.X("bucket:T", title=None),
        y=alt.Y("rate:Q", title="share of requests", axis=alt.Axis(format="%")),
        color=alt.Color("kind:N", legend=LEGEND, scale=alt.Scale(domain=list(RATE_NAMES.values()), range=["#dc2626", "#9333ea"])),
        tooltip=[alt.Tooltip("bucket:T"), alt.Tooltip("period:N"), "kind:N", alt.Tooltip("rate:Q", format=".2%"), "requests:Q"],
    )
    # The line joins complete buckets only; the partial one is a hollow point of its own.
    line = base.transform_filter("datum.period == 'complete'").mark_line(point=True)
    partial = base.transform_filter(f"datum.period == '{PARTIAL_NOTE}'").mark_point(filled=False, size=70)
    return alt.layer(line, partial)


def top_users(frame: pd.DataFrame) -> alt.Chart:
    return (
        alt.Chart(frame, height=alt.Step(BAR_STEP))
        .mark_bar()
        .encode(
            y=alt.Y("user:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            x=alt.X("cost_usd:Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            tooltip=["user:N", "team:N", "requests:Q", alt.Tooltip("cost_usd:Q", format="$,.4f", title="spend")],
        )
    )


def spend_by_team(frame: pd.DataFrame) -> alt.Chart:
    return _spend_by(frame, "team")


def spend_by_key(frame: pd.DataFrame) -> alt.Chart:
    return _spend_by(frame, "key")


def _spend_by(frame: pd.DataFrame, by: str) -> alt.Chart:
    """Spend per ``by`` (team or API key), split by provider."""
    shown = _named(frame)
    return (
        alt.Chart(shown, height=alt.Step(BAR_STEP))
        .mark_bar()
        .encode(
            y=alt.Y(f"{by}:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            x=alt.X("sum(cost_usd):Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color("provider:N", scale=provider_scale(frame["provider"]), legend=LEGEND),
            tooltip=[f"{by}:N", "provider:N", alt.Tooltip("sum(cost_usd):Q", format="$,.4f", title="spend"), "sum(requests):Q"],
        )
    )


def savings_by_provider(frame: pd.DataFrame) -> alt.Chart:
    """Saved and overspent side by side per provider, never netted."""
    long = _named(frame).melt(id_vars=["provider"], value_vars=["saved_usd", "overspent_usd"], var_name="kind", value_name="usd")
    long = long.assign(kind=long["kind"].map({"saved_usd": "saved", "overspent_usd": "overspent"}))
    return (
        alt.Chart(long, height=alt.Step(BAR_STEP))
        .mark_bar()
        .encode(
            y=alt.Y("provider:N", title=None),
            yOffset=alt.YOffset("kind:N", sort=["saved", "overspent"]),
            x=alt.X("usd:Q", title="against the counterfactual (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color(
                "kind:N", legend=LEGEND, scale=alt.Scale(domain=["saved", "overspent"], range=["#16a34a", "#dc2626"])
            ),
            tooltip=["provider:N", "kind:N", alt.Tooltip("usd:Q", format="$,.4f")],
        )
    )


def estimate_error(frame: pd.DataFrame) -> alt.Chart:
    long = _named(frame).melt(
        id_vars=["provider", "model", "n"],
        value_vars=["mean_bias_pct", "prompt_mean_bias_pct"],
        var_name="estimate",
        value_name="bias_pct",
    )
    long = long.replace(
        {"estimate": {"mean_bias_pct": "total (prompt + expected output)", "prompt_mean_bias_pct": "prompt only"}}
    )
    return (
        alt.Chart(long, height=alt.Step(BAR_STEP / 1.5))
        .mark_bar()
        .encode(
            y=alt.Y("model:N", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=160)),
            yOffset="estimate:N",
            x=alt.X("bias_pct:Q", title="estimate − actual (% of actual)"),
            color=alt.Color("estimate:N", legend=LEGEND),
            tooltip=["provider:N", "model:N", "estimate:N", alt.Tooltip("bias_pct:Q", format="+.1f"), "n:Q"],
        )
    )
