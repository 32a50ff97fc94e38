"""Tools, tool calls and response formats on the Azure OpenAI wire: request validation with
the service's own error wording, and the answer's ``tool_calls`` in whole and streamed form.

What Azure refuses (400 ``invalid_request_error`` naming ``param``): a tool that is not a
function or whose name or parameters break the rules, ``tool_choice`` without tools or
naming an undeclared one, a ``tool`` message that answers no call of the assistant turn
before it, tool calls left unanswered, a ``json_schema`` format without a name or schema,
a strict schema that leaves properties optional or open, and ``json_object`` when no
message mentions JSON.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field

from ..tooluse import ToolDef
from .wire import Invalid

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class ToolSpec:
    tools: list[ToolDef] = field(default_factory=list)
    choice: str = "auto"
    parallel: bool = True
    format: str = "text"  # text | json_object | json_schema
    schema: dict | None = None
    results: list[tuple[str, str]] = field(default_factory=list)  # (tool name, result) after the last user turn
    called: set[str] = field(default_factory=set)

    @property
    def after_results(self) -> bool:
        return bool(self.results)


def _function(i: int, tool) -> ToolDef:
    where = f"tools[{i}]"
    if not isinstance(tool, dict) or tool.get("type") != "function":
        raise Invalid(f"{where}.type", "Invalid value: 'tools[].type'. Supported values are: 'function'.", "invalid_value")
    fn = tool.get("function")
    if not isinstance(fn, dict):
        raise Invalid(f"{where}.function", f"Missing required parameter: '{where}.function'.", "missing_required_parameter")
    name = fn.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid(
            f"{where}.function.name",
            f"Invalid '{where}.function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.",
            "invalid_value",
        )
    params = fn.get("parameters", {"type": "object", "properties": {}})
    if not isinstance(params, dict) or params.get("type") != "object":
        got = params.get("type") if isinstance(params, dict) else type(params).__name__
        raise Invalid(
            f"{where}.function.parameters",
            f"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"', got 'type: \"{got}\"'.",
            "invalid_function_parameters",
        )
    if fn.get("strict"):
        strict_problem(params, f"function '{name}'", f"{where}.function.parameters")
    return ToolDef(name, fn.get("description") or "", params)


def strict_problem(schema: dict, what: str, param: str, context: tuple = ()) -> None:
    """Strict mode's rules: every object closed and every property required."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object" or "properties" in schema:
        where = f"In context=({', '.join(repr(c) for c in context)})"
        if schema.get("additionalProperties") is not False:
            raise Invalid(
                param,
                f"Invalid schema for {what}: {where}, 'additionalProperties' is required to be supplied and to be false.",
                "invalid_value",
            )
        props = schema.get("properties") or {}
        missing = [k for k in props if k not in (schema.get("required") or [])]
        if missing:
            raise Invalid(
                param,
                f"Invalid schema for {what}: {where}, 'required' is required to be supplied and to be an array including every key in properties. Missing '{missing[0]}'.",
                "invalid_value",
            )
        for k, sub in props.items():
            strict_problem(sub, what, param, (*context, "properties", k))
    for key in ("items",):
        strict_problem(schema.get(key), what, param, (*context, key))
    for key in ("$defs", "definitions"):
        for k, sub in (schema.get(key) or {}).items():
            strict_problem(sub, what, param, (*context, key, k))
    for key in ("anyOf",):
        for j, sub in enumerate(schema.get(key) or []):
            strict_problem(sub, what, param, (*context, key, str(j)))


def _choice(raw, names: set[str]) -> str:
    if raw is None:
        return "auto" if names else "none"
    if not names:
        raise Invalid(
            "tool_choice",
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            "invalid_value",
        )
    if raw in ("auto", "none", "required"):
        return raw
    name = (raw.get("function") or {}).get("name") if isinstance(raw, dict) else None
    if not isinstance(name, str):
        raise Invalid(
            "tool_choice",
            "Invalid value for 'tool_choice': expected 'none', 'auto', 'required' or a named function.",
            "invalid_value",
        )
    if name not in names:
        raise Invalid(
            "tool_choice",
            f"Invalid value for 'tool_choice': no function named '{name}' was specified in the 'tools' parameter.",
            "invalid_value",
        )
    return name


