"""Charts for the evidence pack and the console's cost panels: Altair specs, rendered offline to SVG.

Each builder takes the frame an ``Analytics`` query returned and gives back an Altair chart,
so the console can draw it with ``st.altair_chart`` and the report can embed it. ``svg``
renders a chart with vl-convert, which bundles Vega and needs no network or browser, so a
stakeholder's copy of the report opens anywhere.
"""

from __future__ import annotations

import json

import altair as alt
import pandas as pd

from ..providers import PROVIDERS

PROVIDER_SCALE = alt.Scale(domain=list(PROVIDERS), range=[p.chart_color for p in PROVIDERS.values()])
WIDTH, HEIGHT = 560, 220
SAVED, OVERSPENT = "#16a34a", "#dc2626"


def svg(chart: alt.TopLevelMixin) -> str:
    """The chart as an SVG document (vl-convert: offline, no browser)."""
    import vl_convert

    # Frames from DuckDB carry Python dates, which the JSON encoder leaves to us: ISO text.
    return vl_convert.vegalite_to_svg(json.dumps(chart.to_dict(), default=str))


def _sized(chart, height: int = HEIGHT):
    return chart.properties(width=WIDTH, height=height)


def spend_trend(daily: pd.DataFrame) -> alt.Chart:
    """``daily``: day, provider, spend."""
    return _sized(
        alt.Chart(daily)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("sum(spend):Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color("provider:N", scale=PROVIDER_SCALE),
            tooltip=["day:T", "provider:N", alt.Tooltip("sum(spend):Q", format="$,.2f")],
        )
    )


def saved_vs_overspent(frame: pd.DataFrame) -> alt.Chart:
    """``frame``: day, saved_usd, overspent_usd; overspending is drawn below the axis."""
    long = pd.concat(
        [
            pd.DataFrame({"day": frame["day"], "kind": "saved", "usd": frame["saved_usd"]}),
            pd.DataFrame({"day": frame["day"], "kind": "overspent", "usd": -frame["overspent_usd"]}),
        ]
    )
    return _sized(
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=None),
            y=alt.Y("usd:Q", title="USD against the counterfactual", axis=alt.Axis(format="$,.2f")),
            color=alt.Color("kind:N", title=None, scale=alt.Scale(domain=["saved", "overspent"], range=[SAVED, OVERSPENT])),
            tooltip=["day:T", "kind:N", alt.Tooltip("usd:Q", format="$,.4f")],
        )
    )


