"""Request controls shared by the Playground and Compare pages.

The widgets offer exactly the choices ``GenerateRequest`` accepts (tasks, priorities,
providers and limits come from ``gateway_core.types``), so a value picked here can only
fail validation for a reason worth showing.
"""

from __future__ import annotations

import streamlit as st

from gateway_core.providers import label as provider_label
from gateway_core.tasks import TASKS
from gateway_core.types import MAX_OUTPUT_TOKENS, MAX_TEMPERATURE, PRIORITIES

AUTO = "auto"
TASK_HELP = "The task template that wraps your prompt (chat keeps the conversation as context)."
PRIORITY_LABELS = {"low_cost": "Lowest cost", "low_latency": "Lowest latency", "balanced": "Balanced"}


def request_controls(prefix: str, *, candidates=()) -> dict:
    """Sidebar controls; returns keyword arguments for ``GenerateRequest``.

    With ``candidates`` (the gateway's configured (provider, model) pairs) the routing
    controls appear too: priority, provider hint (the configured providers), model pin and
    fallback. Compare passes none: it pins each side to its provider itself."""
    with st.sidebar:
        st.subheader("Request", divider="gray")
        task = st.selectbox("Task", tuple(TASKS), key=f"{prefix}_task", help=TASK_HELP)
        out: dict = {"task": task}
        if candidates:
            out["priority"] = st.selectbox(
                "Priority",
                PRIORITIES,
                index=PRIORITIES.index("balanced"),
                key=f"{prefix}_priority",
                format_func=PRIORITY_LABELS.get,
            )
            providers = tuple(dict.fromkeys(p for p, _ in candidates))
            hint = st.segmented_control(
                "Provider",
                (AUTO, *providers),
                default=AUTO,
                key=f"{prefix}_hint",
                required=True,
                format_func=lambda p: p if p == AUTO else provider_label(p),
                help="auto lets the router choose; a provider goes first, with the others kept as fallback.",
            )
            out["provider_hint"] = None if hint in (None, AUTO) else hint
            models = [m for p, m in candidates if out["provider_hint"] in (None, p)]
            if len(models) > 1:
                model = st.selectbox("Model", (AUTO, *models), key=f"{prefix}_model_{hint}")
                out["model"] = None if model == AUTO else model
            out["fallback"] = st.toggle(
                "Fall back on failure",
                value=True,
                key=f"{prefix}_fallback",
                help="Off: a failure of the first candidate is shown as it is.",
            )
        limit = st.toggle("Limit output tokens", key=f"{prefix}_limit")
        if limit:
            out["max_tokens"] = st.number_input(
                "max_tokens", min_value=1, max_value=MAX_OUTPUT_TOKENS, value=512, step=64, key=f"{prefix}_max_tokens"
            )
        if st.toggle("Set temperature", key=f"{prefix}_temp_on"):
            out["temperature"] = st.slider("temperature", 0.0, MAX_TEMPERATURE, 0.7, 0.1, key=f"{prefix}_temperature")
    return out
