"""Value types that cross the gateway's seams: requests, results, usage and attempts.

All are frozen dataclasses. ``GenerateRequest`` validates itself on construction, so a
request that exists is a request that may be sent; bad input raises
``ValidationError`` naming the field before anything touches a provider or the log.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import ValidationError
from .tools import ResponseFormat, Tool, ToolCall, check_response_format, check_tool_choice, check_tools

PRIORITIES = ("low_cost", "low_latency", "balanced")
ROLES = ("system", "user", "assistant", "tool")

# Limits are documented in the README, and these are their only definitions. The prompt
# bound keeps one request well under any model's context window and under the REST API's
# body limit.
MAX_PROMPT_CHARS = 200_000
MAX_OUTPUT_TOKENS = 16_384
MAX_TEMPERATURE = 2.0
MAX_USER_CHARS = 128
MAX_MESSAGES = 256
MAX_STOP_SEQUENCES = 4

# The text rules written as regular expressions as well, so the REST API's JSON Schema can
# state exactly what is accepted. _SPACE is every character ``str.isspace`` accepts.
_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_CONTROL = "\\x00-\\x1f\\x7f-\\x9f"
TEXT_PATTERN = f"^[^\\x00]*[^\\x00{_SPACE}][^\\x00]*$"  # not blank, no NUL
NO_NUL_PATTERN = "^[^\\x00]*$"
USER_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"  # a label: not blank, no control characters
_USER = re.compile(USER_PATTERN)


@dataclass(frozen=True)
class ChatMessage:
    """One turn. An assistant turn may carry the ``tool_calls`` it made (its text may then be
    empty); a ``tool`` turn carries one call's result and the ``tool_call_id`` it answers."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


def _check_text(field_name: str, value: object, *, allow_blank: bool = False) -> str:
    if not isinstance(value, str):
        raise ValidationError(field_name, f"must be a string, got {type(value).__name__}")
    if not allow_blank and not value.strip():
        raise ValidationError(field_name, "must not be empty or whitespace")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValidationError(field_name, f"is {len(value)} characters; the limit is {MAX_PROMPT_CHARS}")
    if "\x00" in value:
        raise ValidationError(field_name, "must not contain NUL bytes")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValidationError(field_name, "is not valid Unicode (lone surrogate)") from None
    return value


def _check_choice(field_name: str, value: object, choices: tuple[str, ...], *, optional: bool = False):
    if value is None and optional:
        return
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(field_name, f"must be one of {', '.join(choices)}; got {value!r}"[:200])


def _check_int(field_name: str, value: object, lo: int, hi: int):
    if value is None:
        return
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON has one number type: 5.0 is an integer
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field_name, f"must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ValidationError(field_name, f"must be between {lo} and {hi}; got {value}")


def _check_float(field_name: str, value: object, lo: float, hi: float):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValidationError(field_name, f"must be a number, got {type(value).__name__}")
    if math.isnan(value) or not lo <= value <= hi:
        raise ValidationError(field_name, f"must be between {lo} and {hi}; got {value}")


def _task_names():
    # The task list lives with the templates (tasks.py), the provider list with the registry;
    # both import this module, so they are looked up when a request is checked.
    from .tasks import TASKS

    return TASKS


def _provider_names():
    from .providers import PROVIDER_NAMES

    return PROVIDER_NAMES


