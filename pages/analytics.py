"""Analytics: spend, volume, reliability, latency and estimate quality over the usage log."""

import streamlit as st

from console import auth, charts, demo, state, widgets
from console.filters import sidebar_filters

who = auth.require("analytics")
gw = state.gateway()
an = state.fresh_analytics()
st.title("Analytics")

f, bucket = sidebar_filters(an, "an")
h = an.headline(f)
if h["attempts"] == 0:
    st.info(
        "Nothing in the usage log for these filters yet. Send a few prompts from the Playground, "
        "or load 30 days of synthetic traffic.",
        icon=":material/insights:",
    )
    if auth.can(who, "demo_data"):
        demo.load_demo_button(gw, who, key="an_seed")
    st.stop()

widgets.headline_metrics(h)

left, right = st.columns(2)
with left.container(border=True):
    st.markdown("**Spend over time**")
    by = st.segmented_control(
        "Colour by", ("provider", "model"), default="provider", key="an_spend_by", required=True, label_visibility="collapsed"
    )
    st.altair_chart(charts.spend_over_time(an.spend_over_time(f, bucket), by), width="stretch")
with right.container(border=True):
    st.markdown("**Tokens by provider and type**")
    st.altair_chart(charts.tokens_by_provider(an.tokens_by_provider(f)), width="stretch")

left, right = st.columns(2)
with left.container(border=True):
    st.markdown("**Cost per request**")
    st.altair_chart(charts.cost_distribution(an.cost_per_request_distribution(f)), width="stretch")
with right.container(border=True):
    st.markdown("**Errors and fallbacks**")
    st.altair_chart(charts.errors_over_time(an.errors_over_time(f, bucket)), width="stretch")

left, right = st.columns(2)
with left.container(border=True):
    st.markdown("**Top users by spend**")
    st.altair_chart(charts.top_users(an.top_users(f, 10)), width="stretch")
with right.container(border=True):
    st.markdown("**Token estimate vs billed usage**")
    err = an.estimate_error_by_model(f)
    if err.empty:
        st.caption("No successful calls with both an estimate and billed usage.")
    else:
        st.altair_chart(charts.estimate_error(err), width="stretch")

st.subheader("Latency percentiles", divider="gray")
latency = an.latency_percentiles(f)
st.dataframe(
    latency,
    hide_index=True,
    width="stretch",
    column_config={
        c: st.column_config.NumberColumn(c.removesuffix("_ms").replace("_", " "), format="%.0f ms")
        for c in latency.columns
        if c.endswith("_ms")
    },
)

st.download_button(
    "Export filtered attempts (CSV)",
    data=lambda: an.export_csv(f),
    file_name="usage_logs.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
)
