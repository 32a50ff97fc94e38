"""Results to JSON, dict out: ``generate_json``, ``completion_json`` and ``chunk_json`` shape
a ``GenerateResult`` for each route, ``models_json`` lists what can be routed to. Nothing
here does I/O, so every rule is testable on plain values. (Bodies become requests in
``bodies``.)
"""

from __future__ import annotations

from ..providers import PROVIDER_NAMES
from ..serialize import result_to_dict
from .bodies import AUTO, ChatOptions
from .errors import ApiError

# --- results to JSON ----------------------------------------------------------------------


def generate_json(r) -> dict:
    """The ``/generate`` response: the shared result view plus totals and the estimate."""
    d = result_to_dict(r)
    d["usage"]["total_tokens"] = r.usage.total_tokens
    est = r.estimated_usage
    d["estimate"] = {
        "input_tokens": est.input_tokens if est else None,
        "output_tokens": est.output_tokens if est else None,
        "cost_usd": d["estimated_cost_usd"],
    }
    return d


def x_gateway(r) -> dict:
    """Gateway facts attached to OpenAI-shaped responses: everything but the text."""
    d = generate_json(r)
    d.pop("text", None)
    return d


def openai_usage(r) -> dict:
    return {
        "prompt_tokens": r.usage.input_tokens,
        "completion_tokens": r.usage.output_tokens,
        "total_tokens": r.usage.total_tokens,
    }


def finish_reason(r) -> str:
    return r.finish_reason or "stop"


def openai_tool_calls(calls) -> list[dict] | None:
    if not calls:
        return None
    return [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in calls]


def tool_call_delta(piece) -> dict:
    """One streamed piece of a tool call, as OpenAI's ``delta.tool_calls`` entry."""
    entry: dict = {"index": piece.index}
    if piece.id is not None:
        entry.update(id=piece.id, type="function")
    function = {"arguments": piece.arguments}
    if piece.name is not None:
        function["name"] = piece.name
    entry["function"] = function
    return entry


def completion_id(request_id: str) -> str:
    return "chatcmpl-" + request_id.removeprefix("req_")


def completion_json(r, opts: ChatOptions) -> dict:
    return {
        "id": completion_id(r.request_id),
        "object": "chat.completion",
        "created": opts.created,
        "model": r.model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": r.text if r.text or not r.tool_calls else None,
                    "refusal": None,
                    "tool_calls": openai_tool_calls(r.tool_calls),
                },
                "logprobs": None,
                "finish_reason": finish_reason(r),
            }
        ],
        "usage": openai_usage(r),
        "system_fingerprint": None,
        "x_gateway": x_gateway(r),
    }


def chunk_json(
    cid: str,
    opts: ChatOptions,
    model: str,
    *,
    delta: dict | None = None,
    finish: str | None = None,
    usage: dict | None = None,
    extra: dict | None = None,
) -> dict:
    """One ``chat.completion.chunk``; ``delta=None`` makes the choice-less usage chunk."""
    chunk = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": opts.created,
        "model": model,
        "system_fingerprint": None,
        "choices": [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if opts.include_usage:
        chunk["usage"] = usage
    if extra:
        chunk.update(extra)
    return chunk


def cost_header(r) -> str:
    return "unpriced" if r.cost_usd is None else format(r.cost_usd, "f")


RATE_LIMIT_HEADERS = tuple(
    f"x-ratelimit-{kind}-{metric}" for metric in ("requests", "tokens") for kind in ("limit", "remaining", "reset")
)


def gateway_headers(r) -> dict[str, str]:
    """The gateway's response headers; with a key's or team's limits, ``x-ratelimit-*`` and,
    past a soft budget limit, ``x-gateway-budget`` too."""
    return {
        **r.headers,
        "x-gateway-provider": r.provider,
        "x-gateway-model": r.model,
        "x-gateway-cost-usd": cost_header(r),
        "x-request-id": r.request_id,
    }


def models_json(candidates) -> dict:
    """``GET /v1/models``: the routing aliases first, then each configured model id."""
    providers = [p for p in PROVIDER_NAMES if any(c[0] == p for c in candidates)]
    aliases = [{"id": AUTO, "object": "model", "created": 0, "owned_by": "gateway"}]
    aliases += [{"id": p, "object": "model", "created": 0, "owned_by": "gateway"} for p in providers]
    return {
        "object": "list",
        "data": aliases + [{"id": m, "object": "model", "created": 0, "owned_by": p} for p, m in candidates],
    }


def model_json(candidates, model_id: str) -> dict:
    """``GET /v1/models/{id}``: one entry of the list, or 404 naming the model."""
    for entry in models_json(candidates)["data"]:
        if entry["id"] == model_id:
            return entry
    raise ApiError(404, "model_not_found", "no such model; GET /v1/models lists them", field="model", log=False)
