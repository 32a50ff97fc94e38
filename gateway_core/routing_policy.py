"""The routing-policy step of a request's path: between planning and ranking, it asks the policy.

``decide`` builds the policy's ``input`` from the planned request (who sends it, what it
asks, every candidate with its region and prices per 1,000 tokens, the time), gets the
decision from the configured engine (``governance.policy``: Rego in process, or OPA) and
applies it to the plan: a ``deny`` raises ``PolicyDenied`` (403 ``policy_denied``), as
does a policy that leaves no candidate, or excludes the model a request pinned; excluded candidates leave the plan, so ranking,
the budget's worst case and every fallback only ever see the ones that remain; ``redact``
masks the messages the provider will receive. ``prefer`` is applied after ranking
(``planning.with_policy``), so it reorders what the priority ranked. The decision goes on
the plan (for ranking and the usage rows) and on the ``Trail`` (for telemetry and the
result), even when it refuses.

The PII kinds are only looked for when the policy reads ``input.request.pii``; a
candidate's facts (region, prices) come from the runtime's route catalog, built once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from . import gate, planning
from .errors import PolicyDenied
from .executor import Trail
from .governance.policy import apply_decision, build_input
from .planning import Plan
from .redact import mask_content, pii_kinds
from .types import GenerateRequest


def decide(rt, plan: Plan, principal, trail: Trail, now: datetime | None = None) -> Plan:
    """The plan as the policy leaves it; unchanged when no policy is configured."""
    policy = rt.policy
    if policy is None:
        return plan
    decision = policy.decide(policy_input(rt, plan, principal, now or datetime.fromtimestamp(rt.wall_clock(), UTC)))
    trail.policy = decision
    candidates = tuple(apply_decision(decision, plan.candidates))  # refuses: PolicyDenied
    pinned = plan.request.model
    if pinned is not None and all(c.model != pinned for c in candidates):
        # A pin never falls over to another model, so a policy that removes it refuses.
        why = f"the policy excluded the requested model {pinned}"
        raise PolicyDenied((why,), policy_version=decision.version, matched=decision.matched)
    messages = redacted(plan.messages) if decision.redact else plan.messages
    return Plan(plan.request, messages, plan.max_tokens, plan.estimates, candidates, plan.streaming, plan.ranking, decision)


def policy_input(rt, plan: Plan, principal, now: datetime) -> dict:
    """The contract's ``input`` for one planned request (see ``governance.policy``)."""
    request = plan.request
    text = user_text(request)
    costs = [c.est_cost_usd for c in plan.candidates if c.est_cost_usd is not None]
    facts = rt.candidate_facts
    return build_input(
        task=request.task,
        priority=request.priority,
        candidates=[facts[c.key] for c in plan.candidates],
        now=now,
        provider_hint=request.provider_hint,
        model=request.model,
        max_tokens=plan.max_tokens,
        # The request's worst case before routing: its dearest candidate's estimate.
        estimated_cost_usd=max(costs) if costs else None,
        pii=pii_kinds(text) if rt.policy is None or rt.policy.reads("request.pii") else (),
        prompt_chars=len(text),
        key=principal.logged_key_name,
        team=principal.team,
        user=principal.user or request.user,
    )


def preview(rt, request: GenerateRequest, key=None, now: datetime | None = None) -> dict:
    """The ``input`` the request path would hand the policy for ``request`` sent as ``key``
    (a key's name, or None), without sending anything: for dry runs."""
    principal = gate.authenticate(rt, key, Trail())
    plan = gate.allowed(rt, planning.build_plan(rt, request, streaming=False), principal)
    return policy_input(rt, plan, principal, now or datetime.fromtimestamp(rt.wall_clock(), UTC))


def user_text(request: GenerateRequest) -> str:
    """What the caller wrote: the prompt, or every turn of a chat (tool results included)."""
    if request.messages is None:
        return request.prompt
    return "\n".join(m.content for m in request.messages)


def redacted(messages: tuple) -> tuple:
    """The messages with personal data and credentials masked, as the log masks them."""
    return tuple(replace(m, content=mask_content(m.content)) if m.content else m for m in messages)
