"""Playground: chat with the gateway, streaming, with the routing and cost story of every answer."""

import streamlit as st

from console import auth, state, widgets
from console.controls import request_controls
from gateway_core.errors import GatewayError, StreamInterrupted, ValidationError
from gateway_core.types import MAX_PROMPT_CHARS, ChatMessage, GenerateRequest

# Each shows the emulators following an instruction in the prompt, and the router at work.
EXAMPLES = (
    (
        ":material/format_list_bulleted:",
        "Summarise in three bullets: Our support team answered 1,240 tickets in March, 18% more than in "
        "February. Average first response time fell from 4.1 hours to 2.6 hours after the new triage rota. "
        "Refund requests doubled after the price change on 3 March. Customers praised the faster replies but "
        "asked for weekend cover.",
    ),
    (":material/sentiment_satisfied:", "In one word, what is the sentiment of: 'The new dashboard is fast and easy to use.'"),
    (
        ":material/data_object:",
        "Return JSON with the keys name, team and topic for: Dana from support asked about a duplicated invoice.",
    ),
)

who = auth.require("playground")

gw = state.gateway()
run_as = auth.key_picker(who, "pg")
opts = request_controls("pg", candidates=gw.candidates())
history: list[dict] = st.session_state.setdefault("pg_history", [])
keep_context = opts["task"] == "chat"

st.title("Playground")
st.caption(
    "Each answer shows who served it and why, tokens (estimated → actual), cost against the other "
    "provider, latency and time to first token. Failovers are marked."
)
if history and st.sidebar.button("Clear conversation", icon=":material/delete_sweep:"):
    history.clear()
    st.rerun()


def send(prompt: str) -> None:
    """Queue ``prompt`` as if typed (runs before the script, so this very run answers it)."""
    st.session_state["pg_pending"] = prompt


def render_turn(i: int, turn: dict) -> None:
    with st.chat_message(turn["role"]):
        if turn.get("content"):
            st.markdown(turn["content"])
        if turn.get("result") is not None:
            widgets.result_meta(turn["result"], turn.get("request"))
        if turn.get("error") is not None:
            widgets.show_error(turn["error"], gw)
        retry_button(i, turn)


def retry_button(i: int, turn: dict) -> None:
    """A cut stream can be sent again as it was (the router may now pick another provider)."""
    if isinstance(turn.get("error"), StreamInterrupted) and turn.get("prompt"):
        st.button("Retry", key=f"pg_retry_{i}", icon=":material/refresh:", on_click=send, args=(turn["prompt"],))


def build_request(prompt: str) -> GenerateRequest:
    messages = None
    if keep_context:
        # History holds (user, reply) pairs; only answered pairs become context, so roles
        # alternate as Bedrock's Converse requires.
        pairs = zip(history[::2], history[1::2])
        past = [
            m
            for u, a in pairs
            if a.get("result") is not None and a.get("content", "").strip()
            for m in (ChatMessage("user", u["content"]), ChatMessage("assistant", a["content"]))
        ]
        messages = (*past, ChatMessage("user", prompt)) if past else None
    return GenerateRequest(prompt=prompt, user=who.request_user, messages=messages, **opts)


def answer(prompt: str) -> dict:
    """Stream one answer into the page; returns the assistant turn to keep in history."""
    try:
        req = build_request(prompt)
        key = auth.key_for(who, run_as)
    except ValidationError as e:
        gw.log_rejected(e, user=who.request_user, source="console")
        return {"role": "assistant", "error": e}
    stream = gw.stream(req, key=key, source="console")
    try:
        text = st.write_stream(stream)
    except StreamInterrupted as e:
        return {"role": "assistant", "content": e.partial_text, "error": e, "prompt": prompt}
    except GatewayError as e:
        return {"role": "assistant", "error": e}
    text = text if isinstance(text, str) else "".join(map(str, text))
    return {"role": "assistant", "content": text, "result": stream.result, "request": req}


for i, turn in enumerate(history):
    render_turn(i, turn)

typed = st.chat_input("Ask the gateway…", max_chars=MAX_PROMPT_CHARS)
prompt = typed or st.session_state.pop("pg_pending", None)
if not history and not prompt:
    st.markdown("**Try one of these**")
    for n, (icon, example) in enumerate(EXAMPLES):
        st.button(example, key=f"pg_example_{n}", icon=icon, on_click=send, args=(example,), width="stretch")
if prompt:
    user_turn = {"role": "user", "content": prompt}
    render_turn(len(history), user_turn)
    with st.chat_message("assistant"):
        reply = answer(prompt)
        if reply.get("result") is not None:
            widgets.result_meta(reply["result"], reply.get("request"))
        if reply.get("error") is not None:
            widgets.show_error(reply["error"], gw)
        retry_button(len(history) + 1, reply)
    history.extend([user_turn, reply])
