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
from gateway_core.usage.schema import VERDICTS as VERDICT_CODES

# Button labels and icons for the log's verdict codes (a, b, tie, both_bad), in that order.
VERDICTS = dict(zip(VERDICT_CODES, ("A is better", "B is better", "Tie", "Both bad"), strict=True))
VERDICT_ICONS = dict(
    zip(VERDICT_CODES, (":material/thumb_up:", ":material/thumb_up:", ":material/balance:", ":material/thumb_down:"), strict=True)
)
SIDES = "ABCDEFGH"


@dataclass
class CompareRun:
    prompt: str
    task: str
    providers: list[str]  # in display order: providers[0] is side A, providers[1] side B, ...
    blind: bool
    compare_id: str = field(default_factory=lambda: "cmp_" + uuid.uuid4().hex[:20])
    texts: list[str] = field(default_factory=list)
    outcomes: list = field(default_factory=list)  # GenerateResult or exception, per side
    verdict: str | None = None

    @classmethod
    def new(cls, prompt: str, task: str, providers, blind: bool, rng=random) -> CompareRun:
        order = list(providers)
        if blind and len(order) == 2:  # only a two-sided run is voted on, so only it hides the order
            rng.shuffle(order)
        return cls(prompt, task, order, blind)

    @property
    def revealed(self) -> bool:
        # Blindness serves the vote, and only a two-sided run that both sides answered has one.
        finished = len(self.outcomes) == len(self.providers)
        return not self.blind or self.verdict is not None or len(self.providers) != 2 or (finished and not self.votable)

    @property
    def votable(self) -> bool:
        """A blind vote is between two answers; a run over more providers is for reading."""
        return len(self.outcomes) == 2 and all(isinstance(o, GenerateResult) for o in self.outcomes)

    def label(self, i: int) -> str:
        side = SIDES[i]
        return f"{side} · {widgets.provider_label(self.providers[i])}" if self.revealed else side


def side_header(run: CompareRun, i: int) -> None:
    st.markdown(f"#### {run.label(i)}")
    outcome = run.outcomes[i] if i < len(run.outcomes) else None
    if run.revealed and isinstance(outcome, GenerateResult):
        widgets.provider_badge(outcome.provider, outcome.model)


def side_metrics(run: CompareRun, i: int, gw) -> None:
    """Cost, latency, TTFT and tokens; in a blind run they wait for the vote, since each of
    them would tell the providers apart (a price, a typical speed, a tokenizer)."""
    outcome = run.outcomes[i]
    if not isinstance(outcome, GenerateResult):
        widgets.show_error(outcome, gw)
        return
    if not run.revealed:
        st.caption(":material/visibility_off: Cost, latency, TTFT and tokens are shown with the providers, after your vote.")
        return
    with st.container(horizontal=True):
        st.metric("Cost", fmt.usd(outcome.cost_usd))
        st.metric("Latency", fmt.ms(outcome.latency_ms))
        st.metric("TTFT", fmt.ms(outcome.ttft_ms))
        st.metric(
            "Tokens",
            f"{outcome.usage.input_tokens:,}/{outcome.usage.output_tokens:,}",
            help=f"input/output tokens ({outcome.usage.source})",
        )
