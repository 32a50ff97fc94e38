"""Request bodies to ``GenerateRequest``: the ``/generate`` contract here, OpenAI's chat
completions in ``chat_body``; dict in, value out. Pure, so every rule is testable on plain dicts.

Both routes carry the same options in their own terms: ``/generate`` flat (``tools`` as
``{name, description, parameters, strict}``, ``tool_choice`` a word or a tool's name,
``response_format.schema``), ``/v1`` exactly as OpenAI spells them. The request value
checks itself (``types`` and ``tools`` name the field); this module adds what only the
wire knows: unknown fields, and on ``/v1`` the parameters the gateway refuses or ignores
(``chat_body``). Unknown fields are refused on both routes: a parameter that was sent
was meant to change the answer, so dropping it silently would be a lie.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ValidationError
from ..tools import ResponseFormat, Tool, ToolCall
from ..types import MAX_USER_CHARS, ChatMessage, GenerateRequest

AUTO = "auto"
GENERATE_FIELDS = (
    "prompt",
    "messages",
    "task",
    "priority",
    "provider_hint",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "user",
    "stream",
    "fallback",
    "model",
)
# A function declared without parameters takes none (closed, so strict mode accepts it too).
NO_PARAMETERS = {"type": "object", "properties": {}, "additionalProperties": False}  # OpenAI's newer name for the system prompt


@dataclass(frozen=True)
class ChatOptions:
    model: str  # as the client named it: auto, a provider name or a model id
    stream: bool = False
    include_usage: bool = False
    created: int = 0


def bool_field(body: dict, key: str, default: bool | None) -> bool | None:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValidationError(key, f"must be true or false, got {type(value).__name__}")
    return value


def or_default(body: dict, key: str, default):
    value = body.get(key)
    return default if value is None else value


def model_ids(candidates) -> set[str]:
    return {model for _, model in candidates}


def as_object(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(field, "must be an object")
    return value


def as_list(value, field: str) -> list:
    if not isinstance(value, list):
        raise ValidationError(field, "must be an array")
    return value


def user_of(body: dict) -> str | None:
    """The caller's ``user`` label when it is plausible, for the rejected-request log row."""
    user = body.get("user") if isinstance(body, dict) else None
    return user if isinstance(user, str) and 0 < len(user) <= MAX_USER_CHARS and user.isprintable() else None


def stop_of(value) -> tuple[str, ...] | None:
    """``stop``: a string or a list of them, as OpenAI takes it."""
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(as_list(value, "stop"))


# --- /generate ---------------------------------------------------------------------------


def _flat_tool(i: int, raw) -> Tool:
    t = as_object(raw, f"tools[{i}]")
    unknown = sorted(set(t) - {"name", "description", "parameters", "strict"})
    if unknown:
        raise ValidationError(f"tools[{i}].{unknown[0][:40]}", "is not a known field (name, description, parameters, strict)")
    return Tool(
        t.get("name"),
        or_default(t, "parameters", NO_PARAMETERS),
        or_default(t, "description", ""),
        or_default(t, "strict", False),
    )


def _flat_format(raw) -> ResponseFormat | None:
    if raw is None:
        return None
    f = as_object(raw, "response_format")
    unknown = sorted(set(f) - {"type", "schema", "name", "strict"})
    if unknown:
        raise ValidationError(f"response_format.{unknown[0][:40]}", "is not a known field (type, schema, name, strict)")
    return ResponseFormat(f.get("type"), f.get("schema"), or_default(f, "name", "response"), or_default(f, "strict", False))


def _flat_message(i: int, raw) -> ChatMessage:
    m = as_object(raw, f"messages[{i}]")
    unknown = sorted(set(m) - {"role", "content", "tool_calls", "tool_call_id"})
    if unknown:
        raise ValidationError(f"messages[{i}].{unknown[0][:40]}", "is not a known field")
    calls = []
    for j, c in enumerate(as_list(m.get("tool_calls") or [], f"messages[{i}].tool_calls")):
        c = as_object(c, f"messages[{i}].tool_calls[{j}]")
        calls.append(ToolCall(c.get("id"), c.get("name"), c.get("arguments")))
    content = m.get("content")
    return ChatMessage(m.get("role"), "" if content is None and calls else content, tuple(calls), m.get("tool_call_id"))


def generate_request(body: dict, candidates) -> tuple[GenerateRequest, bool]:
    """A ``/generate`` body to (request, stream)."""
    unknown = sorted(k for k in body if k not in GENERATE_FIELDS)
    if unknown:
        raise ValidationError(unknown[0][:40], f"is not a known field (known: {', '.join(GENERATE_FIELDS)})")
    if (body.get("prompt") is None) == (body.get("messages") is None):
        raise ValidationError("prompt", "is required: give prompt or messages (not both)")
    hint = body.get("provider_hint")
    model = body.get("model")
    if isinstance(model, str) and model not in model_ids(candidates):
        raise ValidationError("model", "is not a configured model id; GET /v1/models lists them")
    messages = None
    if body.get("messages") is not None:
        raw = body["messages"]
        if not isinstance(raw, list) or not raw:
            raise ValidationError("messages", "must be a non-empty array of messages")
        messages = tuple(_flat_message(i, m) for i, m in enumerate(raw))
    tools = body.get("tools")
    req = GenerateRequest(
        prompt=body.get("prompt"),
        task=or_default(body, "task", "chat"),
        priority=or_default(body, "priority", "balanced"),
        provider_hint=None if hint == AUTO else hint,
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        user=body.get("user"),
        fallback=bool_field(body, "fallback", True),
        model=model,
        messages=messages,
        tools=None if tools is None else tuple(_flat_tool(i, t) for i, t in enumerate(as_list(tools, "tools"))),
        tool_choice=body.get("tool_choice"),
        response_format=_flat_format(body.get("response_format")),
        stop=stop_of(body.get("stop")),
        top_p=body.get("top_p"),
        parallel_tool_calls=bool_field(body, "parallel_tool_calls", None),
    )
    return req, bool_field(body, "stream", False)