@dataclass(frozen=True)
class GenerateRequest:
    """One generation request: a ``prompt``, or ``messages`` carrying a multi-turn chat (the
    task template is then skipped, and ``prompt`` defaults to the latest user turn).

    ``tools`` the model may call (``tool_choice``: ``auto``, ``none``, ``required`` or a
    tool's name), ``response_format`` asking for JSON, and ``stop`` sequences (up to 4)
    are honoured on every provider, or the request is refused naming the field."""

    prompt: str | None = None
    task: str = "chat"
    priority: str = "balanced"
    provider_hint: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    user: str | None = None
    fallback: bool = True
    model: str | None = None  # pin a configured model id / deployment
    messages: tuple[ChatMessage, ...] | None = None
    tools: tuple[Tool, ...] | None = None
    tool_choice: str | None = None
    response_format: ResponseFormat | None = None
    stop: tuple[str, ...] | None = None
    top_p: float | None = None
    parallel_tool_calls: bool | None = None

    def __post_init__(self):
        if self.prompt is None and isinstance(self.messages, tuple):
            last_user = next((m for m in reversed(self.messages) if getattr(m, "role", None) == "user"), None)
            if last_user is None:
                raise ValidationError("messages", "must contain at least one user message")
            object.__setattr__(self, "prompt", last_user.content)
        if self.prompt is None:
            raise ValidationError("prompt", "is required (or give messages)")
        _check_text("prompt", self.prompt)
        _check_choice("task", self.task, _task_names())
        _check_choice("priority", self.priority, PRIORITIES)
        if self.provider_hint is not None:
            _check_choice("provider_hint", self.provider_hint, _provider_names())
        _check_int("max_tokens", self.max_tokens, 1, MAX_OUTPUT_TOKENS)
        if isinstance(self.max_tokens, float):
            object.__setattr__(self, "max_tokens", int(self.max_tokens))
        _check_float("temperature", self.temperature, 0.0, MAX_TEMPERATURE)
        if self.user is not None:
            _check_text("user", self.user)
            if len(self.user) > MAX_USER_CHARS or not _USER.fullmatch(self.user):
                raise ValidationError("user", f"must have no control characters and at most {MAX_USER_CHARS} characters")
        if not isinstance(self.fallback, bool):
            raise ValidationError("fallback", "must be a boolean")
        if self.model is not None:
            _check_text("model", self.model)
        if self.messages is not None:
            _check_messages(self.messages)
        self._check_generation_options()

    def _check_generation_options(self):
        if self.tools is not None:
            check_tools(self.tools)
        check_tool_choice(self.tool_choice, self.tools)
        if self.response_format is not None:
            check_response_format(self.response_format)
        if self.stop is not None:
            if not isinstance(self.stop, tuple) or not 1 <= len(self.stop) <= MAX_STOP_SEQUENCES:
                raise ValidationError("stop", f"must be 1 to {MAX_STOP_SEQUENCES} strings")
            for i, seq in enumerate(self.stop):
                _check_text(f"stop[{i}]", seq, allow_blank=True)
                if not seq:
                    raise ValidationError(f"stop[{i}]", "must not be empty")
        _check_float("top_p", self.top_p, 0.0, 1.0)
        if self.parallel_tool_calls is not None and not isinstance(self.parallel_tool_calls, bool):
            raise ValidationError("parallel_tool_calls", "must be true or false")


def _check_message(i: int, m: object) -> None:
    if not isinstance(m, ChatMessage):
        raise ValidationError(f"messages[{i}]", "must be a message with role and content")
    _check_choice(f"messages[{i}].role", m.role, ROLES)
    if not isinstance(m.tool_calls, tuple) or (m.tool_calls and m.role != "assistant"):
        raise ValidationError(f"messages[{i}].tool_calls", "only an assistant message carries tool calls")
    # An assistant turn that only called tools has no text of its own.
    _check_text(f"messages[{i}].content", m.content, allow_blank=bool(m.tool_calls))
    for j, call in enumerate(m.tool_calls):
        where = f"messages[{i}].tool_calls[{j}]"
        if not isinstance(call, ToolCall) or not isinstance(call.id, str) or not call.id:
            raise ValidationError(where, "must be a tool call with an id")
        _check_text(f"{where}.function.name", call.name)
        try:
            args = json.loads(call.arguments) if isinstance(call.arguments, str) else None
        except ValueError:
            args = None
        if not isinstance(args, dict):
            raise ValidationError(f"{where}.function.arguments", "must be the JSON text of an object")
    if (m.role == "tool") != isinstance(m.tool_call_id, str):
        raise ValidationError(f"messages[{i}].tool_call_id", "is required on a tool message, and only there")


