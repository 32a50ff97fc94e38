"""The request bodies as pydantic models: the contract the OpenAPI document is generated from.

Every body is parsed by ``bodies`` (which names the field a client got wrong in the
route's own terms) and then validated against its model here, so the published schema and
the server cannot drift apart: whatever the schema rejects, the server rejects, and the
rules the schema states (the text patterns, ranges and enums) are the ones ``types``
applies. A few rules span several fields and have no JSON Schema form (a named
``tool_choice`` must name a declared tool, a tool message answers a call of the turn
before it, tool-call arguments are JSON text, strict schemas are closed); the request
value enforces them and the document says so in their descriptions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticError

from ..errors import ValidationError
from ..providers import PROVIDER_NAMES
from ..tasks import TASKS
from ..tools import MAX_TOOLS, NAME_PATTERN
from ..types import (
    MAX_MESSAGES,
    MAX_OUTPUT_TOKENS,
    MAX_PROMPT_CHARS,
    MAX_STOP_SEQUENCES,
    MAX_TEMPERATURE,
    MAX_USER_CHARS,
    NO_NUL_PATTERN,
    PRIORITIES,
    TEXT_PATTERN,
    USER_PATTERN,
)

Text = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=TEXT_PATTERN)]
AnyText = Annotated[str, Field(max_length=MAX_PROMPT_CHARS, pattern=NO_NUL_PATTERN)]
StopText = Annotated[str, Field(min_length=1, max_length=MAX_PROMPT_CHARS, pattern=NO_NUL_PATTERN)]
Name = Annotated[str, Field(pattern=NAME_PATTERN)]
User = Annotated[str, Field(min_length=1, max_length=MAX_USER_CHARS, pattern=USER_PATTERN)]
# JSON has one number type: 5.0 is an integer to JSON Schema, so it is one here too.
MaxTokens = Annotated[int, Field(ge=1, le=MAX_OUTPUT_TOKENS, strict=False)]
Temperature = Annotated[float, Field(ge=0, le=MAX_TEMPERATURE)]
TopP = Annotated[float, Field(ge=0, le=1)]
Stop = StopText | Annotated[list[StopText], Field(min_length=1, max_length=MAX_STOP_SEQUENCES)]
Priority = Literal[PRIORITIES]  # type: ignore[valid-type]
Task = Literal[tuple(TASKS)]  # type: ignore[valid-type]
USER_FIRST = {"contains": {"type": "object", "properties": {"role": {"const": "user"}}, "required": ["role"]}}


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class JsonSchemaObject(BaseModel):
    """A JSON Schema describing an object; any other JSON Schema keywords may follow."""

    model_config = ConfigDict(strict=True, extra="allow", title="JsonSchemaObject")
    type: Literal["object"]
    properties: dict[str, dict[str, Any]] = Field(default_factory=dict)
    required: Annotated[list[str], Field(json_schema_extra={"uniqueItems": True})] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_required(self):
        if len(set(self.required)) != len(self.required):
            raise ValueError("required lists a property twice")
        return self


def _strict_closes(field: str):
    """JSON Schema for "a strict schema is closed": the part of strict mode's rules that
    JSON Schema can state (every property being required is checked by the request)."""
    closed = {"properties": {"additionalProperties": {"const": False}}, "required": ["additionalProperties"]}
    rule = {"if": {"properties": {"strict": {"const": True}}, "required": ["strict"]}, "then": {"properties": {field: closed}}}
    return {"allOf": [rule]}


def _user_first(schema: dict) -> None:
    schema.setdefault("allOf", []).append({"properties": {"messages": USER_FIRST}})


def _prompt_or_messages(schema: dict) -> None:
    schema["oneOf"] = [
        {"required": ["prompt"], "properties": {"prompt": {"type": "string"}}},
        {"required": ["messages"], "properties": {"messages": {"type": "array"}}},
    ]
    _user_first(schema)


def _needs_user(messages) -> None:
    if not any(m.role == "user" for m in messages):
        raise ValueError("must contain at least one user message")


# --- /v1/chat/completions ----------------------------------------------------------------


class TextPart(_Strict):
    type: Literal["text"]
    text: Text


Content = Text | Annotated[list[TextPart], Field(min_length=1)]


class FunctionCall(_Strict):
    name: Text
    arguments: str = Field(description="the arguments as the JSON text of an object")


class OpenAIToolCall(_Strict):
    id: Annotated[str, Field(min_length=1)]
    type: Literal["function"] = "function"
    function: FunctionCall


class SystemMessage(_Strict):
    role: Literal["system", "developer"]
    content: Content


class UserMessage(_Strict):
    role: Literal["user"]
    content: Content


class ToolMessage(_Strict):
    role: Literal["tool"]
    content: Content
    tool_call_id: str = Field(description="answers a tool call of the assistant turn before it")


class AssistantMessage(_Strict):
    """Text, or tool calls (the content may then be empty or null)."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {
                    "properties": {"content": {"anyOf": [{"type": "string", "pattern": TEXT_PATTERN}, {"type": "array"}]}},
                    "required": ["content"],
                },
                {"required": ["tool_calls"], "properties": {"tool_calls": {"type": "array", "minItems": 1}}},
            ]
        }
    )
    role: Literal["assistant"]
    content: Content | AnyText | None = None
    tool_calls: Annotated[list[OpenAIToolCall], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _text_or_calls(self):
        blank = self.content is None or (isinstance(self.content, str) and not self.content.strip())
        if blank and not self.tool_calls:
            raise ValueError("an assistant message needs content or tool_calls")
        return self


Message = Annotated[SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")]


class FunctionSpec(_Strict):
    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=_strict_closes("parameters"))

    name: Name
    description: str | None = None
    parameters: JsonSchemaObject | None = None
    strict: bool | None = Field(None, description="strict: every object closed and every property required")


class OpenAITool(_Strict):
    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(_Strict):
    name: Name = Field(description="a declared tool's name")


class NamedToolChoice(_Strict):
    type: Literal["function"]
    function: NamedFunction


class TextFormat(_Strict):
    type: Literal["text"]


class JsonObjectFormat(_Strict):
    type: Literal["json_object"]


class JsonSchemaSpec(_Strict):
    model_config = ConfigDict(strict=True, extra="ignore", json_schema_extra=_strict_closes("schema"))

    name: Name
    schema_: JsonSchemaObject = Field(alias="schema")
    strict: bool | None = None
    description: str | None = None


class JsonSchemaFormat(_Strict):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


class StreamOptions(_Strict):
    include_usage: bool | None = None


class ChatCompletionRequest(BaseModel):
    """An OpenAI chat-completions request. Parameters the gateway cannot honour are accepted
    only at their do-nothing values; ``seed``, ``metadata``, ``store`` and ``service_tier``
    are ignored; any other parameter is refused."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_user_first)
    model: str = Field(description="auto, a configured provider (a hint) or a configured model id (a pin)")
    messages: Annotated[list[Message], Field(min_length=1, max_length=MAX_MESSAGES)]
    max_completion_tokens: MaxTokens | None = None
    max_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stop: Stop | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    tools: Annotated[list[OpenAITool], Field(min_length=1, max_length=MAX_TOOLS)] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: Annotated[TextFormat | JsonObjectFormat | JsonSchemaFormat, Field(discriminator="type")] | None = None
    user: User | None = None
    priority: Priority | None = None
    fallback: bool | None = None
    n: Literal[1] | None = None
    logprobs: Literal[False] | None = None
    top_logprobs: Literal[0] | None = None
    frequency_penalty: Annotated[float, Field(ge=0, le=0)] | None = None
    presence_penalty: Annotated[float, Field(ge=0, le=0)] | None = None
    logit_bias: Annotated[dict[str, Any], Field(max_length=0)] | None = None
    modalities: Annotated[list[Literal["text"]], Field(min_length=1, max_length=1)] | None = None
    seed: Any = Field(None, description="ignored")
    metadata: Any = Field(None, description="ignored")
    store: Any = Field(None, description="ignored")
    service_tier: Any = Field(None, description="ignored")

    @model_validator(mode="after")
    def _a_user_turn(self):
        _needs_user(self.messages)
        return self


# --- /generate ---------------------------------------------------------------------------


class FlatToolCall(_Strict):
    model_config = ConfigDict(strict=True, extra="forbid")
    id: Annotated[str, Field(min_length=1)]
    name: Text
    arguments: str = Field(description="the arguments as the JSON text of an object")


class FlatMessage(BaseModel):
    """A turn: text, or (for an assistant) tool calls; a ``tool`` turn answers one call."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "anyOf": [
                {"properties": {"content": {"type": "string", "pattern": TEXT_PATTERN}}, "required": ["content"]},
                {
                    "properties": {"role": {"const": "assistant"}, "tool_calls": {"type": "array", "minItems": 1}},
                    "required": ["tool_calls"],
                },
            ],
            "allOf": [
                {  # only a tool turn answers a call, and it must say which
                    "if": {"properties": {"role": {"const": "tool"}}},
                    "then": {"required": ["tool_call_id"], "properties": {"tool_call_id": {"type": "string"}}},
                    "else": {"properties": {"tool_call_id": {"type": "null"}}},
                },
                {  # only an assistant turn carries tool calls
                    "if": {"required": ["tool_calls"], "properties": {"tool_calls": {"type": "array"}}},
                    "then": {"properties": {"role": {"const": "assistant"}}},
                },
            ],
        },
    )
    role: Literal["system", "user", "assistant", "tool"]
    content: AnyText | None = None
    tool_calls: Annotated[list[FlatToolCall], Field(min_length=1)] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _text_or_calls(self):
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message carries tool calls")
        if (self.role == "tool") != (self.tool_call_id is not None):
            raise ValueError("a tool message, and only a tool message, has a tool_call_id")
        if not (self.content or "").strip() and not self.tool_calls:
            raise ValueError("a message needs content")
        return self


