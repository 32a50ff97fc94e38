"""Tool use on the Bedrock Converse wire: ``toolConfig`` and ``toolUse`` / ``toolResult``
blocks validated with the service's own wording, and the answer's ``toolUse`` blocks, whole
and as stream events (``contentBlockStart`` with the id and name, then
``contentBlockDelta.delta.toolUse.input`` pieces of JSON text, then ``contentBlockStop``).

What Converse refuses (``ValidationException``): tool blocks without a ``toolConfig``; a
``toolResult`` that answers no ``toolUse`` of the turn before it, or a turn that leaves
some unanswered; an error result with no content; a tool spec whose name or input schema
breaks the rules; a ``toolChoice`` naming no declared tool.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..tooluse import ToolDef
from . import eventstream
from .wire import Invalid

_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class ToolSpec:
    tools: list[ToolDef] = field(default_factory=list)
    choice: str = "none"  # auto | required (any) | a name | none (no toolConfig)
    results: list[tuple[str, str]] = field(default_factory=list)  # (tool name, result) after the last user text
    called: set[str] = field(default_factory=set)

    @property
    def after_results(self) -> bool:
        return bool(self.results)


def _spec(i: int, raw) -> ToolDef:
    spec = raw.get("toolSpec") if isinstance(raw, dict) else None
    if not isinstance(spec, dict):
        raise Invalid(
            f"1 validation error detected: Value at 'toolConfig.tools.{i + 1}.member' failed to satisfy constraint: Member must have a toolSpec"
        )
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid(
            f"1 validation error detected: Value '{name}' at 'toolConfig.tools.{i + 1}.member.toolSpec.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_-]+"
        )
    schema = (spec.get("inputSchema") or {}).get("json")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise Invalid(
            f"The value at toolConfig.tools.{i}.toolSpec.inputSchema.json.type must be object. Update the input schema and try again."
        )
    return ToolDef(name, spec.get("description") or "", schema)


def _choice(raw, names: set[str]) -> str:
    if raw is None or "auto" in raw:
        return "auto"
    if "any" in raw:
        return "required"
    name = (raw.get("tool") or {}).get("name")
    if name not in names:
        raise Invalid(
            f"The tool {name} specified in toolChoice isn't defined in toolConfig.tools. Define the tool and try again."
        )
    return name


def _turn_blocks(content) -> tuple[list[dict], list[dict]]:
    blocks = content if isinstance(content, list) else []
    uses = [b["toolUse"] for b in blocks if isinstance(b, dict) and isinstance(b.get("toolUse"), dict)]
    results = [b["toolResult"] for b in blocks if isinstance(b, dict) and isinstance(b.get("toolResult"), dict)]
    return uses, results


def _check_results(i: int, results: list[dict], expected: dict[str, str]) -> list[tuple[str, str]]:
    if len(results) > len(expected):
        raise Invalid(
            f"The number of toolResult blocks at messages.{i}.content exceeds the number of toolUse blocks of previous turn."
        )
    answered = []
    for j, r in enumerate(results):
        content = r.get("content") or []
        if r.get("status") == "error" and not content:
            raise Invalid(f"The content field at messages.{i}.content.{j}.toolResult cannot be empty when status value is error.")
        texts = [c.get("text") if "text" in c else json.dumps(c.get("json")) for c in content if isinstance(c, dict)]
        answered.append((r.get("toolUseId"), "\n".join(t for t in texts if t)))
    missing = [uid for uid in expected if uid not in {a[0] for a in answered}]
    if missing:
        raise Invalid(f"Expected toolResult blocks at messages.{i}.content for the following Ids: {', '.join(missing)}")
    return [(expected[uid], text) for uid, text in answered]


def parse(body: dict) -> ToolSpec:
    """The tool options and tool history of a Converse request, validated as Bedrock does."""
    config = body.get("toolConfig")
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    spec = ToolSpec()
    if isinstance(config, dict):
        spec.tools = [_spec(i, t) for i, t in enumerate(config.get("tools") or [])]
        spec.choice = _choice(config.get("toolChoice"), {t.name for t in spec.tools})
    expected: dict[str, str] = {}
    for i, m in enumerate(messages):
        uses, results = _turn_blocks(m.get("content"))
        if (uses or results) and not isinstance(config, dict):
            raise Invalid("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
        if m.get("role") == "user":
            if expected or results:
                spec.results = _check_results(i, results, expected)
            if any("text" in b for b in m.get("content") or [] if isinstance(b, dict)) and not results:
                spec.results = []
            expected = {}
        else:
            expected = {u.get("toolUseId"): u.get("name", "") for u in uses}
            spec.called |= set(expected.values())
    return spec


def stream_steps(calls, first_index: int, pieces, pad) -> list[bytes]:
    """The frames that stream ``calls`` after the text block(s): start, input pieces, stop."""
    out = []
    for k, (uid, c) in enumerate(calls):
        index = first_index + k
        start = {"contentBlockIndex": index, "start": {"toolUse": {"toolUseId": uid, "name": c.name}}, "p": pad(index)}
        out.append(eventstream.event("contentBlockStart", start))
        for piece in pieces(c.json()):
            delta = {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}, "p": pad(len(piece))}
            out.append(eventstream.event("contentBlockDelta", delta))
        out.append(eventstream.event("contentBlockStop", {"contentBlockIndex": index, "p": pad(index + 1)}))
    return out
