"""Analytics: spend, savings, volume, reliability, latency and estimate quality over the usage log."""

import streamlit as st

from console import analytics_view as view
from console import auth, cost_panels, demo, state
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

view.headline(an, f, h)

left, right = st.columns(2)
with left:
    view.spend_over_time(an, f, bucket)
with right:
    view.savings(an, f)

left, right = st.columns(2)
with left:
    view.cost_distribution(an, f)
with right:
    view.errors_over_time(an, f, bucket)

left, right = st.columns(2)
with left:
    view.teams(an, f)
with right:
    view.keys(an, f)

left, right = st.columns(2)
with left:
    view.top_users(an, f)
with right:
    view.tokens(an, f)

view.estimate_error(an, f)

view.latency_table(an, f)
view.export(an, f)

st.subheader("Forecast and spend spikes", divider="gray")
cost_panels.forecast_and_spikes(an, f)
st.subheader("What if", divider="gray")
cost_panels.what_if(an, gw, f)
st.subheader("Bill vs log", divider="gray")
cost_panels.bill_vs_log(an, gw)
cost_panels.evidence_pack_button(an, gw, f)
