"""The Analytics page's panels: each draws one headline row, card or table from one query.

``pages/analytics.py`` only places these, so a new panel is a function here and one line
there. Every panel takes the ``Analytics`` handle and the sidebar's ``Filters``; headline
tiles compare against the previous period of equal length (``Filters.previous``), with
the colour of the change saying whether it is good news (more spend is not).
"""

from __future__ import annotations

import streamlit as st

from console import charts
from console import format as fmt
from gateway_core.explain import model_name
from gateway_core.providers import label as provider_label

# (label, key in the headline, formatter, change in points?, delta colour, help)
MONEY_TILES = (
    ("Spend", "spend_usd", fmt.usd_short, False, "inverse", "what the providers billed"),
    ("Saved", "saved_usd", fmt.usd_short, False, "normal", "requests that cost less than the best alternative elsewhere"),
    (
        "Overspent",
        "overspent_usd",
        fmt.usd_short,
        False,
        "inverse",
        "requests that cost more than the best alternative elsewhere",
    ),
    ("Cost / 1k requests", "cost_per_1k_requests", fmt.usd_short, False, "inverse", "spend per thousand requests"),
)
VOLUME_TILES = (
    ("Requests", "requests", "{:,}".format, False, "off", "requests sent to a provider"),
    ("Error rate", "error_rate", fmt.pct, True, "inverse", "requests whose final outcome was an error"),
    ("Fallback rate", "fallback_rate", fmt.pct, True, "inverse", "requests served after more than one attempt"),
    ("Rejected", "rejected", "{:,}".format, False, "inverse", "requests refused before any provider was called"),
)


def _by_provider(frame, column: str) -> str:
    parts = [f"{provider_label(p)} {fmt.usd(v)}" for p, v in zip(frame["provider"], frame[column]) if v]
    return "; by provider: " + ", ".join(parts) if parts else ""


def headline(an, f, h: dict) -> None:
    """Eight tiles, each with its change against the previous period, and a line of the rest."""
    prev_f = f.previous()
    prev = an.headline(prev_f)
    h, prev = dict(h), dict(prev)
    h["rejected"], prev["rejected"] = an.rejections(f, limit=0)[1], an.rejections(prev_f, limit=0)[1]
    split = an.savings_by_provider(f)
    helps = {"saved_usd": _by_provider(split, "saved_usd"), "overspent_usd": _by_provider(split, "overspent_usd")}
    compared = prev["requests"] > 0
    for row in (MONEY_TILES, VOLUME_TILES):
        with st.container(horizontal=True):
            for label, key, shown, points, colour, help_text in row:
                delta = fmt.change(h[key], prev[key], points=points) if compared else None
                note = f"{help_text}{helps.get(key, '')}." + (f" Previous period: {shown(prev[key])}." if compared else "")
                st.metric(label, shown(h[key]), delta=delta, delta_color=colour, help=note, border=True, width="stretch")
    tokens = h["input_tokens"] + h["output_tokens"]
    st.caption(
        f"**Latency** p50 {fmt.seconds(h['p50_latency_ms'])} · p95 {fmt.seconds(h['p95_latency_ms'])} · "
        f"**TTFT** p50 {fmt.seconds(h['p50_ttft_ms'])} · p95 {fmt.seconds(h['p95_ttft_ms'])} · "
        f"**Tokens** {_compact(tokens)} ({h['cached_input_tokens']:,} cached input) · "
        f"**Unpriced** {fmt.pct(h['unpriced_share'])} of attempts"
        + (" · changes against the previous period of equal length" if compared else "")
    )


def _compact(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:,.0f}"


def card(title: str, chart, caption: str | None = None) -> None:
    with st.container(border=True):
        st.markdown(f"**{title}**")
        st.altair_chart(chart, width="stretch")
        if caption:
            st.caption(caption)


def spend_over_time(an, f, bucket: str) -> None:
    with st.container(border=True):
        st.markdown("**Spend over time**")
        by = st.segmented_control(
            "Colour by", ("provider", "model"), default="provider", key="an_spend_by", required=True, label_visibility="collapsed"
        )
        st.altair_chart(charts.spend_over_time(an.spend_over_time(f, bucket), by, bucket), width="stretch")
        st.caption(f"The current {bucket} is still running: it is drawn faded.")


def savings(an, f) -> None:
    card(
        "Saved and overspent by provider",
        charts.savings_by_provider(an.savings_by_provider(f)),
        "Against the best priced alternative on another provider, for the same prompt and output.",
    )


def cost_distribution(an, f) -> None:
    card("Cost per request", charts.cost_distribution(an.cost_per_request_distribution(f)))


def errors_over_time(an, f, bucket: str) -> None:
    card(
        "Errors and fallbacks",
        charts.errors_over_time(an.errors_over_time(f, bucket), bucket),
        f"The hollow point is the current {bucket}, still running.",
    )


def teams(an, f) -> None:
    card("Spend by team", charts.spend_by_team(an.spend_by_team(f)))


def keys(an, f) -> None:
    card("Spend by API key", charts.spend_by_key(an.spend_by_key(f)))


def top_users(an, f) -> None:
    card("Top users by spend", charts.top_users(an.top_users(f, 10)))


def tokens(an, f) -> None:
    card("Tokens by provider and type", charts.tokens_by_provider(an.tokens_by_provider(f)))


def estimate_error(an, f) -> None:
    err = an.estimate_error_by_model(f)
    if err.empty:
        with st.container(border=True):
            st.markdown("**Token estimate vs billed usage**")
            st.caption("No successful calls with both an estimate and billed usage.")
        return
    card("Token estimate vs billed usage", charts.estimate_error(err))


def latency_table(an, f) -> None:
    """Percentiles in seconds, like the headline, one row per provider and model."""
    st.subheader("Latency percentiles", divider="gray")
    latency = an.latency_percentiles(f)
    ms_columns = [c for c in latency.columns if c.endswith("_ms")]
    shown = latency.assign(
        provider=latency["provider"].map(provider_label),
        model=latency["model"].map(model_name),
        **{c: latency[c] / 1000 for c in ms_columns},
    )
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={
            c: st.column_config.NumberColumn(c.removesuffix("_ms").replace("_", " "), format="%.2f s") for c in ms_columns
        },
    )


def export(an, f) -> None:
    st.download_button(
        "Export filtered attempts (CSV)",
        data=lambda: an.export_csv(f),
        file_name="usage_logs.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
    )
