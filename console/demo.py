"""The "Load demo history" action shared by the Analytics and Providers pages.

Synthetic rows are flagged in the log, so they can be hidden in Analytics or purged
without touching real traffic. A load replaces the synthetic history already there, so
pressing the button twice never doubles it. The page reruns after a load, which would
swallow a toast raised before it, so the confirmation is left for the next run
(``widgets.flash``). Both actions are recorded in the audit log under the name of
whoever pressed the button.
"""

from __future__ import annotations

import time

import streamlit as st

from console import auth, state, widgets
from gateway_core.usage import demo_history

SIZES = (5_000, 20_000, 100_000)


def load_demo_button(gw, who, *, key: str, requests: int = 20_000, primary: bool = True) -> None:
    if st.button(
        "Load demo history",
        key=key,
        icon=":material/database_upload:",
        type="primary" if primary else "secondary",
        help=f"Replace the synthetic history with {requests:,} requests over the last 30 days (real traffic is kept).",
    ):
        with st.spinner("Writing 30 days of synthetic traffic…"):
            n, removed = demo_history.replace_demo(
                gw.settings.database(), days=30, requests=requests, price_table=gw.prices, seed=time.time_ns() % 2**32
            )
        auth.record(who, "demo.loaded", "synthetic rows", {"rows": n, "requests": requests, "days": 30, "replaced": removed})
        state.analytics().reset()
        replaced = f", replacing the previous {removed:,} synthetic rows" if removed else ""
        widgets.flash(f"Loaded {requests:,} synthetic requests ({n:,} rows) over the last 30 days{replaced}.")
        st.rerun()


def purge_button(gw, who, *, key: str) -> None:
    if st.button("Purge synthetic rows", key=key, icon=":material/delete:"):
        n = demo_history.purge_synthetic(gw.settings.database())
        auth.record(who, "data.purged", "synthetic rows", {"rows": n})
        state.analytics().reset()
        st.toast(f"Removed {n:,} synthetic rows.", icon=":material/check:")
