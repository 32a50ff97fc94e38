"""Providers: health per provider and model, chaos controls, the price table and demo data."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from console import auth, chaos, cost_panels, demo, state, widgets
from console import format as fmt

HEALTH_REFRESH_S = 5
HEALTH_WINDOWS = {
    "15 min": timedelta(minutes=15),
    "1 hour": timedelta(hours=1),
    "24 hours": timedelta(days=1),
    "7 days": timedelta(days=7),
}

who = auth.require("providers")
gw = state.gateway()
st.title("Providers")

st.subheader("Health", divider="gray")


@st.fragment(run_every=HEALTH_REFRESH_S)
def health() -> None:
    """Redrawn on its own every few seconds, so a breaker opening during a chaos demo shows up."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        window = st.segmented_control("Window", list(HEALTH_WINDOWS), default="24 hours", key="prov_window", required=True)
        synthetic = st.toggle("Include synthetic history", value=True, key="prov_synthetic")
    since = datetime.now(UTC).replace(tzinfo=None) - HEALTH_WINDOWS[window]
    status = gw.provider_status()
    for s in status:
        if s.get("breaker") == "open":
            st.warning(
                f"Circuit open for {widgets.provider_label(s['provider'])} {s['model']}: requests skip it until the cooldown ends.",
                icon=":material/power_off:",
            )
    logged = state.fresh_analytics().provider_health(since, include_synthetic=synthetic)
    st.dataframe(
        fmt.health_frame(status, logged),
        hide_index=True,
        width="stretch",
        column_config={"calls": st.column_config.NumberColumn(help="provider calls logged in the window")},
    )
    st.caption(
        f"Calls, error rate and latency from the usage log over the last {window} (every process that writes it); "
        f"the breaker is this process's own. Refreshes every {HEALTH_REFRESH_S} s."
    )


health()

st.subheader("Chaos", divider="gray")
named = chaos.targets(gw.emulators, [p for p, mode in gw.provider_modes().items() if mode == "EMULATED"])
if not auth.can(who, "chaos"):
    st.caption("Fault injection is for operators and admins.")
elif not named:
    st.info("Every provider is live: fault injection is only available for emulated providers.", icon=":material/info:")
else:
    st.caption("Inject faults into the emulators, then ask the Playground: the answer falls back and says so.")
    available = chaos.presets(named)
    with st.container(horizontal=True):
        for preset in available.values():
            if st.button(preset.name, key=f"chaos_{preset.name}", icon=preset.icon):
                changed = chaos.apply_preset(gw.emulators, preset)
                targets = ", ".join(named[e] for e in changed) or "no emulator"
                auth.record(who, chaos.audit_action(preset), targets, {"preset": preset.name})
                st.toast(
                    f"{preset.name}: applied to {', '.join(named[e] for e in changed) or 'no emulator'}", icon=":material/bolt:"
                )
    with st.expander("Custom fault", icon=":material/tune:"):
        with st.form("chaos_custom", border=False):
            target = st.selectbox("Provider", list(named), key="chaos_provider", format_func=named.get)
            rate = st.slider("Error rate", 0.0, 1.0, 0.5, 0.05, key="chaos_rate")
            status_code = st.selectbox("Status", (429, 500, 503, 408), key="chaos_status")
            extra = st.number_input("Extra latency (ms)", 0, 30_000, 0, 250, key="chaos_latency")
            if st.form_submit_button("Apply", icon=":material/bolt:", key="chaos_apply"):
                fields = {"error_rate": rate, "status": status_code, "extra_latency_ms": extra}
                if chaos.apply_faults(gw.emulators, target, fields):
                    auth.record(who, "faults.injected", named[target], fields)
    for label, faults in chaos.current_faults(gw.emulators, named).items():
        if faults:
            st.warning(f"**{label}**: {chaos.describe(faults)}", icon=":material/bolt:")
        else:
            st.success(f"**{label}**: no faults injected", icon=":material/check_circle:")

st.subheader("Prices", divider="gray")
status = gw.provider_status()
for warning in fmt.lifecycle_warnings(status):
    st.warning(warning, icon=":material/schedule:")
cost_panels.bill_warnings(state.analytics(), gw)
st.dataframe(
    fmt.prices_frame(gw.prices.rows(), {(p, gw.prices.canonical_model(p, m)) for p, m in gw.candidates()}),
    hide_index=True,
    width="stretch",
    column_config={c: st.column_config.NumberColumn(format="$%.4f") for c in ("input $/1M", "output $/1M", "cached input $/1M")},
)
st.caption(f"Price table version `{gw.prices.version}`. Override rows with GATEWAY_PRICES_FILE.")

if auth.can(who, "demo_data"):
    st.subheader("Demo data", divider="gray")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        size = st.select_slider("Synthetic requests", demo.SIZES, value=20_000, format_func="{:,}".format)
        demo.load_demo_button(gw, who, key="prov_seed", requests=size)
        demo.purge_button(gw, who, key="prov_purge")
    st.caption("Synthetic rows are flagged: Analytics can hide them, and a purge never touches real traffic.")
