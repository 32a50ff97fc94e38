"""Pure converters between REST bodies and the gateway's types, dict in, dict out.

``generate_request`` reads a ``/generate`` body and ``chat_request`` an OpenAI
chat-completions body; both return a validated ``GenerateRequest`` (its constructor does
the value checks and names the field) plus the options that only matter on the wire.
``generate_json``, ``completion_json`` and ``chunk_json`` shape a ``GenerateResult`` for
each route. Nothing here does I/O, so every rule is testable on plain dicts.

Unknown fields: ``/generate`` rejects them (a misspelt ``max_token`` would otherwise be
silently ignored); ``/v1`` ignores them, as OpenAI-compatible servers do, so SDK
releases that add parameters keep working.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import ValidationError
from ..providers import PROVIDER_NAMES
from ..serialize import result_to_dict
from ..tasks import TASKS
from ..types import (
    MAX_OUTPUT_TOKENS,
    MAX_TEMPERATURE,
    MAX_USER_CHARS,
    PRIORITIES,
    ROLES,
    ChatMessage,
    GenerateRequest,
)
from .errors import ApiError

GENERATE_FIELDS = (
    "prompt",
    "task",
    "priority",
    "provider_hint",
    "max_tokens",
    "temperature",
    "user",
    "stream",
    "fallback",
    "model",
)
AUTO = "auto"
_MODEL_CHOICES = ", ".join((AUTO, *PROVIDER_NAMES))
# OpenAI's newer "developer" role carries what older models call the system prompt.
_ROLE_ALIASES = {"developer": "system"}
# Bedrock's stop reasons spelled as OpenAI's finish_reason values.
_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
    "tool_use": "tool_calls",
}


@dataclass(frozen=True)
class ChatOptions:
    model: str  # as the client named it: auto, a provider name or a model id
    stream: bool = False
    include_usage: bool = False
    created: int = 0


def _bool(body: dict, key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(key, f"must be true or false, got {type(value).__name__}")
    return value


def _or_default(body: dict, key: str, default):
    value = body.get(key)
    return default if value is None else value


def _model_ids(candidates) -> set[str]:
    return {model for _, model in candidates}


def user_of(body: dict) -> str | None:
    """The caller's ``user`` label when it is plausible, for the rejected-request log row."""
    user = body.get("user") if isinstance(body, dict) else None
    return user if isinstance(user, str) and 0 < len(user) <= MAX_USER_CHARS and user.isprintable() else None


def generate_request(body: dict, candidates) -> tuple[GenerateRequest, bool]:
    """A ``/generate`` body to (request, stream)."""
    unknown = sorted(k for k in body if k not in GENERATE_FIELDS)
    if unknown:
        raise ValidationError(unknown[0][:40], f"is not a known field (known: {', '.join(GENERATE_FIELDS)})")
    if "prompt" not in body:
        raise ValidationError("prompt", "is required")
    hint = body.get("provider_hint")
    model = body.get("model")
    if isinstance(model, str) and model not in _model_ids(candidates):
        raise ValidationError("model", "is not a configured model id; GET /v1/models lists them")
    stream = _bool(body, "stream", False)
    req = GenerateRequest(
        prompt=body["prompt"],
        task=_or_default(body, "task", "chat"),
        priority=_or_default(body, "priority", "balanced"),
        provider_hint=None if hint == AUTO else hint,
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        user=body.get("user"),
        fallback=_bool(body, "fallback", True),
        model=model,
    )
    return req, stream