class FlatTool(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_strict_closes("parameters"))
    name: Name
    description: str | None = None
    parameters: JsonSchemaObject | None = None
    strict: bool | None = None


class _FlatFormat(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class FlatTextFormat(_FlatFormat):
    type: Literal["text"]


class FlatJsonObjectFormat(_FlatFormat):
    type: Literal["json_object"]


class FlatJsonSchemaFormat(_FlatFormat):
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_strict_closes("schema"))

    type: Literal["json_schema"]
    schema_: JsonSchemaObject = Field(alias="schema")
    name: Name | None = None
    strict: bool | None = None


FlatFormat = Annotated[FlatTextFormat | FlatJsonObjectFormat | FlatJsonSchemaFormat, Field(discriminator="type")]


class GenerateBody(BaseModel):
    """A ``/generate`` request: a prompt, or a conversation, and how to route it."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra=_prompt_or_messages,
    )
    prompt: Text | None = None
    messages: Annotated[list[FlatMessage], Field(min_length=1, max_length=MAX_MESSAGES)] | None = None
    task: Task | None = None
    priority: Priority | None = None
    provider_hint: Literal[("auto", *PROVIDER_NAMES)] | None = Field(None, description="auto or a provider: try it first")  # type: ignore[valid-type]
    model: str | None = Field(None, description="a configured model id: pin it")
    max_tokens: MaxTokens | None = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stop: Stop | None = None
    tools: Annotated[list[FlatTool], Field(min_length=1, max_length=MAX_TOOLS)] | None = None
    tool_choice: Name | None = Field(None, description="auto, none, required or a declared tool's name")
    parallel_tool_calls: bool | None = None
    response_format: FlatFormat | None = None
    user: User | None = None
    stream: bool | None = None
    fallback: bool | None = None

    @model_validator(mode="after")
    def _prompt_or_messages(self):
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give prompt or messages, not both")
        if self.messages is not None:
            _needs_user(self.messages)
        return self


def validate(model: type[BaseModel], body: dict, openai_shape: bool) -> None:
    """Check ``body`` against its contract; the first problem becomes a ``ValidationError``
    naming the field as the client wrote it (``messages[0].content``)."""
    try:
        model.model_validate(body, by_alias=True)
    except PydanticError as e:
        err = e.errors(include_url=False)[0]
        raise ValidationError(field_path(err["loc"]), err["msg"][:200]) from None


_BRANCHES = {"system", "user", "assistant", "tool", "developer", "text", "json_object", "str", "int", "float", "bool"}


def field_path(loc) -> str:
    """pydantic's error location as a field path, without its union branch labels."""
    path, previous = "", None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in _BRANCHES or "[" in part or "function-" in part or "constrained" in part or part == previous:
            continue
        else:
            path += f".{part}" if path else part
        previous = part
    return path or "body"
