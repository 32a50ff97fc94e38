"""The Bedrock Converse wire format as pure functions: a ``ProviderCall`` to ``converse``
arguments, and answers (whole or streamed) back to a ``Completion``.

Converse is stricter than OpenAI chat, and ``to_wire`` bridges the gap:

- system turns move to the top-level ``system`` list; consecutive turns of one role are
  merged (Bedrock wants strict user/assistant alternation); a conversation that opens
  with an assistant turn gets a short user turn in front;
- temperature is clamped to Bedrock's 0-1 (the gateway accepts OpenAI's 0-2; clamped,
  not rescaled, so 0.7 means 0.7 on both providers); ``top_p`` and ``stop`` map to
  ``inferenceConfig.topP`` / ``stopSequences``;
- tools become ``toolConfig`` (``auto`` -> ``auto``, ``required`` -> ``any``, a name ->
  ``tool``); an assistant turn's tool calls become ``toolUse`` blocks and tool results
  ``toolResult`` blocks in a user turn. Converse has no ``none``: with it, the tool
  history is sent as text and no tools are offered;
- ``response_format`` is the usual technique: one more tool whose input schema is the
  requested schema, forced (or, beside the caller's tools under ``auto``, required among
  them), and its input returned as the message text with finish reason ``stop``;
- ``parallel_tool_calls=False`` keeps the first tool call of an answer (Converse has no
  switch for it).

Stop reasons come back in OpenAI's spelling (``end_turn`` -> ``stop``, ``tool_use`` ->
``tool_calls``), so nothing above the adapters sees a provider's vocabulary.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import BadRequest, ProviderUnavailable
from ..tools import ToolCall, ToolCallDelta
from ..types import Usage
from . import _errors
from .base import Completion, ProviderCall

NAME = "bedrock"
BEDROCK_MAX_TEMPERATURE = 1.0
# Used only when a conversation opens with an assistant turn, which Converse rejects.
OPENING_USER_TURN = "(conversation continues)"
RESPONSE_TOOL = "json_response"
RESPONSE_TOOL_DESCRIPTION = "Give the answer as JSON matching this schema. Always answer through this tool."
FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


# --- requests ------------------------------------------------------------------------


def response_tool_name(call: ProviderCall) -> str | None:
    """The name of the tool that carries a JSON answer, when one is asked for."""
    if call.response_format is None or not call.response_format.is_json:
        return None
    taken = {t.name for t in call.tools}
    name, n = RESPONSE_TOOL, 1
    while name in taken:
        name, n = f"{RESPONSE_TOOL}_{n}", n + 1
    return name


def _blocks(m, tools_as_text: bool) -> list[dict]:
    if m.role == "tool":
        if tools_as_text:
            return [{"text": f"[result of tool call {m.tool_call_id}]\n{m.content}"}]
        return [{"toolResult": {"toolUseId": m.tool_call_id, "content": [{"text": m.content}]}}]
    blocks = [{"text": m.content}] if m.content.strip() else []  # Converse rejects blank text
    for c in m.tool_calls:
        if tools_as_text:
            blocks.append({"text": f"[called tool {c.name} with {c.arguments}]"})
        else:
            blocks.append({"toolUse": {"toolUseId": c.id, "name": c.name, "input": json.loads(c.arguments)}})
    return blocks


def turns(call: ProviderCall, tools_as_text: bool = False) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    messages: list[dict] = []
    for m in call.messages:
        if m.role == "system":
            if m.content.strip():
                system.append({"text": m.content})
            continue
        role = "user" if m.role == "tool" else m.role
        blocks = _blocks(m, tools_as_text)
        if not blocks:
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})
    if messages and messages[0]["role"] != "user":
        messages.insert(0, {"role": "user", "content": [{"text": OPENING_USER_TURN}]})
    return system, messages


def _tool_spec(name: str, description: str, schema) -> dict:
    spec = {"name": name, "inputSchema": {"json": dict(schema)}}
    if description:
        spec["description"] = description
    return {"toolSpec": spec}


def tool_config(call: ProviderCall) -> dict | None:
    """``toolConfig`` for the call, or None when no tool is offered."""
    answer_tool = response_tool_name(call)
    offered = [] if call.tool_choice == "none" else list(call.tools)
    specs = [_tool_spec(t.name, t.description, t.parameters) for t in offered]
    if answer_tool and call.tool_choice != "required":
        schema = call.response_format.schema or {"type": "object"}
        specs.append(_tool_spec(answer_tool, RESPONSE_TOOL_DESCRIPTION, schema))
    if not specs:
        return None
    choice = call.tool_choice or "auto"
    if choice not in ("auto", "required", "none"):
        tool_choice = {"tool": {"name": choice}}
    elif choice == "required" or (answer_tool and offered):
        tool_choice = {"any": {}}  # a real tool, or the answer tool: never free text
    elif answer_tool:
        tool_choice = {"tool": {"name": answer_tool}}
    else:
        tool_choice = {"auto": {}}
    return {"tools": specs, "toolChoice": tool_choice}


def to_wire(call: ProviderCall) -> dict:
    """Keyword arguments for ``converse`` / ``converse_stream``."""
    system, messages = turns(call, tools_as_text=call.tool_choice == "none")
    if not messages:
        raise _errors.build(BadRequest, NAME, "the conversation has no user turn", code="no_user_turn")
    inference: dict[str, Any] = {"maxTokens": call.max_tokens}
    if call.temperature is not None:
        inference["temperature"] = min(float(call.temperature), BEDROCK_MAX_TEMPERATURE)
    if call.top_p is not None:
        inference["topP"] = float(call.top_p)
    if call.stop:
        inference["stopSequences"] = list(call.stop)
    wire: dict[str, Any] = {"modelId": call.model, "messages": messages, "inferenceConfig": inference}
    if system:
        wire["system"] = system
    config = tool_config(call)
    if config is not None:
        wire["toolConfig"] = config
    return wire


# --- answers -------------------------------------------------------------------------


def usage_from_wire(usage: dict | None) -> Usage | None:
    """Converse usage as a ``Usage``. Bedrock counts cache reads/writes apart from
    ``inputTokens``; they are folded into ``input_tokens`` so that, as on Azure,
    ``cached_input_tokens`` is the cached part of the input."""
    if not usage:
        return None
    cache_read = int(usage.get("cacheReadInputTokens") or 0)
    cache_write = int(usage.get("cacheWriteInputTokens") or 0)
    return Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + cache_read + cache_write,
        output_tokens=int(usage.get("outputTokens") or 0),
        source="provider",
        cached_input_tokens=cache_read,
    )


def request_id_of(payload: dict) -> str | None:
    return (payload.get("ResponseMetadata") or {}).get("RequestId")


def _finish(stop_reason: str | None, calls: tuple, answered: bool) -> str | None:
    if stop_reason == "tool_use" and answered and not calls:
        return "stop"  # the JSON answer arrived through its tool: the answer is complete
    return FINISH.get(stop_reason, stop_reason)


def from_wire(payload: dict, *, model: str = "", call: ProviderCall | None = None) -> Completion:
    """A ``converse`` response as a ``Completion``. Converse does not echo the model, so the
    caller passes the id it invoked (and the call, which says how to read tool use)."""
    content = ((payload.get("output") or {}).get("message") or {}).get("content") or []
    usage = usage_from_wire(payload.get("usage"))
    if usage is None:
        raise _errors.build(ProviderUnavailable, NAME, "response carried no usage", code="no_usage")
    answer_tool = response_tool_name(call) if call is not None else None
    texts, calls, answered = [], [], False
    for block in content:
        use = block.get("toolUse") if isinstance(block, dict) else None
        if use is None:
            texts.append(block.get("text", "") if isinstance(block, dict) else "")
        elif use.get("name") == answer_tool:
            texts, answered = [json.dumps(use.get("input"))], True  # the answer replaces any preamble
            break
        else:
            calls.append(ToolCall(use.get("toolUseId", ""), use.get("name", ""), json.dumps(use.get("input") or {})))
    if calls and call is not None and call.parallel_tool_calls is False:
        calls = calls[:1]
    calls_t = tuple(calls)
    return Completion(
        text="".join(texts),
        model=model,
        usage=usage,
        finish_reason=_finish(payload.get("stopReason"), calls_t, answered),
        request_id=request_id_of(payload),
        tool_calls=calls_t,
    )


class EventAccumulator:
    """Folds ConverseStream events into text deltas and tool-call pieces and, at the end,
    one ``Completion``. A tool use opens with ``contentBlockStart`` (id and name) and its
    input arrives as JSON text in ``contentBlockDelta.delta.toolUse.input`` pieces."""

    def __init__(self, model: str = "", request_id: str | None = None, call: ProviderCall | None = None):
        self.model = model
        self.request_id = request_id
        self.answer_tool = response_tool_name(call) if call is not None else None
        self.single = call is not None and call.parallel_tool_calls is False
        self.parts: list[str] = []
        self.stop_reason: str | None = None
        self.usage: Usage | None = None
        self.blocks: dict[int, list] = {}  # block index -> [call index or -1 for the answer, id, name, input pieces]
        self.answered = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _start(self, index: int, use: dict) -> list:
        if use.get("name") == self.answer_tool:
            self.answered = True
            self.blocks[index] = [-1, None, None, []]
            return []
        n = sum(1 for b in self.blocks.values() if b[0] >= 0)
        if self.single and n:
            self.blocks[index] = [None, None, None, []]  # a second call, dropped
            return []
        self.blocks[index] = [n, use.get("toolUseId"), use.get("name"), []]
        return [ToolCallDelta(n, use.get("toolUseId"), use.get("name"), "")]

    def _delta(self, index: int, delta: dict) -> list:
        text = delta.get("text")
        if text:
            self.parts.append(text)
            return [text]
        piece = (delta.get("toolUse") or {}).get("input")
        block = self.blocks.get(index)
        if not piece or block is None or block[0] is None:
            return []
        block[3].append(piece)
        if block[0] < 0:  # the JSON answer streams as text
            self.parts.append(piece)
            return [piece]
        return [ToolCallDelta(block[0], arguments=piece)]

    def feed(self, event: dict) -> list:
        """Absorb one event; return what it carried for the caller: text and tool-call pieces."""
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            use = (start.get("start") or {}).get("toolUse")
            return self._start(start.get("contentBlockIndex", 0), use) if use else []
        if "contentBlockDelta" in event:
            delta = event["contentBlockDelta"]
            return self._delta(delta.get("contentBlockIndex", 0), delta.get("delta") or {})
        if "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = usage_from_wire(event["metadata"].get("usage"))
        return []

    def finish(self) -> Completion:
        if self.stop_reason is None or self.usage is None:
            missing = "messageStop" if self.stop_reason is None else "metadata usage"
            raise _errors.build(ProviderUnavailable, NAME, f"stream ended without {missing}", code="stream_cut")
        calls = tuple(
            ToolCall(b[1] or "", b[2] or "", "".join(b[3]) or "{}")
            for _, b in sorted(self.blocks.items())
            if b[0] is not None and b[0] >= 0
        )
        text = self.text
        if self.answered:  # a preamble before the answer tool is not part of the JSON
            text = "".join(next(b[3] for b in self.blocks.values() if b[0] == -1))
        finish = _finish(self.stop_reason, calls, self.answered)
        return Completion(text, self.model, self.usage, finish, self.request_id, calls)
