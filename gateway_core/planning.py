"""Request planning: messages, per-candidate estimates and the ranked route.

This is everything that happens before the first provider call. It is deterministic for
a given request, configuration and router state, which is what makes ``route_reason``
explainable: the plan holds the candidates with their estimates and the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .errors import ValidationError
from .router import Candidate, Ranking, rank
from .tasks import build_messages, max_tokens_for
from .types import ChatMessage, GenerateRequest, Usage


@dataclass(frozen=True)
class Estimate:
    provider: str
    model: str
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
    ranking: Ranking
    streaming: bool

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
            cost = prices.estimate_cost(provider, model, e.input_tokens, output_tokens)
            if cost is None:
                continue
            if best is None or cost < best[2]:
                best = (provider, model, cost)
        if best is None:
            others = [k for k in self.estimates if k[0] != chosen_provider]
            return (others[0][0], others[0][1], None) if others else None
        return best


def pricing_model(provider: str, model: str, model_map) -> str:
    """Azure deployments are priced by the model they serve, not by their own name."""
    return model_map.get(model, model) if provider == "azure" else model


def build_plan(gateway, request: GenerateRequest, *, streaming: bool) -> Plan:
    configured = gateway.candidates()
    if request.model is not None and all(request.model != model for _, model in configured):
        raise ValidationError("model", "is not a configured model; see the configured deployments and model ids")
    messages = build_messages(request)
    max_tokens = max_tokens_for(request)
    expected_out = min(gateway.output_stats.expected(request.task), max_tokens)
    estimates: dict = {}
    candidates = []
    model_map = gateway.settings.azure_model_map
    for provider, model in configured:
        priced_as = pricing_model(provider, model, model_map)
        est = gateway.tokens.estimate_messages(provider, priced_as, messages)
        cost = gateway.prices.estimate_cost(provider, priced_as, est.tokens, expected_out)
        estimates[(provider, model)] = Estimate(provider, model, est.tokens, est.raw_tokens, expected_out, est.source, cost)
        candidates.append(Candidate(provider, model, est.tokens, expected_out, cost))
    ranking = rank(
        request,
        candidates,
        gateway.latency.snapshot(),
        breaker_states=gateway.breaker.snapshot(),
        streaming=streaming,
        explore_roll=gateway.random(),
    )
    return Plan(request, messages, max_tokens, estimates, ranking, streaming)
