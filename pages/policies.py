"""Policies (admins): the active routing policy, what it reads, its cache, and a dry run."""

import json

import streamlit as st

from console import auth, state
from console import policy_view as view
from gateway_core.governance.policy import WEEKDAYS
from gateway_core.providers import label as provider_label
from gateway_core.tasks import TASKS
from gateway_core.types import PRIORITIES

PER_1K = {
    name: st.column_config.NumberColumn(name, format="$%.6f", help="USD per 1,000 tokens")
    for name in ("input per 1k", "output per 1k")
}

who = auth.require("policies")
gw = state.gateway()
engine = gw.policy
st.title("Policies")
st.caption(
    "The routing policy every request passes between planning and ranking: it may refuse a request, exclude "
    "candidates (residency, allow-lists), prefer some, or mask the prompt before it is sent."
)
if engine is None:
    st.info(
        "No routing policy is configured. Set GATEWAY_POLICY_FILE to a .rego file or a directory of them (the "
        "examples in policies/ are a start), or GATEWAY_OPA_URL to an OPA server, and restart.",
        icon=":material/policy:",
    )
    st.stop()

about = view.describe(engine)
st.subheader("Active policy", divider="gray")
st.markdown(f"**{about['where']}** · version `{about['version']}` · fails {about['fails']}")
st.markdown("Reads " + ", ".join(f"`{field}`" for field in about["reads"]))
for col, (label, value) in zip(st.columns(3), view.cache_numbers(about["stats"])):
    col.metric(label, value, border=True)
if about["stats"].get("reload_error"):
    st.warning(f"The files changed but do not load, so the version above stays in force: {about['stats']['reload_error']}")
files = view.sources_frame(engine)
if not files.empty:
    st.dataframe(files, hide_index=True, width="stretch")
    for source in engine.sources:
        with st.expander(source.name, icon=":material/description:"):
            st.code(source.text, language="rego", line_numbers=True)
    if auth.can(who, "policy") and st.button("Check the files now", icon=":material/refresh:"):
        changed, before, after = view.reload(engine)
        if changed:
            auth.record(who, "policy.changed", about["where"], {"from": before, "to": after})
            st.toast(f"Version {after} is now in force (was {before}).", icon=":material/policy:")
            st.rerun()
        st.toast("No change: the files are as loaded." if not engine.reload_error else "The files do not load.")

st.subheader("Dry run", divider="gray")
st.caption(
    "Start from what a real request would send, edit the JSON if you like, and see the decision and the route it "
    "leaves. Nothing is sent to a provider, and the decision cache is not used."
)
weekday, hour = view.now_utc()
with st.form("pol_build", border=False):
    c1, c2, c3, c4 = st.columns(4)
    key = c1.selectbox("Key", [view.NO_KEY, *(k.name for k in gw.governance.keys())], key="pol_key")
    task = c2.selectbox("Task", tuple(TASKS), key="pol_task")
    priority = c3.selectbox("Priority", PRIORITIES, index=PRIORITIES.index("balanced"), key="pol_priority")
    hint = c4.selectbox(
        "Provider hint", [None, *gw.configured_providers()], format_func=lambda p: provider_label(p) if p else "auto"
    )
    prompt = st.text_area("Prompt", view.SAMPLE_PROMPT, key="pol_prompt", height=80)
    c1, c2 = st.columns(2)
    day = c1.selectbox("Weekday (UTC)", WEEKDAYS, index=WEEKDAYS.index(weekday), key="pol_day")
    at = c2.slider("Hour (UTC)", 0, 23, hour, key="pol_hour")
    if st.form_submit_button("Build the input", icon=":material/data_object:") or "pol_input" not in st.session_state:
        st.session_state["pol_input"] = view.sample_input(
            gw, key=key, prompt=prompt, task=task, priority=priority, hint=hint, weekday=day, hour=at
        )
text = st.text_area("Input (JSON)", key="pol_input", height=220)
if st.button("Evaluate", type="primary", icon=":material/gavel:"):
    try:
        decision, outcome = view.evaluate(engine, text)
    except ValueError as e:
        st.error(f"Invalid **input**: {e}", icon=":material/edit_off:")
    else:
        if outcome["status"] == "refused":
            st.error("Refused, 403 policy_denied: " + "; ".join(outcome["messages"]), icon=":material/block:")
        else:
            st.success(f"Routed: {len(outcome['candidates'])} candidate(s) remain", icon=":material/route:")
            st.dataframe(view.route_frame(outcome, text), hide_index=True, width="stretch", column_config=PER_1K)
        st.markdown(view.answer_line(decision))
        with st.expander("The decision as the policy returned it", icon=":material/data_object:"):
            st.json(json.dumps(decision.to_dict()))
