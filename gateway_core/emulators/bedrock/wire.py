"""Bedrock runtime wire format as pure functions: Converse and InvokeModel (Anthropic
messages) request validation, the answer and its usage, and error codes (docs/wire.md).

Validation mirrors what the real service rejects with ``ValidationException``: temperature
and topP outside 0-1, maxTokens below 1 or above the model's cap, a conversation that does
not start with ``user`` or whose roles do not alternate, and blank text blocks.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field

from .. import text, tokens, tooluse
from ..tokens import Turn
from .models import BedrockModel

ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

# status -> (error code, message) for injected faults; 400s are chosen by fault code.
FAULT_ERRORS = {
    408: ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    429: ("ThrottlingException", "Too many requests, please wait before trying again."),
    500: ("InternalServerException", "The system encountered an unexpected error during processing. Try your request again."),
    503: ("ServiceUnavailableException", "Bedrock is unable to process your request."),
}
FAULT_400 = {
    "content_filter": "The request was blocked by the content filtering policy. Modify the input and try again.",
    "context_length_exceeded": "Input is too long for requested model.",
}
# In-stream exception member names (lowerCamel) by fault status.
STREAM_EXCEPTIONS = {
    429: "throttlingException",
    503: "serviceUnavailableException",
    500: "internalServerException",
    400: "validationException",
}


class Invalid(Exception):
    """A 400 ValidationException."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ChatRequest:
    system: list[str]
    turns: list[Turn]
    cap: int
    stops: list[str]


@dataclass(frozen=True)
class Answer:
    text: str
    stop_reason: str  # Converse spelling: end_turn | max_tokens | stop_sequence
    input_tokens: int
    output_tokens: int
    tool_calls: list = field(default_factory=list)  # (toolUseId, tooluse.PlannedCall)


def _constraint(path: str, value, bound: str) -> Invalid:
    return Invalid(
        f"1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must have value {bound}"
    )


def _check_range(path: str, value, lo: float, hi: float, malformed: bool) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(f"Malformed input request: #/{path}: expected type: Number, please reformat your input and try again.")
    if value < lo or value > hi:
        if malformed:
            word = "less" if value > hi else "greater"
            raise Invalid(
                f"Malformed input request: #/{path}: {value} is not {word} or equal to {hi if value > hi else lo}, please reformat your input and try again."
            )
        raise _constraint(path, value, f"less than or equal to {hi:g}" if value > hi else f"greater than or equal to {lo:g}")


def _check_cap(path: str, value, row: BedrockModel) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"Malformed input request: #/{path}: expected type: Integer, please reformat your input and try again.")
    if value < 1:
        raise _constraint(path, value, "greater than or equal to 1")
    if value > row.max_output:
        raise Invalid(
            f"The maximum tokens you requested exceeds the model limit of {row.max_output}. Try again with a maximum tokens value that is lower than {row.max_output}."
        )
    return value


def _check_roles(roles: list[str]) -> None:
    if not roles or roles[0] != "user":
        raise Invalid(
            "A conversation must start with a user message. Try again with a conversation that starts with a user message."
        )
    for prev, cur in zip(roles, roles[1:]):
        if prev == cur:
            raise Invalid(
                "A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again."
            )


def _converse_text(content, i: int) -> str:
    if not isinstance(content, list) or not content:
        raise Invalid(
            f"The content field in the Message object at messages.{i} is empty. Add a ContentBlock object to the content field and try again."
        )
    texts = []
    for j, block in enumerate(content):
        if not isinstance(block, dict):
            raise Invalid(f"The ContentBlock object at messages.{i}.content.{j} is malformed.")
        if "text" in block:
            if not isinstance(block["text"], str) or not block["text"].strip():
                raise Invalid(
                    f"The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to the text field, and try again."
                )
            texts.append(block["text"])
        elif "toolResult" in block:
            texts += [
                c["text"]
                for c in block["toolResult"].get("content", [])
                if isinstance(c, dict) and isinstance(c.get("text"), str)
            ]
    return "\n".join(texts)


def parse_converse(body: object, row: BedrockModel) -> ChatRequest:
    if not isinstance(body, dict):
        raise Invalid("Malformed input request: the request body must be a JSON object.")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise Invalid(
            "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null"
        )
    turns: list[Turn] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise Invalid(
                f"1 validation error detected: Value at 'messages.{i + 1}.member.role' failed to satisfy constraint: Member must satisfy enum value set: [user, assistant]"
            )
        turns.append((m["role"], _converse_text(m.get("content"), i), None))
    _check_roles([t[0] for t in turns])
    system = []
    for j, block in enumerate(body.get("system") or []):
        if isinstance(block, dict) and "text" in block:
            if not isinstance(block["text"], str) or not block["text"].strip():
                raise Invalid(
                    f"The text field in the SystemContentBlock object at system.{j} is blank. Add text to the text field, and try again."
                )
            system.append(block["text"])
    cfg = body.get("inferenceConfig") or {}
    _check_range("inferenceConfig.temperature", cfg.get("temperature"), 0, 1, False)
    _check_range("inferenceConfig.topP", cfg.get("topP"), 0, 1, False)
    cap = _check_cap("inferenceConfig.maxTokens", cfg["maxTokens"], row) if "maxTokens" in cfg else min(row.max_output, 4_096)
    return ChatRequest(system, turns, cap, [s for s in cfg.get("stopSequences") or [] if isinstance(s, str)])