def spend_by(frame: pd.DataFrame, key: str) -> alt.Chart:
    """Horizontal bars of ``spend`` per ``key`` (team, model...)."""
    return _sized(
        alt.Chart(frame)
        .mark_bar(color="#0f766e")
        .encode(
            y=alt.Y(f"{key}:N", sort="-x", title=None),
            x=alt.X("spend:Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            tooltip=[f"{key}:N", alt.Tooltip("spend:Q", format="$,.2f")],
        ),
        height=max(60, 24 * len(frame)),
    )


def reliability(frame: pd.DataFrame) -> alt.Chart:
    """``frame``: bucket, errors, fallbacks, requests (``Analytics.errors_over_time``)."""
    rates = frame.assign(
        error_rate=frame["errors"] / frame["requests"].where(frame["requests"] > 0),
        fallback_rate=frame["fallbacks"] / frame["requests"].where(frame["requests"] > 0),
    ).melt(id_vars=["bucket"], value_vars=["error_rate", "fallback_rate"], var_name="kind", value_name="rate")
    return _sized(
        alt.Chart(rates)
        .mark_line(point=True)
        .encode(
            x=alt.X("bucket:T", title=None),
            y=alt.Y("rate:Q", title="share of requests", axis=alt.Axis(format="%")),
            color=alt.Color("kind:N", title=None, scale=alt.Scale(range=[OVERSPENT, "#9333ea"])),
        )
    )


def win_rates(votes: pd.DataFrame) -> alt.Chart:
    """Win rate per model and task with its Wilson interval (``Analytics.model_votes``)."""
    data = votes.assign(label=votes["provider"] + "/" + votes["model"])
    base = alt.Chart(data).encode(y=alt.Y("label:N", title=None), color=alt.Color("provider:N", scale=PROVIDER_SCALE))
    bars = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("ci_low:Q", title="win rate (95% Wilson interval)", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        x2="ci_high:Q",
    )
    points = base.mark_point(filled=True, size=60).encode(
        x="win_rate:Q", tooltip=["label:N", "task:N", "votes:Q", alt.Tooltip("win_rate:Q", format=".0%")]
    )
    return (
        (bars + points)
        .properties(width=WIDTH - 160, height=24 * max(1, data["label"].nunique()))
        .facet(row=alt.Row("task:N", title=None))
    )


def frontier(votes: pd.DataFrame) -> alt.Chart:
    """Cost per win against win rate per model, frontier models ringed, one panel per task."""
    data = votes[votes["wins"] > 0].assign(
        label=lambda d: d["provider"] + "/" + d["model"], cost_per_win=lambda d: d["cost_per_win_usd"].astype(float)
    )
    points = (
        alt.Chart(data)
        .mark_point(filled=True, size=90)
        .encode(
            x=alt.X("cost_per_win:Q", title="cost per win (USD, log)", scale=alt.Scale(type="log"), axis=alt.Axis(format="$~g")),
            y=alt.Y("win_rate:Q", title="win rate", axis=alt.Axis(format="%")),
            color=alt.Color("provider:N", scale=PROVIDER_SCALE),
            shape=alt.Shape("frontier:N", title="on the frontier"),
            tooltip=["label:N", "task:N", "votes:Q", alt.Tooltip("win_rate:Q", format=".0%"), "cost_per_win:Q"],
        )
        .properties(width=260, height=180)
    )
    return points.facet(facet=alt.Facet("task:N", title=None), columns=2)


def bill_gap(models: pd.DataFrame, threshold_pct: float) -> alt.Chart:
    """Bill minus log per model, in percent of the log, for tokens and dollars (``reconcile.by_model``)."""
    long = models.assign(label=models["provider"] + "/" + models["model"]).melt(
        id_vars=["label"], value_vars=["token_gap_pct", "cost_gap_pct"], var_name="measure", value_name="gap_pct"
    )
    long["measure"] = long["measure"].map({"token_gap_pct": "tokens", "cost_gap_pct": "dollars"})
    bars = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", title=None, axis=alt.Axis(labelLimit=320)),
            yOffset="measure:N",
            x=alt.X("gap_pct:Q", title="bill − log (% of log)"),
            color=alt.Color("measure:N", title=None),
            tooltip=["label:N", "measure:N", alt.Tooltip("gap_pct:Q", format="+.1f")],
        )
    )
    band = (
        alt.Chart(pd.DataFrame({"x": [-threshold_pct, threshold_pct]}))
        .mark_rule(strokeDash=[4, 3], color="#64748b")
        .encode(x="x:Q")
    )
    return (bars + band).properties(width=WIDTH - 160, height=max(120, 44 * long["label"].nunique()))


def replay_savings(frame: pd.DataFrame, key: str) -> alt.Chart:
    """Spend before and after a replay per ``key`` (task or team)."""
    long = frame.melt(id_vars=[key], value_vars=["spend_usd", "replay_spend_usd"], var_name="when", value_name="usd")
    long["when"] = long["when"].map({"spend_usd": "logged", "replay_spend_usd": "what if"})
    return _sized(
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y(f"{key}:N", title=None),
            yOffset="when:N",
            x=alt.X("usd:Q", title="spend (USD)", axis=alt.Axis(format="$,.2f")),
            color=alt.Color("when:N", title=None, scale=alt.Scale(range=["#94a3b8", SAVED])),
            tooltip=[f"{key}:N", "when:N", alt.Tooltip("usd:Q", format="$,.2f")],
        ),
        height=max(160, 44 * frame[key].nunique()),
    )
