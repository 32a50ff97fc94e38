"""What an emulated model does with tools and JSON formats: the decisions both emulators
share, on plain values (each wire module turns its protocol into these and back).

- ``plan_calls`` decides whether the answer is tool calls and which: ``none`` never calls;
  ``auto`` calls the tools the latest user turn is about (words in common with the tool's
  name and description), and answers in text once tool results have come back, so an
  agent loop ends; ``required`` (Bedrock ``any``) always calls, preferring a tool not
  called yet in the conversation and, when none is relevant, the last declared; a named tool is called. Several relevant tools are
  called in parallel unless that is switched off. Arguments come from the tool's JSON
  Schema (``schema_values``), filled from the conversation.
- ``json_text`` is a JSON answer: one matching the requested schema, or, for a free
  object, the shape the prompt asks for (a JSON Schema or an example object written in
  the prompt), else ``{"answer": ...}`` around the plain answer.
- ``after_tools`` prefixes a text answer with what the tools returned.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .schema_values import Context, value_for

_WORDS = re.compile(r"[a-z0-9]+")
_SMALL = frozenset(
    "a an and are as at be by do for from get give how i in is it me of on or please set the to what when where which who with you your".split()
)


@dataclass(frozen=True)
class ToolDef:
    name: str
    description: str
    schema: dict


@dataclass(frozen=True)
class PlannedCall:
    name: str
    arguments: dict

    def json(self) -> str:
        return json.dumps(self.arguments, ensure_ascii=False)


def _terms(text: str) -> set[str]:
    terms = set()
    for w in _WORDS.findall(text.lower().replace("_", " ")):
        if w not in _SMALL and len(w) > 2:
            terms.add(w.rstrip("s") if len(w) > 4 else w)
    return terms


def relevance(tool: ToolDef, text: str) -> int:
    return len(_terms(f"{tool.name} {tool.description}") & _terms(text))


def plan_calls(
    tools: list[ToolDef],
    choice: str,
    turns,
    *,
    after_results: bool,
    called: set[str] = frozenset(),
    parallel: bool = True,
    plain: str = "",
) -> list[PlannedCall]:
    """The calls to make, or [] for a text answer. ``choice``: auto | none | required | a
    name; ``turns`` the conversation as (role, text); ``plain`` the text answer a free-form
    object argument falls back to."""
    user_text = last_user(turns)
    if not tools or choice == "none":
        return []
    by_name = {t.name: t for t in tools}
    if choice in by_name:
        picked = [by_name[choice]]
    elif choice == "required":
        # Prefer a tool not called yet; with nothing relevant, the last declared (where a
        # JSON-answer tool sits beside the caller's tools).
        fresh = [t for t in tools if t.name not in called] or tools
        best = max(relevance(t, user_text) for t in fresh)
        picked = [next(t for t in fresh if relevance(t, user_text) == best) if best else fresh[-1]]
    else:
        if after_results:
            return []
        scored = [(relevance(t, user_text), t) for t in tools]
        picked = [t for score, t in scored if score > 0]
        if not picked:
            return []
        picked.sort(key=lambda t: -relevance(t, user_text))
        if not parallel:
            picked = picked[:1]
    return [PlannedCall(t.name, _arguments(t.schema, turns, user_text, plain)) for t in picked]


def _arguments(schema: dict, turns, user_text: str, plain: str) -> dict:
    if "properties" not in schema and not any(k in schema for k in ("$ref", "anyOf", "oneOf", "allOf")):
        # A free-form object (as a JSON answer through a tool is): shaped as the prompt asks.
        return json.loads(json_text(None, "\n".join(t for _, t in turns), user_text, plain))
    return value_for(schema, Context.of(user_text, schema))


def _schema_in(text: str):
    """The first JSON object written in ``text`` (a schema or an example), if any."""
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch != "{":
            continue
        try:
            value, _ = decoder.raw_decode(text[i:])
        except ValueError:
            continue
        if isinstance(value, dict) and value:
            return value
    return None


def _example_to_schema(example) -> dict:
    if isinstance(example, dict):
        return {"type": "object", "properties": {k: _example_to_schema(v) for k, v in example.items()}, "required": list(example)}
    if isinstance(example, list):
        return {"type": "array", "items": _example_to_schema(example[0]) if example else {}}
    if isinstance(example, bool):
        return {"type": "boolean"}
    if isinstance(example, (int, float)):
        return {"type": "integer" if isinstance(example, int) else "number"}
    return {"type": "string"}


def json_text(schema: dict | None, conversation: str, user_text: str, plain_answer: str) -> str:
    """A JSON answer for ``schema`` (None or a property-less object: any object)."""
    if schema and (schema.get("properties") or schema.get("$ref") or schema.get("anyOf") or schema.get("allOf")):
        return json.dumps(value_for(schema, Context.of(user_text, schema)), ensure_ascii=False)
    written = _schema_in(conversation)
    if written is not None:
        is_schema = written.get("type") == "object" or "properties" in written
        target = written if is_schema else _example_to_schema(written)
        return json.dumps(value_for(target, Context.of(user_text, target)), ensure_ascii=False)
    return json.dumps({"answer": plain_answer}, ensure_ascii=False)


def after_tools(results: list[tuple[str, str]], answer: str) -> str:
    """A text answer that reports what the tools returned before the usual answer."""
    lines = [f"- {name}: {' '.join(result.split())[:200]}" for name, result in results]
    return "Here is what the tools returned:\n" + "\n".join(lines) + "\n\n" + answer


def shaped_text(plain: str, *, results: list[tuple[str, str]], json_wanted: bool, schema, turns) -> str:
    """The text answer once tools and formats are taken into account: what tools returned
    first, and the whole answer as JSON when a JSON format was asked for."""
    answer = after_tools(results, plain) if results else plain
    if not json_wanted:
        return answer
    conversation = "\n".join(t for _, t in turns)
    return json_text(schema, conversation, last_user(turns), answer)


def last_user(turns) -> str:
    return next((t for role, t in reversed(turns) if role == "user"), "")


def definitions_text(tools: list[ToolDef]) -> str:
    """The tools as the text a service counts in the prompt."""
    return json.dumps([{"name": t.name, "description": t.description, "parameters": t.schema} for t in tools])
