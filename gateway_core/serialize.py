"""JSON-ready views of results, shared by the CLI and the REST API.

Money stays exact: ``Decimal`` becomes a string, and an unpriced cost stays ``None``
(never ``0``), with ``unpriced`` saying so.
"""

from __future__ import annotations


def _money(value):
    return None if value is None else format(value, "f")


def result_to_dict(r) -> dict:
    """The full result as plain JSON types."""
    return {
        "text": r.text,
        "provider": r.provider,
        "model": r.model,
        "usage": {"input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens, "source": r.usage.source},
        "estimated_usage": None
        if r.estimated_usage is None
        else {
            "input_tokens": r.estimated_usage.input_tokens,
            "output_tokens": r.estimated_usage.output_tokens,
            "source": r.estimated_usage.source,
        },
        "cost_usd": _money(r.cost_usd),
        "unpriced": r.unpriced,
        "estimated_cost_usd": _money(r.estimated_cost_usd),
        "counterfactual": {
            "provider": r.counterfactual_provider,
            "model": r.counterfactual_model,
            "cost_usd": _money(r.counterfactual_cost_usd),
        },
        "latency_ms": round(r.latency_ms, 2),
        "ttft_ms": None if r.ttft_ms is None else round(r.ttft_ms, 2),
        "attempts": [attempt_to_dict(a) for a in r.attempts],
        "fallback_used": r.fallback_used,
        "route_reason": r.route_reason,
        "request_id": r.request_id,
        "finish_reason": r.finish_reason,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in r.tool_calls],
        "policy": None if r.policy is None else r.policy.to_dict(),
    }


def attempt_to_dict(a) -> dict:
    return {
        "provider": a.provider,
        "model": a.model,
        "status": a.status,
        "latency_ms": round(a.latency_ms, 2),
        "error_type": a.error_type,
        "error_message": a.error_message,
        "cost_usd": None if a.cost_usd is None else str(a.cost_usd),
    }
