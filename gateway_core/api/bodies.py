"""Request bodies to ``GenerateRequest``: the ``/generate`` contract and OpenAI's chat
completions, dict in, value out. Pure, so every rule is testable on plain dicts.

Both routes carry the same options in their own terms: ``/generate`` flat (``tools`` as
``{name, description, parameters, strict}``, ``tool_choice`` a word or a tool's name,
``response_format.schema``), ``/v1`` exactly as OpenAI spells them. The request value
checks itself (``types`` and ``tools`` name the field); this module adds what only the
wire knows: unknown fields, and on ``/v1`` the parameters the gateway refuses or ignores
(``OPENAI_FIELDS``). Unknown fields are refused on both routes: a parameter that was sent
was meant to change the answer, so dropping it silently would be a lie.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import ValidationError
from ..providers import PROVIDER_NAMES
from ..tools import TOOL_CHOICE_MODES, ResponseFormat, Tool, ToolCall
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
# Every OpenAI chat-completions parameter, by what the gateway does with it. A refused one
# is accepted only at its do-nothing value (n=1, logprobs=false, penalties 0, ...).
HONOURED = (
    "model",
    "messages",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "user",
    "priority",
    "fallback",
)
IGNORED = ("seed", "metadata", "store", "service_tier")
REFUSED = {  # field -> its do-nothing values, which are accepted
    "n": (1,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "frequency_penalty": (0,),
    "presence_penalty": (0,),
    "logit_bias": ({},),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
    "functions": (),
    "function_call": (),
    "reasoning_effort": (),
    "web_search_options": (),
    "verbosity": (),
}
_REFUSAL_REASON = {
    "functions": "legacy function calling is not supported; send tools (and tool_choice) instead",
    "function_call": "legacy function calling is not supported; send tool_choice (with tools) instead",
    "n": "only one choice (n=1) is supported",
    "modalities": "only text output is supported",
}
_ROLE_ALIASES = {"developer": "system"}  # OpenAI's newer name for the system prompt


@dataclass(frozen=True)
class ChatOptions:
    model: str  # as the client named it: auto, a provider name or a model id
    stream: bool = False
    include_usage: bool = False
    created: int = 0


def _bool(body: dict, key: str, default: bool | None) -> bool | None:
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


def _object(value, field: str) -> dict:
    if not isinstance(value, dict):
        raise ValidationError(field, "must be an object")
    return value


def _list(value, field: str) -> list:
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
    return tuple(_list(value, "stop"))


# --- /generate ---------------------------------------------------------------------------


def _flat_tool(i: int, raw) -> Tool:
    t = _object(raw, f"tools[{i}]")
    unknown = sorted(set(t) - {"name", "description", "parameters", "strict"})
    if unknown:
        raise ValidationError(f"tools[{i}].{unknown[0][:40]}", "is not a known field (name, description, parameters, strict)")
    return Tool(
        t.get("name"), t.get("parameters", {"type": "object"}), _or_default(t, "description", ""), _or_default(t, "strict", False)
    )


def _flat_format(raw) -> ResponseFormat | None:
    if raw is None:
        return None
    f = _object(raw, "response_format")
    unknown = sorted(set(f) - {"type", "schema", "name", "strict"})
    if unknown:
        raise ValidationError(f"response_format.{unknown[0][:40]}", "is not a known field (type, schema, name, strict)")
    return ResponseFormat(f.get("type"), f.get("schema"), _or_default(f, "name", "response"), _or_default(f, "strict", False))


def _flat_message(i: int, raw) -> ChatMessage:
    m = _object(raw, f"messages[{i}]")
    unknown = sorted(set(m) - {"role", "content", "tool_calls", "tool_call_id"})
    if unknown:
        raise ValidationError(f"messages[{i}].{unknown[0][:40]}", "is not a known field")
    calls = []
    for j, c in enumerate(_list(m.get("tool_calls") or [], f"messages[{i}].tool_calls")):
        c = _object(c, f"messages[{i}].tool_calls[{j}]")
        calls.append(ToolCall(c.get("id"), c.get("name"), c.get("arguments")))
    content = m.get("content")
    return ChatMessage(m.get("role"), "" if content is None and calls else content, tuple(calls), m.get("tool_call_id"))


def generate_request(body: dict, candidates) -> tuple[GenerateRequest, bool]:
    """A ``/generate`` body to (request, stream)."""
    unknown = sorted(k for k in body if k not in GENERATE_FIELDS)
    if unknown:
        raise ValidationError(unknown[0][:40], f"is not a known field (known: {', '.join(GENERATE_FIELDS)})")
    if ("prompt" in body) == ("messages" in body):
        raise ValidationError("prompt", "is required: give prompt or messages (not both)")
    hint = body.get("provider_hint")
    model = body.get("model")
    if isinstance(model, str) and model not in _model_ids(candidates):
        raise ValidationError("model", "is not a configured model id; GET /v1/models lists them")
    messages = None
    if "messages" in body:
        raw = body["messages"]
        if not isinstance(raw, list) or not raw:
            raise ValidationError("messages", "must be a non-empty array of messages")
        messages = tuple(_flat_message(i, m) for i, m in enumerate(raw))
    tools = body.get("tools")
    req = GenerateRequest(
        prompt=body.get("prompt"),
        task=_or_default(body, "task", "chat"),
        priority=_or_default(body, "priority", "balanced"),
        provider_hint=None if hint == AUTO else hint,
        max_tokens=body.get("max_tokens"),
        temperature=body.get("temperature"),
        user=body.get("user"),
        fallback=_bool(body, "fallback", True),
        model=model,
        messages=messages,
        tools=None if tools is None else tuple(_flat_tool(i, t) for i, t in enumerate(_list(tools, "tools"))),
        tool_choice=body.get("tool_choice"),
        response_format=_flat_format(body.get("response_format")),
        stop=stop_of(body.get("stop")),
        top_p=body.get("top_p"),
        parallel_tool_calls=_bool(body, "parallel_tool_calls", None),
    )
    return req, _bool(body, "stream", False)


# --- /v1/chat/completions ------------------------------------------------------------------


def _refuse_unhonoured(body: dict) -> None:
    for key in sorted(body):
        if key in HONOURED or key in IGNORED:
            continue
        if key not in REFUSED:
            raise ValidationError(key[:40], "is not a parameter this gateway supports")
        value = body[key]
        if value is None or any(value == ok and type(value) is type(ok) for ok in REFUSED[key]):
            continue
        raise ValidationError(key, _REFUSAL_REASON.get(key, "cannot be honoured by this gateway"))


def _content_text(where: str, content, *, nullable: bool = False) -> str:
    """OpenAI content is a string or a list of parts; only text parts can be routed."""
    if content is None and nullable:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise ValidationError(where, f"must be a string or a list of text parts, got {type(content).__name__}")
    texts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise ValidationError(f"{where}[{j}]", "only text content parts are supported (no images, audio or files)")
        texts.append(part["text"])
    return "".join(texts)


def _openai_calls(i: int, raw) -> tuple[ToolCall, ...]:
    calls = []
    for j, c in enumerate(_list(raw, f"messages[{i}].tool_calls")):
        where = f"messages[{i}].tool_calls[{j}]"
        c = _object(c, where)
        if c.get("type", "function") != "function":
            raise ValidationError(f"{where}.type", "must be function")
        fn = _object(c.get("function"), f"{where}.function")
        calls.append(ToolCall(c.get("id"), fn.get("name"), fn.get("arguments")))
    return tuple(calls)


def _openai_message(i: int, m) -> ChatMessage:
    m = _object(m, f"messages[{i}]")
    role = m.get("role")
    role = _ROLE_ALIASES.get(role, role) if isinstance(role, str) else role
    if role not in ("system", "user", "assistant", "tool"):
        raise ValidationError(f"messages[{i}].role", "must be one of system, developer, user, assistant, tool")
    if m.get("function_call") is not None or role == "function":
        raise ValidationError(f"messages[{i}].function_call", _REFUSAL_REASON["functions"])
    calls = _openai_calls(i, m["tool_calls"]) if m.get("tool_calls") is not None and role == "assistant" else ()
    if "content" not in m and not calls:
        raise ValidationError(f"messages[{i}].content", "is required")
    text = _content_text(f"messages[{i}].content", m.get("content"), nullable=bool(calls))
    tool_call_id = m.get("tool_call_id") if role == "tool" else None
    return ChatMessage(role, text, calls, tool_call_id)


def _messages(raw) -> tuple[ChatMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationError("messages", "must be a non-empty array of messages")
    return tuple(_openai_message(i, m) for i, m in enumerate(raw))


def _openai_tools(raw) -> tuple[Tool, ...] | None:
    if raw is None:
        return None
    tools = []
    for i, t in enumerate(_list(raw, "tools")):
        t = _object(t, f"tools[{i}]")
        if t.get("type") != "function":
            raise ValidationError(f"tools[{i}].type", "must be function (the only tool type this gateway routes)")
        fn = _object(t.get("function"), f"tools[{i}].function")
        params = fn.get("parameters", {"type": "object"})
        tools.append(Tool(fn.get("name"), params, _or_default(fn, "description", ""), _or_default(fn, "strict", False)))
    return tuple(tools)


def _openai_tool_choice(raw):
    if raw is None or isinstance(raw, str):
        if raw is not None and raw not in TOOL_CHOICE_MODES:
            raise ValidationError("tool_choice", "must be auto, none, required or {type: function, function: {name}}")
        return raw
    choice = _object(raw, "tool_choice")
    if choice.get("type") != "function":
        raise ValidationError("tool_choice.type", "must be function")
    name = _object(choice.get("function"), "tool_choice.function").get("name")
    if not isinstance(name, str) or name in TOOL_CHOICE_MODES:
        raise ValidationError("tool_choice.function.name", "must name a declared tool")
    return name


def _openai_format(raw) -> ResponseFormat | None:
    if raw is None:
        return None
    f = _object(raw, "response_format")
    kind = f.get("type")
    if kind != "json_schema":
        return ResponseFormat(kind)
    spec = _object(f.get("json_schema"), "response_format.json_schema")
    return ResponseFormat(kind, spec.get("schema"), spec.get("name"), _or_default(spec, "strict", False))


def _route(model, candidates) -> tuple[str | None, str | None]:
    """The OpenAI ``model`` field to (provider_hint, pinned model)."""
    providers = [p for p in PROVIDER_NAMES if any(c[0] == p for c in candidates)]
    choices = ", ".join((AUTO, *providers))
    if not isinstance(model, str) or not model:
        raise ValidationError("model", f"is required: {choices} or a model id from GET /v1/models")
    if model == AUTO:
        return None, None
    if model in providers:
        return model, None
    if model in _model_ids(candidates):
        return None, model
    raise ValidationError("model", f"does not exist; GET /v1/models lists {choices} and the model ids")


def _stream_options(body: dict) -> bool:
    opts = body.get("stream_options")
    if opts is None:
        return False
    if not isinstance(opts, dict):
        raise ValidationError("stream_options", "must be an object")
    return _bool(opts, "include_usage", False)


def _rename(e: ValidationError, field: str, users: list[int]) -> ValidationError:
    """The field as the client sent it: /v1 has no prompt and may say max_completion_tokens;
    its tools, tool choice and schema sit one level deeper than in the request value."""
    name = e.field
    if name == "max_tokens" and field != "max_tokens":
        name = field
    elif name == "prompt" and users:
        name = f"messages[{users[-1]}].content"
    elif name.startswith("tools[") and "].parameters" in name:
        name = name.replace("].parameters", "].function.parameters")
    elif name.startswith("tools[") and name.endswith("].name"):
        name = name.replace("].name", "].function.name")
    elif name.startswith("response_format.") and name != "response_format.type":
        name = "response_format.json_schema." + name.removeprefix("response_format.")
    return e if name == e.field else ValidationError(name, e.reason)


def chat_request(body: dict, candidates) -> tuple[GenerateRequest, ChatOptions]:
    """An OpenAI chat-completions body to (request, options)."""
    _refuse_unhonoured(body)
    hint, pinned = _route(body.get("model"), candidates)
    messages = _messages(body.get("messages"))
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    max_tokens, field = body.get("max_completion_tokens"), "max_completion_tokens"
    if max_tokens is None:
        max_tokens, field = body.get("max_tokens"), "max_tokens"
    try:
        req = GenerateRequest(
            prompt=None,
            task="chat",
            priority=_or_default(body, "priority", "balanced"),
            provider_hint=hint,
            max_tokens=max_tokens,
            temperature=body.get("temperature"),
            user=body.get("user"),
            fallback=_bool(body, "fallback", True),
            model=pinned,
            messages=messages,
            tools=_openai_tools(body.get("tools")),
            tool_choice=_openai_tool_choice(body.get("tool_choice")),
            response_format=_openai_format(body.get("response_format")),
            stop=stop_of(body.get("stop")),
            top_p=body.get("top_p"),
            parallel_tool_calls=_bool(body, "parallel_tool_calls", None),
        )
    except ValidationError as e:
        raise _rename(e, field, users) from None
    stream = _bool(body, "stream", False)
    opts = ChatOptions(
        model=body["model"], stream=stream, include_usage=stream and _stream_options(body), created=int(time.time())
    )
    return req, opts
