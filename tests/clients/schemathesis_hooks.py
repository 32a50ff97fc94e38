"""schemathesis hooks for the API's property tests: keep generated bodies inside the rules
that span several fields, which JSON Schema cannot state and the gateway enforces with a
400 naming the field (each rule has its own example-based test):

- tool-call ``arguments`` are the JSON text of an object;
- a tool message answers a call of the assistant turn before it, and every call is answered;
- a named ``tool_choice`` names a declared tool; ``required`` or a name needs tools;
- tool names are unique; schemas are valid JSON Schema, and a strict one is closed.

Bodies that break none of them are kept, whatever else they contain.
"""

from __future__ import annotations

import json

import schemathesis
from jsonschema import SchemaError
from jsonschema.validators import validator_for


def _json_object(text) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (TypeError, ValueError):
        return False


def _calls(message: dict) -> list[tuple[str, str]]:
    out = []
    for call in message.get("tool_calls") or []:
        if not isinstance(call, dict):
            continue
        fn = call.get("function") if isinstance(call.get("function"), dict) else call
        out.append((call.get("id"), fn.get("arguments")))
    return out


def _conversation_ok(messages) -> bool:
    pending: set = set()
    for m in messages if isinstance(messages, list) else []:
        if not isinstance(m, dict):
            continue
        if m.get("role") == "tool":
            if m.get("tool_call_id") not in pending:
                return False
            pending.discard(m.get("tool_call_id"))
            continue
        if pending:
            return False
        calls = _calls(m) if m.get("role") == "assistant" else []
        if any(not _json_object(args) for _, args in calls) or len({cid for cid, _ in calls}) != len(calls):
            return False
        pending = {cid for cid, _ in calls}
    return not pending


def _strict_ok(schema) -> bool:
    if not isinstance(schema, dict):
        return True
    if schema.get("type") == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False or set(props) - set(schema.get("required") or []):
            return False
        return all(_strict_ok(s) for s in props.values())
    return True


def _schema_ok(schema, strict) -> bool:
    if not isinstance(schema, dict):
        return True
    try:
        validator_for(schema).check_schema(schema)
    except (SchemaError, Exception):  # noqa: BLE001 - anything the validator cannot digest
        return False
    return _strict_ok(schema) if strict else True


def _tools(body: dict) -> list[dict]:
    out = []
    for t in body.get("tools") or []:
        if isinstance(t, dict):
            out.append(t["function"] if isinstance(t.get("function"), dict) else t)
    return out


def _choice_name(choice):
    if isinstance(choice, dict):
        fn = choice.get("function")
        return fn.get("name") if isinstance(fn, dict) else None
    return choice


def _format_ok(fmt) -> bool:
    if not isinstance(fmt, dict):
        return True
    spec = fmt.get("json_schema") if isinstance(fmt.get("json_schema"), dict) else fmt
    return _schema_ok(spec.get("schema"), bool(spec.get("strict")))


@schemathesis.hook
def filter_case(ctx, case) -> bool:
    """Applied in every phase (a body filter is not run by the coverage phase). A body too
    malformed for the rules to apply is schema-invalid anyway, and kept."""
    try:
        return _within_rules(case.body)
    except (TypeError, AttributeError):
        return True


def _within_rules(body) -> bool:
    if not isinstance(body, dict):
        return True
    tools = _tools(body)
    names = [t.get("name") for t in tools]
    choice = _choice_name(body.get("tool_choice"))
    if choice not in (None, "auto", "none") and (not tools or (choice != "required" and choice not in names)):
        return False
    if isinstance(body.get("tool_choice"), dict) and choice in ("auto", "none", "required"):
        return False
    if len(set(map(str, names))) != len(names):
        return False
    if not all(_schema_ok(t.get("parameters"), bool(t.get("strict"))) for t in tools):
        return False
    return _format_ok(body.get("response_format")) and _conversation_ok(body.get("messages"))
