"""Compare: one prompt to two (or all) configured providers at once, streamed side by side, with a blind vote."""

import streamlit as st

from console import auth, cost_panels, state, widgets
from console.compare_view import VERDICT_ICONS, VERDICTS, CompareRun, side_header, side_metrics
from console.controls import request_controls
from console.streams import SideBySide
from gateway_core.errors import ValidationError
from gateway_core.types import MAX_PROMPT_CHARS, GenerateRequest

who = auth.require("compare")
gw = state.gateway()
run_as = auth.key_picker(who, "cmp")
opts = request_controls("cmp")
configured = gw.configured_providers()
chosen = st.sidebar.multiselect(
    "Providers",
    configured,
    default=configured[:2],
    key="cmp_providers",
    format_func=widgets.provider_label,
    help="Pick two for a blind vote, or more to read them side by side.",
)
blind = st.sidebar.toggle(
    "Blind mode",
    value=True,
    key="cmp_blind",
    help="Label the sides A, B… in random order; the providers are revealed after your vote.",
)

st.title("Compare")
st.caption(
    f"The same prompt goes to {', '.join(map(widgets.provider_label, chosen)) or 'the chosen providers'} "
    "concurrently, without fallback."
)
with st.form("cmp_form", border=False):
    prompt = st.text_area("Prompt", max_chars=MAX_PROMPT_CHARS, key="cmp_prompt", height=110)
    go = st.form_submit_button("Compare", type="primary", icon=":material/compare_arrows:", disabled=len(chosen) < 2)
if len(chosen) < 2:
    st.info("Choose at least two providers in the sidebar.", icon=":material/info:")


def draw_columns(run: CompareRun) -> list:
    slots = []
    for i, col in enumerate(st.columns(len(run.providers))):
        with col.container(border=True):
            side_header(run, i)
            slots.append((st.empty(), st.container()))
    return slots


def fill(run: CompareRun, slots: list) -> None:
    for i, (text_slot, meta_slot) in enumerate(slots):
        text_slot.markdown(run.texts[i] or "_no text_")
        with meta_slot:
            side_metrics(run, i, gw)


run: CompareRun | None = st.session_state.get("cmp_run")
if go:
    try:
        req = GenerateRequest(prompt=prompt, user=who.request_user, **opts)
        key = auth.key_for(who, run_as)
    except ValidationError as e:
        gw.log_rejected(e, user=who.request_user, source="console")
        widgets.show_error(e, gw)
        st.stop()
    run = CompareRun.new(prompt, opts["task"], chosen, blind)
    slots = draw_columns(run)
    live = SideBySide(gw.compare_streams(req, providers=tuple(run.providers), key=key, source="console"))
    for i in live.updates():
        slots[i][0].markdown(live.texts[i] + " ▌")
    run.texts, run.outcomes = live.texts, live.outcomes
    st.session_state["cmp_run"] = run
    fill(run, slots)
elif run is not None:
    st.caption(f"Prompt: {run.prompt[:200]}")
    fill(run, draw_columns(run))

if run is not None and run.votable:
    if run.verdict is None and not auth.can(who, "vote"):
        st.caption(":material/how_to_vote: Operators and admins can vote on which answer is better.")
    elif run.verdict is None:
        st.markdown("**Which answer is better?**")
        with st.container(horizontal=True):
            for verdict, label in VERDICTS.items():
                if st.button(label, key=f"cmp_vote_{verdict}", icon=VERDICT_ICONS[verdict]):
                    a, b = run.outcomes
                    gw.record_vote(run.compare_id, run.task, a, b, verdict, user=who.request_user)
                    run.verdict = verdict
                    st.rerun()
    else:
        st.success(
            f"Vote recorded: **{VERDICTS[run.verdict]}**. A was {widgets.provider_label(run.providers[0])}, "
            f"B was {widgets.provider_label(run.providers[1])}.",
            icon=":material/how_to_vote:",
        )
elif run is not None and len(run.providers) == 2:
    st.info("A side failed, so this run cannot be voted on.", icon=":material/info:")

st.subheader("Vote summary", divider="gray")
widgets.vote_summary(state.analytics().vote_summary())
cost_panels.vote_progress(state.analytics(), gw.settings.quality_min_votes)
cost_panels.quality_frontier(state.analytics())
