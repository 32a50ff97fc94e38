"""Values generated from a JSON Schema, for the emulators' tool-call arguments and JSON answers.

``value_for(schema, context)`` returns a value that validates against ``schema`` for the
schemas models are given in practice: objects with properties and ``required``, arrays
(``items``, ``prefixItems``, length bounds, ``uniqueItems``), strings (length bounds,
``format``, ``pattern``), numbers (bounds, ``multipleOf``), ``enum``/``const``,
``anyOf``/``oneOf``/``allOf``, type lists and local ``$ref`` (``$defs``/``definitions``, as
pydantic writes them). Like a model, it fills the values from the conversation: a
capitalised word for a name-like string, the numbers of the prompt for numbers, an enum
option the prompt mentions. The same schema and text always give the same value.
"""

from __future__ import annotations

import re
import re._parser as _sre  # the stdlib's own regex parser, to build a string a pattern accepts
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 12
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NAMEY = ("name", "city", "location", "country", "place", "person", "author", "title", "company", "user", "who")
# Capitalised because they open a sentence or an instruction, not because they name anything.
_NOT_NAMES = frozenset(
    "answer describe tell give list name return respond reply write explain summarise summarize classify extract "
    "rewrite use call find show get please hello hi thanks".split()
)
_JSON_OBJECT = re.compile(r"\{.*\}", re.S)
_STOP = frozenset("the a an is are was what which who how why when where please give me tell in on of for to and or with".split())
_FORMATS = {
    "date": "2024-06-01",
    "date-time": "2024-06-01T12:00:00Z",
    "time": "12:00:00Z",
    "email": "someone@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "hostname": "example.com",
    "duration": "P1D",
}


@dataclass
class Context:
    """What the values are drawn from: the conversation's words and numbers, and the root
    schema (for ``$ref``)."""

    text: str = ""
    root: Any = None
    names: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    used: dict = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, root=None) -> Context:
        prose = _JSON_OBJECT.sub(" ", text)  # a schema or example written in the prompt is not content
        words = [w for w in _WORD.findall(prose) if w.lower() not in _STOP]
        names = [w for w in words if w[0].isupper() and not w.isupper() and w.lower() not in _NOT_NAMES]
        names = names or [w.capitalize() for w in words]
        return cls(text, root, names, words, [float(n) for n in _NUMBER.findall(prose)])

    def take(self, kind: str, pool: list):
        """The next unused item of ``pool`` (cycling), so two fields differ when they can."""
        if not pool:
            return None
        i = self.used.get(kind, 0)
        self.used[kind] = i + 1
        return pool[i % len(pool)]


def value_for(schema, ctx: Context | None = None, key: str = "", depth: int = 0):
    ctx = ctx or Context()
    if ctx.root is None:
        ctx.root = schema
    if schema is True or not isinstance(schema, dict):
        return _string({}, ctx, key)
    schema = _resolve(schema, ctx)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return _enum(schema["enum"], ctx)
    if "allOf" in schema and isinstance(schema["allOf"], list):
        return value_for(_merge(schema, ctx), ctx, key, depth + 1)
    for combo in ("anyOf", "oneOf"):
        if isinstance(schema.get(combo), list) and schema[combo]:
            branches = [_resolve(b, ctx) if isinstance(b, dict) else b for b in schema[combo]]
            pick = next((b for b in branches if not (isinstance(b, dict) and b.get("type") == "null")), branches[0])
            rest = {k: v for k, v in schema.items() if k != combo}
            return value_for({**rest, **pick} if isinstance(pick, dict) else pick, ctx, key, depth + 1)
    kind = _type(schema)
    if depth >= MAX_DEPTH:
        return _smallest(kind)
    if kind == "object":
        return _object(schema, ctx, depth)
    if kind == "array":
        return _array(schema, ctx, key, depth)
    if kind in ("integer", "number"):
        return _number(schema, ctx, kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string(schema, ctx, key)


def _resolve(schema: dict, ctx: Context, hops: int = 0) -> dict:
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#") or hops > 20:
        return schema
    target = ctx.root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        target = target.get(part) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        return {k: v for k, v in schema.items() if k != "$ref"}
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return _resolve(merged, ctx, hops + 1)


def _merge(schema: dict, ctx: Context) -> dict:
    out = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        part = _resolve(part, ctx) if isinstance(part, dict) else {}
        for k, v in part.items():
            if k == "properties":
                out["properties"] = {**out.get("properties", {}), **v}
            elif k == "required":
                out["required"] = list(dict.fromkeys([*out.get("required", []), *v]))
            else:
                out.setdefault(k, v)
    return out


def _type(schema: dict) -> str:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), t[0] if t else None)
    if isinstance(t, str):
        return t
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    return "string"


