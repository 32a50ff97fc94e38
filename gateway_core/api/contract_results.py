"""The response bodies as pydantic models, for the OpenAPI document: what ``models`` and
``errors`` put on the wire, field by field. Objects stay open to new fields (a client must
not break when the gateway says more), but every field listed here is always present."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class TokenCounts(BaseModel):
    input_tokens: int
    output_tokens: int
    source: str = Field(description="provider, or an estimate: tiktoken, calibrated, heuristic")


class Usage(TokenCounts):
    total_tokens: int


class Counterfactual(BaseModel):
    provider: str | None
    model: str | None
    cost_usd: str | None = Field(description="decimal string; null when unpriced")


class Estimate(BaseModel):
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: str | None


class AttemptView(BaseModel):
    provider: str
    model: str
    status: str = Field(description="ok, error or cancelled")
    latency_ms: float
    error_type: str | None
    error_message: str | None
    cost_usd: str | None


class ToolCallView(BaseModel):
    id: str
    name: str
    arguments: str = Field(description="JSON text")


class PolicyView(BaseModel):
    """What the routing policy decided for the request (``governance.policy.PolicyDecision``)."""

    version: str = Field(description="a hash of the policy files, or the OPA bundle revisions")
    denied: list[str]
    excluded: list[str] = Field(description='"provider" or "provider/model" entries removed from the route')
    prefer: list[str]
    redact: bool = Field(description="the prompt was masked before the provider call")
    matched: list[str] = Field(description="the policy's rules that fired")
    error: str | None = Field(description="why evaluation failed, when fail-open let the request through")


class GatewayFacts(BaseModel):
    """Everything ``/generate`` answers except the text (``x_gateway`` on ``/v1``)."""

    provider: str
    model: str
    usage: Usage
    estimated_usage: TokenCounts | None
    cost_usd: str | None = Field(description="decimal string; null when the model is unpriced")
    unpriced: bool
    estimated_cost_usd: str | None
    counterfactual: Counterfactual
    latency_ms: float
    ttft_ms: float | None
    attempts: list[AttemptView]
    fallback_used: bool
    route_reason: str
    request_id: str
    finish_reason: str | None = Field(description="stop, length, tool_calls or content_filter")
    tool_calls: list[ToolCallView]
    estimate: Estimate
    policy: PolicyView | None = Field(description="null when no routing policy is configured")


class GenerateResponse(GatewayFacts):
    text: str


class FunctionCallView(BaseModel):
    name: str
    arguments: str


class OpenAIToolCallView(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCallView


class AssistantReply(BaseModel):
    role: Literal["assistant"]
    content: str | None
    refusal: None
    tool_calls: list[OpenAIToolCallView] | None


class Choice(BaseModel):
    index: int
    message: AssistantReply
    logprobs: None
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: None
    x_gateway: GatewayFacts


class ModelEntry(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelEntry]


class Health(BaseModel):
    status: Literal["ok"]
    mode: str


class _ErrorExtras(BaseModel):
    request_id: str | None = None
    attempts: list[AttemptView] | None = None
    messages: list[str] | None = Field(None, description="policy_denied: the routing policy's reasons")
    policy_version: str | None = Field(None, description="policy_denied: the version of the policy that refused")


class GenerateErrorDetail(_ErrorExtras):
    type: str
    message: str
    field: str | None


class GenerateError(BaseModel):
    """An error of ``/generate`` (and of the server itself, before a route is known)."""

    error: GenerateErrorDetail


class OpenAIErrorDetail(_ErrorExtras):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    """An error of the ``/v1`` routes, in OpenAI's shape: the SDKs raise their usual classes."""

    error: OpenAIErrorDetail


RESULT_MODELS = (GenerateResponse, ChatCompletion, ModelList, ModelEntry, Health, GenerateError, OpenAIError)