def _format(raw, messages) -> tuple[str, dict | None]:
    if raw is None:
        return "text", None
    kind = raw.get("type") if isinstance(raw, dict) else None
    if kind == "text":
        return kind, None
    if kind == "json_object":
        if not any("json" in json.dumps(m.get("content")).lower() for m in messages if isinstance(m, dict)):
            raise Invalid(
                "messages",
                "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                "invalid_value",
            )
        return kind, None
    if kind != "json_schema":
        raise Invalid(
            "response_format.type",
            "Invalid value: 'response_format.type'. Supported values are: 'json_object', 'json_schema', and 'text'.",
            "invalid_value",
        )
    spec = raw.get("json_schema")
    for key in ("name", "schema"):
        if not isinstance(spec, dict) or key not in spec:
            raise Invalid(
                f"response_format.json_schema.{key}",
                f"Missing required parameter: 'response_format.json_schema.{key}'.",
                "missing_required_parameter",
            )
    if spec.get("strict"):
        strict_problem(spec["schema"], f"response_format '{spec['name']}'", "response_format")
    return kind, spec["schema"]


def _protocol(messages: list) -> tuple[list[tuple[str, str]], set[str]]:
    """Check tool messages answer the assistant turn before them; return the results since
    the last user turn, and every tool called so far."""
    names: dict[str, str] = {}
    pending: set[str] = set()
    results: list[tuple[str, str]] = []
    called: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role")
        if role == "tool":
            cid = m.get("tool_call_id")
            if cid not in pending:
                raise Invalid(
                    f"messages.[{i}].role",
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    None,
                )
            pending.discard(cid)
            content = m.get("content")
            results.append((names.get(cid, "tool"), content if isinstance(content, str) else json.dumps(content)))
            continue
        if pending:
            raise Invalid(
                f"messages.[{i}].role",
                f"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(pending))}",
                None,
            )
        if role == "user":
            results = []
        for call in (m.get("tool_calls") or []) if role == "assistant" else []:
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(call.get("id"), str):
                raise Invalid(
                    f"messages.[{i}].tool_calls", "Invalid 'tool_calls': each call needs an id and a function.", "invalid_value"
                )
            pending.add(call["id"])
            names[call["id"]] = fn.get("name", "")
            called.add(fn.get("name", ""))
    if pending:
        raise Invalid(
            "messages",
            f"An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(sorted(pending))}",
            None,
        )
    return results, called


def parse(body: dict) -> ToolSpec:
    """The tool and format options of a chat request, validated as Azure does."""
    messages = body.get("messages") or []
    raw_tools = body.get("tools")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise Invalid("tools", "Invalid type for 'tools': expected an array of objects.", "invalid_type")
    tools = [_function(i, t) for i, t in enumerate(raw_tools or [])]
    choice = _choice(body.get("tool_choice"), {t.name for t in tools})
    kind, schema = _format(body.get("response_format"), messages)
    results, called = _protocol(messages)
    return ToolSpec(tools, choice, body.get("parallel_tool_calls") is not False, kind, schema, results, called)


def call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def message_calls(calls) -> list[dict] | None:
    if not calls:
        return None
    return [{"id": cid, "type": "function", "function": {"name": c.name, "arguments": c.json()}} for cid, c in calls]


def stream_deltas(calls, pieces) -> list[dict]:
    """The ``delta`` of each chunk that streams ``calls``: the call's id and name with empty
    arguments, then its arguments in pieces (``pieces`` splits a string)."""
    out = []
    for index, (cid, c) in enumerate(calls):
        out.append(
            {"tool_calls": [{"index": index, "id": cid, "type": "function", "function": {"name": c.name, "arguments": ""}}]}
        )
        out += [{"tool_calls": [{"index": index, "function": {"arguments": p}}]} for p in pieces(c.json())]
    return out
