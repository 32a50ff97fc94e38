"""OpenAI chat-completions bodies to ``GenerateRequest``, dict in, value out.

Every OpenAI parameter is in one of three tables: ``HONOURED`` (mapped onto every
provider), ``REFUSED`` (a 400 naming it, unless it carries its do-nothing value, such as
``n=1``) and ``IGNORED`` (``seed``, ``metadata``, ``store``, ``service_tier``). A parameter
in none of them is refused too. Field names in errors are the client's own
(``messages[2].tool_call_id``, ``tools[0].function.parameters``).
"""

from __future__ import annotations

import time

from ..errors import ValidationError
from ..providers import PROVIDER_NAMES
from ..tools import TOOL_CHOICE_MODES, ResponseFormat, Tool, ToolCall
from ..types import ChatMessage, GenerateRequest
from .bodies import AUTO, NO_PARAMETERS, ChatOptions, as_list, as_object, bool_field, model_ids, or_default, stop_of

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
_ROLE_ALIASES = {"developer": "system"}


def _refuse_unhonoured(body: dict) -> None:
    for key in sorted(body):
        if key in HONOURED or key in IGNORED:
            continue
        if key not in REFUSED:
            raise ValidationError(key[:40], "is not a parameter this gateway supports")
        value, allowed = body[key], REFUSED[key]
        if allowed and (value is None or any(_same(value, ok) for ok in allowed)):
            continue
        raise ValidationError(key, _REFUSAL_REASON.get(key, "cannot be honoured by this gateway"))


def _same(value, ok) -> bool:
    """JSON equality: 0 and 0.0 are the same number, but false is not 0."""
    return value == ok and isinstance(value, bool) == isinstance(ok, bool)


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
    for j, c in enumerate(as_list(raw, f"messages[{i}].tool_calls")):
        where = f"messages[{i}].tool_calls[{j}]"
        c = as_object(c, where)
        if c.get("type", "function") != "function":
            raise ValidationError(f"{where}.type", "must be function")
        fn = as_object(c.get("function"), f"{where}.function")
        calls.append(ToolCall(c.get("id"), fn.get("name"), fn.get("arguments")))
    return tuple(calls)


def _openai_message(i: int, m) -> ChatMessage:
    m = as_object(m, f"messages[{i}]")
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
    for i, t in enumerate(as_list(raw, "tools")):
        t = as_object(t, f"tools[{i}]")
        if t.get("type") != "function":
            raise ValidationError(f"tools[{i}].type", "must be function (the only tool type this gateway routes)")
        fn = as_object(t.get("function"), f"tools[{i}].function")
        params = or_default(fn, "parameters", NO_PARAMETERS)
        tools.append(Tool(fn.get("name"), params, or_default(fn, "description", ""), or_default(fn, "strict", False)))
    return tuple(tools)


def _openai_tool_choice(raw):
    if raw is None or isinstance(raw, str):
        if raw is not None and raw not in TOOL_CHOICE_MODES:
            raise ValidationError("tool_choice", "must be auto, none, required or {type: function, function: {name}}")
        return raw
    choice = as_object(raw, "tool_choice")
    if choice.get("type") != "function":
        raise ValidationError("tool_choice.type", "must be function")
    name = as_object(choice.get("function"), "tool_choice.function").get("name")
    if not isinstance(name, str) or name in TOOL_CHOICE_MODES:
        raise ValidationError("tool_choice.function.name", "must name a declared tool")
    return name


def _openai_format(raw) -> ResponseFormat | None:
    if raw is None:
        return None
    f = as_object(raw, "response_format")
    kind = f.get("type")
    if kind != "json_schema":
        return ResponseFormat(kind)
    spec = as_object(f.get("json_schema"), "response_format.json_schema")
    return ResponseFormat(kind, spec.get("schema"), spec.get("name"), or_default(spec, "strict", False))


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
    if model in model_ids(candidates):
        return None, model
    raise ValidationError("model", f"does not exist; GET /v1/models lists {choices} and the model ids")


def _stream_options(body: dict) -> bool:
    opts = body.get("stream_options")
    if opts is None:
        return False
    if not isinstance(opts, dict):
        raise ValidationError("stream_options", "must be an object")
    return bool_field(opts, "include_usage", False)


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
            priority=or_default(body, "priority", "balanced"),
            provider_hint=hint,
            max_tokens=max_tokens,
            temperature=body.get("temperature"),
            user=body.get("user"),
            fallback=bool_field(body, "fallback", True),
            model=pinned,
            messages=messages,
            tools=_openai_tools(body.get("tools")),
            tool_choice=_openai_tool_choice(body.get("tool_choice")),
            response_format=_openai_format(body.get("response_format")),
            stop=stop_of(body.get("stop")),
            top_p=body.get("top_p"),
            parallel_tool_calls=bool_field(body, "parallel_tool_calls", None),
        )
    except ValidationError as e:
        raise _rename(e, field, users) from None
    stream = bool_field(body, "stream", False)
    opts = ChatOptions(
        model=body["model"], stream=stream, include_usage=stream and _stream_options(body), created=int(time.time())
    )
    return req, opts
