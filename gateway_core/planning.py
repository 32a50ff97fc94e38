"""Request planning: the steps between a valid request and its first provider call.

``check`` refuses what the configuration cannot serve (a pinned model nobody offers);
``build_plan`` turns the request into chat messages and gives every configured route a
token and cost estimate (a ``Candidate``); ``rank_plan`` orders the candidates with the
pure ``router.rank``. Plan and rank are separate steps so that a step can sit between them
(the routing policy, which excludes candidates and leaves its decision on the plan) without
either knowing; ``with_policy`` then moves the policy's preferred candidates to the front.
All three read the ``Runtime`` and nothing else; the plan they produce is what makes
``route_reason`` explainable, because it holds every candidate with its estimate and the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from .errors import ValidationError
from .governance.policy import PolicyDecision, apply_decision
from .pricing import split_profile
from .router import Candidate, Ranking, rank
from .tasks import build_messages, max_tokens_for
from .tokens import tool_texts
from .types import ChatMessage, GenerateRequest, Usage


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
    priced_as: str  # the price row's model: Azure deployments bill as the model they serve
    input_tokens: int
    raw_input_tokens: int
    output_tokens: int
    source: str
    cost_usd: Decimal | None


@dataclass(frozen=True)
class Plan:
    request: GenerateRequest
    messages: tuple[ChatMessage, ...]
    max_tokens: int
    estimates: dict  # (provider, model) -> Estimate
    candidates: tuple[Candidate, ...]
    streaming: bool
    ranking: Ranking | None = None  # set by rank_plan
    policy: PolicyDecision | None = None  # set by the routing-policy step, when a policy is configured

    def estimate_for(self, provider: str, model: str) -> Estimate:
        return self.estimates[(provider, model)]

    def estimated_usage(self, provider: str, model: str) -> Usage:
        e = self.estimates[(provider, model)]
        return Usage(e.input_tokens, e.output_tokens, e.source)

    def counterfactual(self, chosen_provider: str, output_tokens: int, prices) -> tuple[str, str, Decimal | None] | None:
        """The cheapest priced candidate on another provider, costed for this prompt and
        the output actually produced, so savings compare like with like."""
        best = None
        for (provider, model), e in self.estimates.items():
            if provider == chosen_provider:
                continue
            cost = prices.estimate_cost(provider, e.priced_as, e.input_tokens, output_tokens)
            if cost is None:
                continue
            if best is None or cost < best[2]:
                best = (provider, model, cost)
        if best is None:
            others = [k for k in self.estimates if k[0] != chosen_provider]
            return (others[0][0], others[0][1], None) if others else None
        return best


def check(rt, request: GenerateRequest) -> None:
    """Refuse what this configuration cannot serve, before anything is estimated or sent."""
    if request.model is not None and all(request.model != r.model for r in rt.routes):
        raise ValidationError("model", "is not a configured model; see the configured deployments and model ids")


def build_plan(rt, request: GenerateRequest, *, streaming: bool) -> Plan:
    """Messages, the output budget, and an estimate and a candidate for every configured route."""
    messages = build_messages(request)
    max_tokens = max_tokens_for(request)
    expected_out = min(rt.output_stats.expected(request.task), max_tokens)
    estimates: dict = {}
    candidates = []
    tools = tool_texts(request)
    for route in rt.routes:
        calibrate = rt.providers[route.provider].calibrate_input_tokens
        est = rt.tokens.estimate_messages(route.priced_as, messages, calibrate=calibrate, tools=tools)
        cost = rt.prices.estimate_cost(route.provider, route.priced_as, est.tokens, expected_out)
        estimates[(route.provider, route.model)] = Estimate(
            route.provider, route.model, route.priced_as, est.tokens, est.raw_tokens, expected_out, est.source, cost
        )
        serves = split_profile(route.priced_as)[1].lower()  # a geo profile serves its bare model
        candidates.append(Candidate(route.provider, route.model, est.tokens, expected_out, cost, serves))
    return Plan(request, messages, max_tokens, estimates, tuple(candidates), streaming)


def rank_plan(rt, plan: Plan) -> Plan:
    """The plan with its candidates ordered by ``router.rank`` against current health and latency."""
    ranking = rank(
        plan.request,
        plan.candidates,
        rt.latency.snapshot(),
        breaker_states=rt.breaker.snapshot(),
        streaming=plan.streaming,
        explore_roll=rt.rng(),
        quality=rt.quality.snapshot() if rt.quality is not None else None,
    )
    ranking = with_policy(plan.policy, ranking)
    # Built directly: dataclasses.replace re-reads the field list on every request.
    return Plan(
        plan.request, plan.messages, plan.max_tokens, plan.estimates, plan.candidates, plan.streaming, ranking, plan.policy
    )


def with_policy(decision: PolicyDecision | None, ranking: Ranking) -> Ranking:
    """``ranking`` with the policy's ``prefer`` applied (preferred candidates first, in its
    order, the ranking's order kept among the rest) and its decision at the end of the reason."""
    if decision is None:
        return ranking
    ordered = tuple(apply_decision(decision, ranking.ordered)) if decision.prefer else ranking.ordered
    return replace(ranking, ordered=ordered, reason=f"{ranking.reason}; {decision.summary()}")
