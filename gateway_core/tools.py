"""Tools, tool calls and structured-output formats: the value types and their checks.

A ``Tool`` is a function the model may call, described by a JSON Schema for its
arguments; a ``ToolCall`` is one call the model made (``arguments`` is the JSON text the
model produced, parsed with ``ToolCall.args()``); a ``ToolCallDelta`` is a piece of one
while streaming. A ``ResponseFormat`` asks for the answer itself as JSON: any object
(``json_object``) or one matching a schema (``json_schema``, optionally ``strict``). The
checks here are the provider-independent rules both services enforce (names, a schema that
is valid JSON Schema with an object at its root, a tool choice naming a declared tool),
so a request that breaks one is refused before anything is sent, naming the field.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ValidationError

TOOL_CHOICE_MODES = ("auto", "none", "required")
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
MAX_TOOLS = 128
NAME_PATTERN = "^[a-zA-Z0-9_-]{1,64}$"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Tool:
    name: str
    parameters: Mapping  # JSON Schema of the arguments; an object at the root
    description: str = ""
    strict: bool = False


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model produced it

    def args(self):
        """The arguments parsed; ``ValueError`` when the model produced invalid JSON."""
        return json.loads(self.arguments)


@dataclass(frozen=True)
class ToolCallDelta:
    """A streamed piece of tool call ``index``: the first piece carries ``id`` and ``name``,
    later pieces extend ``arguments``."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class ResponseFormat:
    type: str = "text"  # text | json_object | json_schema
    schema: Mapping | None = None  # json_schema only
    name: str = "response"
    strict: bool = False

    @property
    def is_json(self) -> bool:
        return self.type != "text"


@functools.lru_cache(maxsize=512)
def _schema_problem(text: str) -> str | None:
    # Cached by the schema's JSON text: agent loops send the same tools on every turn.
    from jsonschema import SchemaError
    from jsonschema.validators import validator_for

    schema = json.loads(text)
    try:
        validator_for(schema).check_schema(schema)
    except SchemaError as e:
        where = "/".join(str(p) for p in e.absolute_path)
        return f"is not a valid JSON Schema ({e.message[:120]}{' at ' + where if where else ''})"
    return None


def check_schema(field: str, schema: object) -> None:
    """A JSON Schema with an object at its root (what both services accept for arguments)."""
    if not isinstance(schema, Mapping):
        raise ValidationError(field, "must be a JSON Schema object")
    if schema.get("type") != "object":
        raise ValidationError(field, 'must describe an object at its root ("type": "object")')
    try:
        text = json.dumps(schema, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise ValidationError(field, "must be plain JSON") from None
    problem = _schema_problem(text)
    if problem:
        raise ValidationError(field, problem)


def check_strict(field: str, schema: Mapping, path: str = "") -> None:
    """Strict mode's rules, which both services' strict modes share: every object closed
    (``additionalProperties: false``) and every property listed in ``required``."""
    if not isinstance(schema, Mapping):
        return
    here = field + path
    if schema.get("type") == "object" or "properties" in schema:
        if schema.get("additionalProperties") is not False:
            raise ValidationError(here, 'is strict, so every object needs "additionalProperties": false')
        props = schema.get("properties") or {}
        missing = [k for k in props if k not in (schema.get("required") or [])]
        if missing:
            raise ValidationError(here, f"is strict, so every property must be required (missing {missing[0]!r})"[:160])
        for k, sub in props.items():
            check_strict(field, sub, f"{path}.properties.{k}")
    if isinstance(schema.get("items"), Mapping):
        check_strict(field, schema["items"], f"{path}.items")
    for key in ("$defs", "definitions"):
        for k, sub in (schema.get(key) or {}).items():
            check_strict(field, sub, f"{path}.{key}.{k}")
    for j, sub in enumerate(schema.get("anyOf") or []):
        check_strict(field, sub, f"{path}.anyOf[{j}]")


def check_name(field: str, name: object) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValidationError(field, "must be 1-64 letters, digits, underscores or hyphens")


def check_tools(tools: object) -> None:
    if not isinstance(tools, tuple) or not tools:
        raise ValidationError("tools", "must be a non-empty list of tools")
    if len(tools) > MAX_TOOLS:
        raise ValidationError("tools", f"at most {MAX_TOOLS} tools")
    seen = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, Tool):
            raise ValidationError(f"tools[{i}]", "must be a Tool")
        check_name(f"tools[{i}].name", tool.name)
        if tool.name in seen:
            raise ValidationError(f"tools[{i}].name", f"{tool.name} is declared twice")
        seen.add(tool.name)
        if not isinstance(tool.description, str):
            raise ValidationError(f"tools[{i}].description", "must be a string")
        if not isinstance(tool.strict, bool):
            raise ValidationError(f"tools[{i}].strict", "must be true or false")
        check_schema(f"tools[{i}].parameters", tool.parameters)
        if tool.strict:
            check_strict(f"tools[{i}].parameters", tool.parameters)


def check_tool_choice(choice: object, tools: Sequence[Tool] | None) -> None:
    """``auto``, ``none``, ``required`` or the name of a declared tool."""
    if choice is None or choice in ("auto", "none"):
        return
    if not isinstance(choice, str):
        raise ValidationError("tool_choice", "must be auto, none, required or a tool name")
    if not tools:
        raise ValidationError("tool_choice", f"{choice!r} needs tools to choose from"[:120])
    if choice != "required" and choice not in {t.name for t in tools}:
        raise ValidationError("tool_choice", "names no declared tool")


def check_response_format(fmt: object) -> None:
    if not isinstance(fmt, ResponseFormat):
        raise ValidationError("response_format", "must be a ResponseFormat")
    if fmt.type not in RESPONSE_FORMATS:
        raise ValidationError("response_format.type", f"must be one of {', '.join(RESPONSE_FORMATS)}")
    if not isinstance(fmt.strict, bool):
        raise ValidationError("response_format.strict", "must be true or false")
    if fmt.type == "json_schema":
        check_name("response_format.name", fmt.name)
        check_schema("response_format.schema", fmt.schema)
        if fmt.strict:
            check_strict("response_format.schema", fmt.schema)
    elif fmt.schema is not None:
        raise ValidationError("response_format.schema", "is only for type json_schema")
