"""Rendering for one side of a Compare run, and the stored shape of a run.

A run is kept in session state as plain data (``CompareRun``) so the vote, the reveal and
any later rerun redraw exactly what streamed, without calling a provider again.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field

import streamlit as st

from console import format as fmt
from console import widgets
from gateway_core.types import GenerateResult

VERDICTS = {"a": "A is better", "b": "B is better", "tie": "Tie", "both_bad": "Both bad"}
VERDICT_ICONS = {"a": ":material/thumb_up:", "b": ":material/thumb_up:", "tie": ":material/balance:", "both_bad": ":material/thumb_down:"}


@dataclass
class CompareRun:
    prompt: str
    task: str
    providers: list[str]  # in display order: providers[0] is side A
    blind: bool
    compare_id: str = field(default_factory=lambda: "cmp_" + uuid.uuid4().hex[:20])
    texts: list[str] = field(default_factory=list)
    outcomes: list = field(default_factory=list)  # GenerateResult or exception, per side
    verdict: str | None = None

    @classmethod
    def new(cls, prompt: str, task: str, providers, blind: bool, rng=random) -> "CompareRun":
        order = list(providers)
        if blind:
            rng.shuffle(order)
        return cls(prompt, task, order, blind)

    @property
    def revealed(self) -> bool:
        return not self.blind or self.verdict is not None

    @property
    def votable(self) -> bool:
        return len(self.outcomes) == 2 and all(isinstance(o, GenerateResult) for o in self.outcomes)

    def label(self, i: int) -> str:
        side = "AB"[i]
        return f"{side} · {widgets.provider_label(self.providers[i])}" if self.revealed else side


def side_header(run: CompareRun, i: int) -> None:
    st.markdown(f"#### {run.label(i)}")
    outcome = run.outcomes[i] if i < len(run.outcomes) else None
    if run.revealed and isinstance(outcome, GenerateResult):
        widgets.provider_badge(outcome.provider, outcome.model)


def side_metrics(run: CompareRun, i: int, gw) -> None:
    outcome = run.outcomes[i]
    if not isinstance(outcome, GenerateResult):
        widgets.show_error(outcome, gw)
        return
    with st.container(horizontal=True):
        st.metric("Cost", fmt.usd(outcome.cost_usd))
        st.metric("Latency", fmt.ms(outcome.latency_ms))
        st.metric("TTFT", fmt.ms(outcome.ttft_ms))
        st.metric("Tokens", f"{outcome.usage.input_tokens:,}/{outcome.usage.output_tokens:,}",
                  help=f"input/output tokens ({outcome.usage.source})")