def _check_messages(messages) -> None:
    """Each turn, the total size, and the tool-call protocol both services enforce: a tool
    result answers a call of the assistant turn before it, and every call is answered
    before the conversation moves on."""
    if not isinstance(messages, tuple) or not messages:
        raise ValidationError("messages", "must be a non-empty list")
    if len(messages) > MAX_MESSAGES:
        raise ValidationError("messages", f"at most {MAX_MESSAGES} messages")
    total = 0
    pending: dict[str, int] = {}  # call id -> index of the assistant turn that made it
    for i, m in enumerate(messages):
        _check_message(i, m)
        total += len(m.content) + sum(len(c.arguments) for c in m.tool_calls)
        if m.role == "tool":
            if pending.pop(m.tool_call_id, None) is None:
                raise ValidationError(f"messages[{i}].tool_call_id", "answers no tool call of the assistant turn before it")
            continue
        if pending:
            raise ValidationError(
                f"messages[{min(pending.values())}].tool_calls", "every tool call needs a tool message answering it"
            )
        pending = {c.id: i for c in m.tool_calls}
    if pending:
        raise ValidationError(
            f"messages[{min(pending.values())}].tool_calls", "every tool call needs a tool message answering it"
        )
    if total > MAX_PROMPT_CHARS:
        raise ValidationError("messages", f"total length {total} exceeds {MAX_PROMPT_CHARS} characters")


@dataclass(frozen=True)
class Usage:
    """Token counts. ``source`` says where they came from: provider, tiktoken, calibrated or heuristic,
    or estimated (a cancelled stream: the delivered text counted, the prompt estimated)."""

    input_tokens: int
    output_tokens: int
    source: str = "provider"
    cached_input_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        source = self.source if self.source == other.source else "mixed"
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            source,
            self.cached_input_tokens + other.cached_input_tokens,
        )


@dataclass(frozen=True)
class Attempt:
    """One provider call made for a request: the unit the usage log stores."""

    provider: str
    model: str
    status: str  # "ok" | "error" | "cancelled" (the caller stopped reading; usage is then estimated)
    latency_ms: float
    ttft_ms: float | None = None
    usage: Usage | None = None
    cost_usd: Decimal | None = None
    error_type: str | None = None
    error_message: str | None = None
    retryable: bool | None = None
    streamed: bool = False
    retry_after: float | None = None  # seconds the provider asked to wait, when it said


@dataclass(frozen=True)
class GenerateResult:
    text: str
    provider: str
    model: str
    usage: Usage
    cost_usd: Decimal | None  # None means the model is unpriced, never a silent $0
    estimated_cost_usd: Decimal | None
    counterfactual_cost_usd: Decimal | None
    latency_ms: float
    ttft_ms: float | None
    attempts: tuple[Attempt, ...]
    fallback_used: bool
    request_id: str
    route_reason: str
    estimated_usage: Usage | None = None
    counterfactual_provider: str | None = None
    counterfactual_model: str | None = None
    finish_reason: str | None = None  # stop | length | tool_calls | content_filter
    unpriced: bool = False
    extra: dict = field(default_factory=dict, compare=False)
    tool_calls: tuple[ToolCall, ...] = ()
    key_name: str | None = None  # the API key it ran as (None: no key); never the key itself
    team: str | None = None
    # Limits news for the caller: OpenAI-style x-ratelimit-* values when a rate limit applies,
    # x-gateway-budget when a soft budget limit stepped the request down. The REST API sends
    # them as response headers.
    headers: Mapping[str, str] = field(default_factory=dict, compare=False)
    ranking: object = field(default=None, compare=False, repr=False)  # the router.Ranking behind route_reason
    # The routing policy's decision (governance.policy.PolicyDecision) when a policy is configured.
    policy: object | None = field(default=None, compare=False)