def _anthropic_text(content, i: int) -> str:
    if isinstance(content, str):
        blocks = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        blocks = content
    else:
        raise Invalid(f"messages.{i}.content: Input should be a valid list")
    texts = []
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "text":
            if not isinstance(block.get("text"), str) or not block["text"].strip():
                raise Invalid("messages: text content blocks must be non-empty")
            texts.append(block["text"])
    return "\n".join(texts)


def parse_invoke(body: object, row: BedrockModel) -> ChatRequest:
    if not isinstance(body, dict):
        raise Invalid("Malformed input request: expected a JSON object, please reformat your input and try again.")
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise Invalid(
                f"Malformed input request: #: required key [{key}] not found, please reformat your input and try again."
            )
    if not isinstance(body["messages"], list):
        raise Invalid("Malformed input request: #/messages: expected type: JSONArray, please reformat your input and try again.")
    turns: list[Turn] = []
    for i, m in enumerate(body["messages"]):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        turns.append((m["role"], _anthropic_text(m.get("content"), i), None))
    _check_roles([t[0] for t in turns])
    system = body.get("system") or []
    system_texts = [system] if isinstance(system, str) else [b.get("text", "") for b in system if isinstance(b, dict)]
    _check_range("temperature", body.get("temperature"), 0, 1, True)
    _check_range("top_p", body.get("top_p"), 0, 1, True)
    cap = _check_cap("max_tokens", body["max_tokens"], row)
    stops = [s for s in body.get("stop_sequences") or [] if isinstance(s, str)]
    return ChatRequest([s for s in system_texts if s], turns, cap, stops)


def answer(row: BedrockModel, req: ChatRequest, spec=None) -> Answer:
    """The deterministic answer with Claude-like usage, after stop sequences and the cap.
    With tools (``spec``, a ``tools.ToolSpec``) the answer may be tool uses instead."""
    turns = [(r, t) for r, t, _ in req.turns]
    full = text.generate("bedrock", row.model_id, "\n".join(req.system), turns)
    input_tokens = tokens.claude_prompt_tokens(req.system, req.turns)
    if spec is not None and spec.tools:
        input_tokens += tokens.claude_text_tokens(tooluse.definitions_text(spec.tools))
    if input_tokens > row.context_window:
        raise Invalid("Input is too long for requested model.")
    if spec is not None:
        calls = tooluse.plan_calls(
            spec.tools, spec.choice, turns, after_results=spec.after_results, called=spec.called, plain=full
        )
        if calls:
            return _tool_answer(calls, spec.choice, input_tokens)
        full = tooluse.shaped_text(full, results=spec.results, json_wanted=False, schema=None, turns=turns)
    out, stopped = text.apply_stop(full, req.stops)
    output = tokens.claude_text_tokens(out)
    if output > req.cap:
        return Answer(tokens.claude_truncate(out, req.cap), "max_tokens", input_tokens, req.cap)
    return Answer(out, "stop_sequence" if stopped else "end_turn", input_tokens, output)


def use_id() -> str:
    return "tooluse_" + uuid.uuid4().hex[:22]


def _tool_answer(calls, choice: str, input_tokens: int) -> Answer:
    # Claude says what it is about to do before a tool it chose itself; a forced tool use
    # ("any" or a named tool) comes without a preamble.
    preamble = f"I'll use the {calls[0].name} tool to help with that." if choice == "auto" else ""
    uses = [(use_id(), c) for c in calls]
    output = tokens.claude_text_tokens(preamble + "".join(c.json() for c in calls)) + 8 * len(calls)
    return Answer(preamble, "tool_use", input_tokens, output, uses)


def converse_usage(a: Answer) -> dict:
    return {
        "inputTokens": a.input_tokens,
        "outputTokens": a.output_tokens,
        "totalTokens": a.input_tokens + a.output_tokens,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


def converse_body(a: Answer, latency_ms: int) -> dict:
    content = [{"text": a.text}] if a.text or not a.tool_calls else []
    content += [{"toolUse": {"toolUseId": uid, "name": c.name, "input": c.arguments}} for uid, c in a.tool_calls]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": a.stop_reason,
        "usage": converse_usage(a),
        "metrics": {"latencyMs": latency_ms},
    }


def invoke_body(row: BedrockModel, a: Answer, msg_id: str) -> dict:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": row.short_name,
        "content": [{"type": "text", "text": a.text}],
        "stop_reason": a.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def count_input(body: object, row: BedrockModel) -> int:
    """CountTokens: the input tokens of a Converse-shaped or InvokeModel-shaped request."""
    inp = body.get("input") if isinstance(body, dict) else None
    if isinstance(inp, dict) and isinstance(inp.get("converse"), dict):
        req = parse_converse(dict(inp["converse"], inferenceConfig={"maxTokens": 1}), row)
    elif isinstance(inp, dict) and isinstance(inp.get("invokeModel"), dict):
        try:
            inner = json.loads(base64.b64decode(inp["invokeModel"].get("body") or ""))
        except (ValueError, TypeError):
            raise Invalid("Malformed input request: the invokeModel body is not valid JSON.") from None
        req = parse_invoke(inner, row)
    else:
        raise Invalid("1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null")
    return tokens.claude_prompt_tokens(req.system, req.turns)


def stream_pieces(a: Answer) -> list[str]:
    return text.chunks(a.text, "bedrock")
