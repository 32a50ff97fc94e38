"""Playground: chat with the gateway, streaming, with the routing and cost story of every answer."""

import streamlit as st

from console import auth, state, widgets
from console.controls import request_controls
from gateway_core.errors import GatewayError, StreamInterrupted, ValidationError
from gateway_core.types import MAX_PROMPT_CHARS, ChatMessage, GenerateRequest

who = auth.require("playground")
gw = state.gateway()
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


def render_turn(turn: dict) -> None:
    with st.chat_message(turn["role"]):
        if turn.get("content"):
            st.markdown(turn["content"])
        if turn.get("result") is not None:
            widgets.result_meta(turn["result"])
        if turn.get("error") is not None:
            widgets.show_error(turn["error"], gw)


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
    except ValidationError as e:
        gw.log_rejected(e, user=who.request_user, source="console")
        return {"role": "assistant", "error": e}
    stream = gw.stream(req)
    try:
        text = st.write_stream(stream)
    except StreamInterrupted as e:
        return {"role": "assistant", "content": e.partial_text, "error": e}
    except GatewayError as e:
        return {"role": "assistant", "error": e}
    text = text if isinstance(text, str) else "".join(map(str, text))
    return {"role": "assistant", "content": text, "result": stream.result}


for turn in history:
    render_turn(turn)

prompt = st.chat_input("Ask the gateway…", max_chars=MAX_PROMPT_CHARS)
if prompt:
    user_turn = {"role": "user", "content": prompt}
    render_turn(user_turn)
    with st.chat_message("assistant"):
        reply = answer(prompt)
        if reply.get("result") is not None:
            widgets.result_meta(reply["result"])
        if reply.get("error") is not None:
            widgets.show_error(reply["error"], gw)
    history.extend([user_turn, reply])
