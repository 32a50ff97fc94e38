"""The OpenTelemetry GenAI semantic conventions as the gateway applies them: names, buckets, attributes.

Everything here is a pure function of plain values (no SDK import), so what a span or a
metric point carries is tested with tables. The conventions this follows: span names
``{gen_ai.operation.name} {gen_ai.request.model}``; ``gen_ai.provider.name`` (and the older
``gen_ai.system``, same value) from the provider's own ``otel_name`` fact, never a literal
here; the client histograms with the conventions' explicit bucket boundaries; and prompt
and completion content, when it is recorded at all, as a
``gen_ai.client.inference.operation.details`` event whose message attributes are JSON
strings in the conventions' input/output message shapes. The gateway's own attributes
live under ``gateway.`` and only the names in ``GATEWAY_ATTRIBUTES`` are accepted, so
nothing free-form (a prompt, a key) can slip onto a span by accident.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal

OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
SYSTEM = "gen_ai.system"  # the name used before gen_ai.provider.name; still read by many backends
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
MAX_TOKENS = "gen_ai.request.max_tokens"
TEMPERATURE = "gen_ai.request.temperature"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
FINISH_REASONS = "gen_ai.response.finish_reasons"
RESPONSE_ID = "gen_ai.response.id"
TOKEN_TYPE = "gen_ai.token.type"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"

CONTENT_EVENT = "gen_ai.client.inference.operation.details"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"

TOKEN_USAGE = "gen_ai.client.token.usage"
OPERATION_DURATION = "gen_ai.client.operation.duration"
TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
COST = "gateway.cost"
FALLBACKS = "gateway.fallbacks"
BREAKER_STATE = "gateway.breaker.state"
BUDGET_REMAINING = "gateway.budget.remaining"

TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

# Gauge values for the breaker, ordered by how much traffic the candidate gets.
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}

GATEWAY_ATTRIBUTES = frozenset(
    {
        "route_reason",
        "priority",
        "task",
        "cost_usd",
        "counterfactual_cost_usd",
        "fallback",
        "team",
        "key_name",
        "policy.decision",
    }
)
# The low-cardinality subset that may label a metric point (a route reason may not).
METRIC_GATEWAY_ATTRIBUTES = ("gateway.task", "gateway.team")


def span_name(operation: str, model: str | None) -> str:
    return f"{operation} {model}" if model else operation


def _plain(value):
    """An attribute value OpenTelemetry accepts: Decimal money becomes a float."""
    return float(value) if isinstance(value, Decimal) else value


def check_gateway_names(values: Mapping[str, object] | None) -> None:
    """Refuse a name outside ``GATEWAY_ATTRIBUTES``: an unknown name is a bug, not data."""
    if values and not GATEWAY_ATTRIBUTES.issuperset(values):
        unknown = sorted(set(values) - GATEWAY_ATTRIBUTES)
        raise ValueError(f"unknown gateway telemetry attribute(s): {', '.join(unknown)}")


def gateway_attributes(values: Mapping[str, object] | None) -> dict:
    """``values`` under the ``gateway.`` prefix, ``None`` dropped."""
    if not values:
        return {}
    check_gateway_names(values)
    return {f"gateway.{k}": _plain(v) for k, v in values.items() if v is not None}


def request_attributes(operation: str, model: str | None, max_tokens: int | None, temperature: float | None) -> dict:
    out = {OPERATION: operation}
    if model:
        out[REQUEST_MODEL] = model
    if max_tokens is not None:
        out[MAX_TOKENS] = max_tokens
    if temperature is not None:
        out[TEMPERATURE] = float(temperature)
    return out


def provider_attributes(provider_name: str) -> dict:
    return {PROVIDER: provider_name, SYSTEM: provider_name}


def server_attributes(address: str | None, port: int | None) -> dict:
    if not address:
        return {}
    return {SERVER_ADDRESS: address, SERVER_PORT: port} if port else {SERVER_ADDRESS: address}


def usage_attributes(usage) -> dict:
    if usage is None:
        return {}
    return {INPUT_TOKENS: usage.input_tokens, OUTPUT_TOKENS: usage.output_tokens}


def response_attributes(model: str | None, response_id: str | None, finish_reason: str | None) -> dict:
    out = {}
    if model:
        out[RESPONSE_MODEL] = model
    if response_id:
        out[RESPONSE_ID] = response_id
    if finish_reason:
        out[FINISH_REASONS] = (finish_reason,)
    return out


def result_gateway_values(result) -> dict:
    """The gateway attributes a finished ``GenerateResult`` answers by itself."""
    return {
        "route_reason": result.route_reason or None,
        "cost_usd": result.cost_usd,
        "counterfactual_cost_usd": result.counterfactual_cost_usd,
        "fallback": bool(result.fallback_used),
    }


def error_type(error: BaseException) -> str:
    """The gateway's own low-cardinality error name (``rate_limited``…), else the class name."""
    return getattr(error, "type_name", None) or type(error).__qualname__


def metric_labels(span_attributes: Mapping[str, object], names: Iterable[str]) -> dict:
    return {n: span_attributes[n] for n in names if span_attributes.get(n) is not None}


def breaker_points(rows: Iterable[tuple[str, str, str]]) -> list[tuple[int, dict]]:
    """``(provider otel name, model, state)`` rows as gauge points; an unknown state is skipped."""
    out = []
    for provider_name, model, state in rows:
        value = BREAKER_STATES.get(state)
        if value is not None:
            out.append((value, {PROVIDER: provider_name, REQUEST_MODEL: model}))
    return out


def budget_points(rows: Iterable[tuple[object, Mapping[str, object]]]) -> list[tuple[float, dict]]:
    """``(remaining USD, {"team": ...})`` rows as gauge points labelled under ``gateway.``."""
    return [(float(remaining), gateway_attributes(scope)) for remaining, scope in rows if remaining is not None]


# --- content, only when content storage is on ----------------------------------------------


def content_attributes(messages, output_text: str | None, finish_reason: str | None, mask: Callable[[str], str]) -> dict:
    """The content event's attributes: system turns apart, the chat as sent, the answer if any.

    Every text goes through ``mask`` first; the caller passes the project's masking."""
    system = [{"type": "text", "content": mask(m.content)} for m in messages or () if m.role == "system"]
    chat = [
        {"role": m.role, "parts": [{"type": "text", "content": mask(m.content)}]} for m in messages or () if m.role != "system"
    ]
    out = {INPUT_MESSAGES: _json(chat)}
    if system:
        out[SYSTEM_INSTRUCTIONS] = _json(system)
    if output_text is not None:
        answer = {
            "role": "assistant",
            "parts": [{"type": "text", "content": mask(output_text)}],
            "finish_reason": finish_reason or "stop",
        }
        out[OUTPUT_MESSAGES] = _json([answer])
    return out


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