def _smallest(kind: str):
    return {"object": {}, "array": [], "integer": 0, "number": 0, "boolean": False, "null": None}.get(kind, "")


def _enum(options: list, ctx: Context):
    text = ctx.text.lower()
    mentioned = [o for o in options if isinstance(o, str) and o and o.lower() in text]
    return mentioned[0] if mentioned else options[0]


def _object(schema: dict, ctx: Context, depth: int) -> dict:
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = [r for r in schema.get("required") or [] if isinstance(r, str)]
    out = {}
    for name in [*props, *(r for r in required if r not in props)]:
        out[name] = value_for(props.get(name, {}), ctx, name, depth + 1)
    return out


def _array(schema: dict, ctx: Context, key: str, depth: int) -> list:
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    items = schema.get("items", {})
    lo = int(schema.get("minItems") or 0)
    hi = schema.get("maxItems")
    n = max(lo, len(prefix), 1 if hi is None or hi >= 1 else 0)
    if isinstance(hi, int):
        n = min(n, hi)
    out = []
    for i in range(n):
        sub = prefix[i] if i < len(prefix) else (items if isinstance(items, dict) else {})
        value = value_for(sub, ctx, key, depth + 1)
        if schema.get("uniqueItems") and value in out:
            value = value_for(sub, ctx, f"{key}{i}", depth + 1)
        out.append(value)
    return out


def _number(schema: dict, ctx: Context, integer: bool):
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    if isinstance(schema.get("exclusiveMinimum"), (int, float)):
        lo = max(lo, schema["exclusiveMinimum"] + 1) if lo is not None else schema["exclusiveMinimum"] + 1
    if isinstance(schema.get("exclusiveMaximum"), (int, float)):
        hi = min(hi, schema["exclusiveMaximum"] - 1) if hi is not None else schema["exclusiveMaximum"] - 1
    value = ctx.take("number", ctx.numbers)
    value = 1 if value is None else value
    if lo is not None and value < lo:
        value = lo
    if hi is not None and value > hi:
        value = hi
    step = schema.get("multipleOf")
    if isinstance(step, (int, float)) and step > 0:
        value = round(value / step) * step
        if lo is not None and value < lo:
            value += step
    return int(value) if integer else value


def _string(schema: dict, ctx: Context, key: str) -> str:
    fmt = schema.get("format")
    if fmt in _FORMATS:
        return _FORMATS[fmt]
    if isinstance(schema.get("pattern"), str):
        made = from_pattern(schema["pattern"])
        if made is not None:
            return made
    lowered = key.lower()
    if "date" in lowered and "update" not in lowered:
        value = _FORMATS["date"]
    elif any(k in lowered for k in _NAMEY):
        value = ctx.take("name", ctx.names) or key.capitalize() or "Example"
    else:
        phrase = [w for w in ctx.words if len(w) > 3][:4]
        value = " ".join(phrase) if phrase else (key.replace("_", " ") or "example")
    lo, hi = int(schema.get("minLength") or 0), schema.get("maxLength")
    if len(value) < lo:
        value = value + "x" * (lo - len(value))
    if isinstance(hi, int) and len(value) > hi:
        value = value[:hi]
    return value


def from_pattern(pattern: str) -> str | None:
    """A short string ``re.search`` finds ``pattern`` in, or None when the pattern is beyond
    this small generator (lookarounds, backreferences)."""
    try:
        made = _emit(_sre.parse(pattern))
    except (re.error, _Unsupported, RecursionError, ValueError):
        return None
    return made if re.search(pattern, made) else None


class _Unsupported(Exception):
    pass


def _emit(parsed) -> str:
    out = []
    for op, arg in parsed:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_class_member(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            lo, _, sub = arg
            out.append(_emit(sub) * max(lo, 1 if lo == 0 and name != "MIN_REPEAT" else lo))
        elif name == "SUBPATTERN":
            out.append(_emit(arg[-1]))
        elif name == "BRANCH":
            out.append(_emit(arg[1][0]))
        elif name in ("AT",):
            continue
        else:
            raise _Unsupported(name)
    return "".join(out)


def _in_class(c: str, op, arg) -> bool:
    name = str(op)
    if name == "LITERAL":
        return c == chr(arg)
    if name == "RANGE":
        return arg[0] <= ord(c) <= arg[1]
    if name == "CATEGORY":
        kind = str(arg)
        hit = c.isdigit() if "DIGIT" in kind else c.isspace() if "SPACE" in kind else c.isalnum() or c == "_"
        return hit != ("NOT_" in kind)
    return False


def _class_member(items) -> str:
    negated = bool(items) and str(items[0][0]) == "NEGATE"
    members = items[1:] if negated else items
    for c in "a0_- Z.":
        if any(_in_class(c, op, arg) for op, arg in members) != negated:
            return c
    raise _Unsupported("class")