def _content_text(i: int, content) -> str:
    """OpenAI content is a string or a list of parts; only text parts can be routed."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValidationError(f"messages[{i}].content", f"must be a string or a list of text parts, got {type(content).__name__}")
    texts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ValidationError(f"messages[{i}].content[{j}]", "only text content parts are supported")
        texts.append(part["text"])
    return "".join(texts)


def _messages(raw) -> tuple[ChatMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("messages", "must be a non-empty array of messages")
    out = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise ValidationError(f"messages[{i}]", "must be an object with role and content")
        if "content" not in m:
            raise ValidationError(f"messages[{i}].content", "is required")
        role = m.get("role")
        role = _ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
        if not isinstance(role, str) or role not in ROLES:
            raise ValidationError(f"messages[{i}].role", f"must be one of {', '.join(ROLES)} (or developer)")
        out.append(ChatMessage(role=role, content=_content_text(i, m["content"])))
    return tuple(out)


def _route(model, candidates) -> tuple[str | None, str | None]:
    """The OpenAI ``model`` field to (provider_hint, pinned model)."""
    if not isinstance(model, str) or not model:
        raise ValidationError("model", f"is required: {_MODEL_CHOICES} or a model id from GET /v1/models")
    if model == AUTO:
        return None, None
    if model in PROVIDER_NAMES:
        return model, None
    if model in _model_ids(candidates):
        return None, model
    raise ValidationError("model", f"does not exist; GET /v1/models lists {_MODEL_CHOICES} and the model ids")


def _stream_options(body: dict) -> bool:
    opts = body.get("stream_options")
    if opts is None:
        return False
    if not isinstance(opts, dict):
        raise ValidationError("stream_options", "must be an object")
    return _bool(opts, "include_usage", False)


def chat_request(body: dict, candidates) -> tuple[GenerateRequest, ChatOptions]:
    """An OpenAI chat-completions body to (request, options)."""
    hint, pinned = _route(body.get("model"), candidates)
    messages = _messages(body.get("messages"))
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if not users:
        raise ValidationError("messages", "must contain at least one user message")
    n = body.get("n")
    if n is not None and (isinstance(n, bool) or n != 1):
        raise ValidationError("n", "only n=1 is supported")
    max_tokens = body.get("max_completion_tokens")
    field = "max_completion_tokens"
    if max_tokens is None:
        max_tokens, field = body.get("max_tokens"), "max_tokens"
    try:
        req = GenerateRequest(
            prompt=messages[users[-1]].content,
            task="chat",
            priority=_or_default(body, "priority", "balanced"),
            provider_hint=hint,
            max_tokens=max_tokens,
            temperature=body.get("temperature"),
            user=body.get("user"),
            fallback=_bool(body, "fallback", True),
            model=pinned,
            messages=messages,
        )
    except ValidationError as e:
        # Name the field as the client sent it: /v1 has no "prompt" and may say max_completion_tokens.
        if e.field == "max_tokens" and field != "max_tokens":
            raise ValidationError(field, e.reason) from None
        if e.field == "prompt":
            raise ValidationError(f"messages[{users[-1]}].content", e.reason) from None
        raise
    stream = _bool(body, "stream", False)
    opts = ChatOptions(
        model=body["model"], stream=stream, include_usage=stream and _stream_options(body), created=int(time.time())
    )
    return req, opts


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
    reason = r.finish_reason or "stop"
    return _FINISH.get(reason, reason)


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
                "message": {"role": "assistant", "content": r.text, "refusal": None},
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


def gateway_headers(r) -> dict[str, str]:
    return {
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


# --- OpenAPI descriptions (bodies are parsed by hand, so FastAPI cannot infer them) --------


def _body_doc(properties: dict, required: list[str], additional: bool) -> dict:
    schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": additional}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_ROUTING = {
    "priority": {"type": "string", "enum": list(PRIORITIES), "default": "balanced"},
    "max_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_OUTPUT_TOKENS},
    "temperature": {"type": "number", "minimum": 0, "maximum": MAX_TEMPERATURE},
    "user": {"type": "string", "maxLength": MAX_USER_CHARS},
    "stream": {"type": "boolean", "default": False},
    "fallback": {"type": "boolean", "default": True},
}
GENERATE_DOC = _body_doc(
    {
        "prompt": {"type": "string", "example": "Hello"},
        "task": {"type": "string", "enum": list(TASKS), "default": "chat"},
        "provider_hint": {"type": "string", "enum": [AUTO, *PROVIDER_NAMES], "nullable": True},
        "model": {"type": "string", "description": "a configured model id (GET /v1/models)"},
        **_ROUTING,
    },
    ["prompt"],
    False,
)
CHAT_DOC = _body_doc(
    {
        "model": {"type": "string", "example": AUTO, "description": f"{_MODEL_CHOICES} or a configured model id"},
        "messages": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"role": {"type": "string", "enum": [*ROLES, "developer"]}, "content": {"type": "string"}},
            },
        },
        "max_completion_tokens": {"type": "integer", "minimum": 1, "maximum": MAX_OUTPUT_TOKENS},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        **_ROUTING,
    },
    ["model", "messages"],
    True,
)
