"""Governance (admins): budgets and their burn-down, API keys, teams, and the admin audit log."""

import streamlit as st

from console import auth, state, widgets
from console import format as fmt
from console import governance_actions as act
from console import governance_view as view
from gateway_core.errors import GatewayError
from gateway_core.governance import PERIODS

MAX_CHARTS = 6
NEW_TEAM = "New team…"
PERCENT = st.column_config.ProgressColumn("used", format="percent", min_value=0, max_value=1)

who = auth.require("governance")
gw = state.gateway()
gov = state.governance()
st.title("Governance")
st.caption(
    "Virtual API keys, team budgets and rate limits, and who changed them. Every change made here is "
    "recorded in the audit log under your name."
)

statuses = sorted(gov.budgets(), key=lambda s: -s.used_fraction)
near = [s for s in statuses if s.soft_reached]
st.subheader("Budgets", divider="gray")
if not statuses:
    st.info("No budget is set yet. Give a team a budget below, or create a key with one.", icon=":material/savings:")
if near:
    st.warning(
        f"{len(near)} budget{'s' if len(near) != 1 else ''} at or past the soft limit: requests under "
        f"{'them' if len(near) != 1 else 'it'} step down to the cheapest allowed model.",
        icon=":material/warning:",
    )
    st.dataframe(view.near_frame(near), hide_index=True, width="stretch", column_config={"used": PERCENT})
columns = st.columns(2)
for i, status in enumerate(statuses[:MAX_CHARTS]):
    with columns[i % 2].container(border=True):
        st.markdown(f"**{view.owner_label(status.owner)}** · {fmt.usd(status.limit_usd)} per {status.period}")
        st.altair_chart(view.burn_down_chart(status), width="stretch")
        st.caption(view.burn_down_caption(status))
if len(statuses) > MAX_CHARTS:
    st.caption(f"The {MAX_CHARTS} fullest of {len(statuses)} budgets are drawn; every team is in the table below.")

st.subheader("Keys", divider="gray")
teams = gov.teams()
created = None
with st.expander("Create a key", icon=":material/key:"), st.form("gov_create_key", border=False):
    left, mid, right = st.columns(3)
    name = left.text_input("Name", key="gov_key_name", placeholder="ci-bot")
    team = mid.text_input("Team", key="gov_key_team", placeholder=", ".join(t.name for t in teams[:3]) or "research")
    user = right.text_input("User (optional)", key="gov_key_user")
    c1, c2, c3, c4 = st.columns(4)
    budget = c1.number_input("Budget in USD (optional)", min_value=0.0, value=None, step=10.0, key="gov_key_budget")
    period = c2.selectbox("Budget period", PERIODS, index=PERIODS.index("month"), key="gov_key_period")
    rpm = c3.number_input("Requests per minute", min_value=1, value=None, step=1, key="gov_key_rpm")
    tpm = c4.number_input("Tokens per minute", min_value=1, value=None, step=1000, key="gov_key_tpm")
    left, mid, right = st.columns(3)
    models = left.multiselect("Models (none: any)", sorted({m for _, m in gw.candidates()}), key="gov_key_models")
    providers = mid.multiselect(
        "Providers (none: any)", gw.configured_providers(), format_func=widgets.provider_label, key="gov_key_providers"
    )
    expires = right.date_input("Expires (optional)", value=None, key="gov_key_expires")
    if st.form_submit_button("Create key", type="primary", icon=":material/add:"):
        fields = act.key_fields(
            name=name,
            team=team,
            user=user,
            budget_usd=budget,
            budget_period=period,
            rpm=rpm,
            tpm=tpm,
            models=models,
            providers=providers,
            expires=expires,
        )
        try:
            created = act.create_key(gov, who, fields)
        except GatewayError as e:
            widgets.show_error(e, gw)
if created is not None:
    # Shown in this run only: the key is not kept anywhere, so the next rerun cannot show it.
    st.success(
        f"Key **{created[0].name}** created for team **{created[0].team}**. Copy it now: it is shown this once.",
        icon=":material/key:",
    )
    st.code(created[1], language=None)

keys = gov.keys()
if keys:
    st.dataframe(view.keys_frame(keys, gov.now()), hide_index=True, width="stretch")
else:
    st.caption("No virtual keys yet.")
active = [k.name for k in keys if k.state(gov.now()) == "active"]
if active:
    with st.form("gov_revoke", border=False), st.container(horizontal=True, vertical_alignment="bottom"):
        target = st.selectbox("Key to revoke", active, key="gov_revoke_name")
        reason = st.text_input("Reason", key="gov_revoke_reason", placeholder="rotated, leaked, no longer needed…")
        if st.form_submit_button("Revoke", icon=":material/key_off:"):
            try:
                act.revoke_key(gov, who, target, reason)
                st.toast(f"Revoked {target}: it is refused from its next request.", icon=":material/key_off:")
                st.rerun()
            except GatewayError as e:
                widgets.show_error(e, gw)

st.subheader("Teams", divider="gray")
if teams:
    st.dataframe(view.teams_frame(teams, statuses), hide_index=True, width="stretch", column_config={"used": PERCENT})
pick = st.selectbox("Team to set", [*(t.name for t in teams), NEW_TEAM], key="gov_team_pick")
current = next((t for t in teams if t.name == pick), None)
with st.form(f"gov_team_{pick}", border=False):
    team_name = st.text_input("New team name", key="gov_team_new") if current is None else pick
    c1, c2, c3, c4, c5 = st.columns(5)
    budget = c1.number_input(
        "Budget in USD (empty: none)",
        min_value=0.0,
        value=None if current is None or current.budget_usd is None else float(current.budget_usd),
        step=10.0,
        key=f"gov_team_budget_{pick}",
    )
    period = c2.selectbox(
        "Period", PERIODS, index=PERIODS.index(current.budget_period if current else "month"), key=f"gov_team_period_{pick}"
    )
    soft_pct = int(round((current.soft if current else 0.8) * 100))
    soft = c3.slider("Soft limit", 50, 100, soft_pct, 5, format="%d%%", key=f"gov_team_soft_{pick}")
    rpm = c4.number_input("Requests per minute", min_value=1, value=current.rpm if current else None, key=f"gov_team_rpm_{pick}")
    tpm = c5.number_input(
        "Tokens per minute", min_value=1, value=current.tpm if current else None, step=1000, key=f"gov_team_tpm_{pick}"
    )
    if st.form_submit_button("Save team", type="primary", icon=":material/save:"):
        try:
            act.set_team(
                gov, who, team_name, act.team_fields(budget_usd=budget, budget_period=period, soft_pct=soft, rpm=rpm, tpm=tpm)
            )
            st.toast(f"Saved team {team_name}.", icon=":material/save:")
            st.rerun()
        except GatewayError as e:
            widgets.show_error(e, gw)

st.subheader("Audit log", divider="gray")
trail = state.audit_log().frame(limit=200)
if trail.empty:
    st.caption("No admin or operator action recorded yet.")
else:
    st.dataframe(
        trail.drop(columns="id"),
        hide_index=True,
        width="stretch",
        column_config={"ts": st.column_config.DatetimeColumn("time (UTC)", format="YYYY-MM-DD HH:mm:ss")},
    )
    st.caption("The newest 200 entries. The evidence pack carries the whole log for its period.")
