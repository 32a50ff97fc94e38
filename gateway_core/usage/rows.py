"""Usage-log rows built from what a request did: pure functions, no I/O.

``request_rows`` turns a ranked plan and the attempts it led to into one row per attempt,
numbered in order, with the last one marked ``final`` however the request ended. Each row
carries the estimate made before the call, the actual usage and cost, the counterfactual
(what the best priced candidate on another provider would have cost), timing, the
outcome, the price table's version, the name of the API key and the team it ran as, and
the routing policy's version, decision and matched rules when a policy decided;
prompt and response text only when content is stored, and then masked. A cancelled attempt
(the caller stopped reading a stream) carries the estimated usage and cost of what was
delivered, like any other attempt's actuals. ``rejected_row`` records a refused request
for the ``rejected_requests`` table: which field, where it came from and whose it was,
never its content. Money stays ``Decimal`` here; ``schema.row_values`` turns
it into the REAL the table stores.
"""

from __future__ import annotations

from ..redact import mask_content
from ..types import MAX_USER_CHARS, Attempt, GenerateResult


def attempt_row(plan, request_id: str, attempt: Attempt, prices, result: GenerateResult | None = None) -> dict:
    """One attempt's row; ``result`` is given for the attempt that answered."""
    req = plan.request
    est = plan.estimate_for(attempt.provider, attempt.model)
    usage = attempt.usage
    row = {  # no "ts": UsageLog.write stamps the time and the writer thread formats it
        "request_id": request_id,
        "final": 0,
        "user": req.user,
        "task": req.task,
        "priority": req.priority,
        "provider_hint": req.provider_hint,
        "route_reason": plan.ranking.reason,
        "provider": attempt.provider,
        "model": attempt.model,
        "prompt_tokens_est": est.input_tokens,
        "completion_tokens_est": est.output_tokens,
        "total_tokens_est": est.input_tokens + est.output_tokens,
        "estimate_raw_tokens": est.raw_input_tokens,
        "cost_est_usd": est.cost_usd,
        "input_tokens": usage.input_tokens if usage else None,
        "output_tokens": usage.output_tokens if usage else None,
        "cached_input_tokens": usage.cached_input_tokens if usage else None,
        "cost_usd": attempt.cost_usd,
        "unpriced": 1 if (usage is not None and attempt.cost_usd is None) else 0,
        "token_source": usage.source if usage else est.source,
        "latency_ms": attempt.latency_ms,
        "ttft_ms": attempt.ttft_ms,
        "streamed": 1 if attempt.streamed else 0,
        "status": attempt.status,
        "error_type": attempt.error_type,
        "error_message": attempt.error_message,
        "price_version": prices.version,
    }
    if plan.policy is not None:
        row.update(policy_row(plan.policy))
    if result is not None:
        cf = (result.counterfactual_provider, result.counterfactual_model, result.counterfactual_cost_usd)
    else:  # a failed attempt is compared on the expected output; a cancelled one on what it delivered
        cf = plan.counterfactual(attempt.provider, usage.output_tokens if usage else est.output_tokens, prices)
    if cf and cf[0]:
        row.update(counterfactual_provider=cf[0], counterfactual_model=cf[1], counterfactual_cost_usd=cf[2])
    return row


def policy_row(decision) -> dict:
    """The usage-row columns of a routing-policy decision."""
    return {
        "policy_version": decision.version or None,
        "policy_decision": decision.label,
        "policy_rules": ",".join(decision.matched) or None,
    }


def request_rows(
    plan,
    request_id: str,
    attempts,
    result: GenerateResult | None,
    prices,
    store_content: bool,
    *,
    key_name: str | None = None,
    team: str | None = None,
) -> list[dict]:
    """Every attempt's row in order, numbered from 1; the last is the request's final row.

    ``key_name`` and ``team`` say who the request ran as: a key's name, never the key."""
    rows = []
    for i, attempt in enumerate(attempts, start=1):
        answered = result if (i == len(attempts) and result is not None) else None
        row = attempt_row(plan, request_id, attempt, prices, answered)
        row["attempt"] = i
        row["key_name"] = key_name
        row["team"] = team
        if store_content:
            row["prompt_text"] = mask_content(plan.request.prompt)
            if answered is not None:
                row["response_text"] = mask_content(answered.text)
        rows.append(row)
    if rows:
        rows[-1]["final"] = 1
    return rows


def rejected_row(
    request_id: str,
    field: str,
    error_type: str,
    *,
    source: str,
    user: str | None,
    team: str | None = None,
    key_id: str | None = None,
) -> dict:
    """A refused request: which field, where and whose, never the content."""

    def plausible(value) -> str | None:
        return value if isinstance(value, str) and value.isprintable() and len(value) <= MAX_USER_CHARS else None

    return {
        "request_id": request_id,
        "source": source,
        "field": str(field)[:200],
        "error_type": error_type,
        "user": plausible(user),
        "team": plausible(team),
        "key_id": plausible(key_id),
    }
