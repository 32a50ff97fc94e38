"""Cost-intelligence panels: forecast and spikes, what-if, bill vs log, the evidence pack, vote progress.

Each panel is one function a page calls in one line; it lays out widgets and hands the
work to ``gateway_core.analytics`` (replay, billing, report), so the pages stay thin.
Results that take seconds (a replay, an import) are kept in session state, so a rerun of
the page redraws them without running them again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import streamlit as st

from console import format as fmt
from console import widgets
from gateway_core.analytics import report_charts
from gateway_core.analytics.bill_formats import BillFormatError
from gateway_core.analytics.billing import MeterTable, import_bill
from gateway_core.analytics.replay import Scenario
from gateway_core.errors import GatewayError
from gateway_core.types import PRIORITIES

OWN_PRIORITY = "as logged"
BILL_COLUMNS = {
    "flagged": st.column_config.CheckboxColumn("gap"),
    "provider": "provider",
    "model": "model",
    "days": "days",
    "bill_tokens": st.column_config.NumberColumn("bill tokens", format="localized"),
    "log_tokens": st.column_config.NumberColumn("log tokens", format="localized"),
    "token_gap_pct": st.column_config.NumberColumn("tokens gap", format="%+.1f%%"),
    "bill_cost_usd": st.column_config.NumberColumn("bill", format="dollar"),
    "log_cost_usd": st.column_config.NumberColumn("log", format="dollar"),
    "cost_gap_pct": st.column_config.NumberColumn("dollars gap", format="%+.1f%%"),
    "flagged_days": st.column_config.NumberColumn("days flagged"),
}


def forecast_and_spikes(an, f) -> None:
    """Month-end forecast with its band, and the days whose spend spiked, per team and model."""
    fc = an.month_end_forecast(f)
    spikes = an.spend_spikes(f)
    with st.container(horizontal=True):
        st.metric(f"Forecast for {fc['month_end']:%B}", fmt.usd_short(fc["forecast"]),
                  help="Month to date plus the last 7 days' run rate times the days left; the band is 95%.")  # fmt: skip
        st.metric("95% band", f"{fmt.usd_short(fc['low'])} – {fmt.usd_short(fc['high'])}")
        st.metric("Month to date", fmt.usd_short(fc["month_to_date"]))
        st.metric("Run rate", f"{fmt.usd_short(fc['run_rate'])}/day")
    if spikes.empty:
        st.caption("No spend spikes: no day stood more than 3 MADs (and 25%) above its trailing 14 days, per team or model.")
        return
    st.warning(f"{len(spikes)} spend spike(s) more than 3 MADs above the trailing 14 days.", icon=":material/trending_up:")
    st.dataframe(
        spikes,
        hide_index=True,
        column_config={c: st.column_config.NumberColumn(format="$%.2f") for c in ("spend", "median")}
        | {"score": st.column_config.NumberColumn("MADs above", format="%.1f")},
    )


def what_if(an, gw, f) -> None:
    """A replay form and its result: spend, saving, latency change and moves, by task and team."""
    options = an.filter_options()
    with st.form("whatif_form", border=False):
        cols = st.columns(3)
        priority = cols[0].selectbox("Priority", (OWN_PRIORITY, *PRIORITIES), key="whatif_priority")
        exclude = cols[1].multiselect("Drop", [*options["providers"], *options["models"]], key="whatif_exclude")
        scaled = cols[2].selectbox("Scale prices of", ("(none)", *options["providers"]), key="whatif_scaled")
        factor = st.slider("Price factor", 0.1, 2.0, 1.0, 0.05, key="whatif_factor", help="0.8 = 20% cheaper")
        go = st.form_submit_button("Replay the period", icon=":material/replay:", type="primary")
    if go:
        try:
            scale = ((scaled, factor),) if scaled != "(none)" and factor != 1.0 else ()
            scenario = Scenario(None if priority == OWN_PRIORITY else priority, exclude=tuple(exclude), price_scale=scale)
            with st.spinner("Replaying every request of the period…"):
                st.session_state["whatif_result"] = an.replay(scenario, gw.prices, f)
        except GatewayError as e:
            widgets.show_error(e, gw)
            return
    result = st.session_state.get("whatif_result")
    if result is not None:
        _replay_result(result)


def _replay_result(result) -> None:
    t = result.totals
    st.markdown(f"**What if:** {result.scenario}")
    with st.container(horizontal=True):
        st.metric("Spend", fmt.usd_short(t.get("replay_spend_usd")), delta=_signed_usd(-(t.get("saving_usd") or 0)),
                  delta_color="inverse", help=f"logged: {fmt.usd_short(t.get('spend_usd'))}")  # fmt: skip
        st.metric("Requests that move", fmt.pct(t.get("moved_share")))
        st.metric("p50 latency", fmt.ms(t.get("replay_p50_ms")), delta=_signed_ms(t.get("p50_change_ms")), delta_color="inverse")
        st.metric("p90 latency", fmt.ms(t.get("replay_p90_ms")), delta=_signed_ms(t.get("p90_change_ms")), delta_color="inverse")
    left, right = st.columns(2)
    left.altair_chart(report_charts.replay_savings(result.by_task, "task"), width="stretch")
    right.altair_chart(report_charts.replay_savings(result.by_team, "team"), width="stretch")
    with st.expander("Moves and per-team detail", icon=":material/swap_horiz:"):
        st.dataframe(result.moves, hide_index=True, width="stretch")
        st.dataframe(result.by_team, hide_index=True, width="stretch")


def _signed_usd(v) -> str | None:
    return None if v is None else f"{'+' if v >= 0 else '-'}${abs(v):,.2f}"


def _signed_ms(v) -> str | None:
    return None if v is None or v != v else f"{v:+,.0f} ms"


def bill_vs_log(an, gw, *, threshold_pct: float = 5.0) -> None:
    """Import a cost export (or, in demo mode, a demo bill) and show the gap per model."""
    upload = st.file_uploader("Import a cost export", type=("csv", "parquet"), key="bill_upload",
                              help="Azure cost details (EA or MCA) or an AWS CUR 2.0 / legacy export.")  # fmt: skip
    if upload is not None and st.session_state.get("bill_uploaded") != upload.file_id:
        st.session_state["bill_uploaded"] = upload.file_id
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / Path(upload.name).name
            path.write_bytes(upload.getvalue())
            _import(gw, path)
    if gw.emulators is not None and st.button("Load a demo bill", icon=":material/receipt_long:", key="bill_demo"):
        _demo_bill(an, gw)
    rec = an.bill_reconciliation(gw.prices, threshold_pct)
    if rec["imports"].empty:
        st.caption("No bill imported yet. `gateway bill import FILE` does the same from a shell.")
        return
    models = rec["models"]
    flagged = int(models["flagged"].sum()) if len(models) else 0
    (st.warning if flagged else st.success)(
        f"{flagged} of {len(models)} models differ from the log by more than {threshold_pct:g}% over the billed days.",
        icon=":material/receipt_long:",
    )
    if len(models):
        st.altair_chart(report_charts.bill_gap(models, threshold_pct), width="stretch")
        st.dataframe(models[list(BILL_COLUMNS)], hide_index=True, width="stretch", column_config=BILL_COLUMNS)
    if not rec["unknown"].empty:
        st.caption("Bill lines no meter rule maps (listed, not compared):")
        st.dataframe(rec["unknown"], hide_index=True, width="stretch")


def _import(gw, path: Path) -> None:
    try:
        r = import_bill(gw.settings.database(), path, MeterTable.load(gw.settings.bill_meters_file))
    except BillFormatError as e:
        st.error(f"{path.name} was not imported: {e.message}", icon=":material/error:")
        return
    except GatewayError as e:
        widgets.show_error(e, gw)
        return
    note = " (already imported)" if r.duplicate else ""
    st.success(f"Imported {path.name}{note}: {r.rows:,} rows, {r.first_day} to {r.last_day}.", icon=":material/check:")


def _demo_bill(an, gw) -> None:
    from gateway_core.analytics.bill_demo import write_demo_bills

    usage = an.usage_by_model_day()
    billed = usage.groupby(["provider", "model"])["log_cost_usd"].sum().sort_values(ascending=False)
    gaps = {billed.index[0]: 0.10} if len(billed) else {}  # a planted 10% gap on the biggest model
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_demo_bills(an, gw.prices, tmp, days=14, gaps=gaps):
            _import(gw, path)


def evidence_pack_button(an, gw, f) -> None:
    """Download the stakeholder report for the current filters (built when clicked)."""
    from gateway_core.analytics.report import ReportContext, build_report

    st.download_button(
        "Download the evidence pack (HTML)",
        data=lambda: build_report(ReportContext(an, gw.prices, f)).encode("utf-8"),
        file_name="evidence-pack.html",
        mime="text/html",
        icon=":material/summarize:",
        on_click="ignore",
        help="One self-contained file: spend, savings, teams, reliability, A/B, what-if and the bill, with charts.",
    )


def vote_progress(an, min_votes: int) -> None:
    """How close each compared pair of models is to the votes the quality floor needs."""
    progress = an.vote_progress(min_votes)
    if progress.empty:
        return
    st.caption(f"Votes per pair and task: the quality floor judges a model once it has {min_votes} votes on a task.")
    st.dataframe(
        progress[["task", "model_a", "model_b", "votes", "progress"]],
        hide_index=True,
        width="stretch",
        column_config={"progress": st.column_config.ProgressColumn(f"toward {min_votes} votes each", min_value=0, max_value=1)},
    )


def quality_frontier(an) -> None:
    votes = an.model_votes()
    if votes.empty or not (votes["wins"] > 0).any():
        return
    st.altair_chart(report_charts.frontier(votes), width="stretch")


def bill_warnings(an, gw, threshold_pct: float = 5.0) -> None:
    """The measured bill gap, as warnings beside the price table."""
    for (provider, model), text in an.bill_price_warnings(gw.prices, threshold_pct).items():
        st.warning(f"**{widgets.provider_label(provider)} · {model}**: {text}.", icon=":material/receipt_long:")
