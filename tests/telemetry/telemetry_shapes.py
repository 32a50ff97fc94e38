"""Requests of known shape, built from the gateway's own types, driven through the telemetry API.

``drive_fallback`` does what the executor does for a request whose first candidate was
rate-limited and whose second answered: one request trace, two attempts, then the end.
Distinctive strings are planted in every place content or a secret could travel, so a
byte search of what was exported proves they did not.
"""

from __future__ import annotations

from decimal import Decimal

from gateway_core.types import Attempt, ChatMessage, GenerateResult, Usage

AZURE_OTEL = "azure.ai.openai"
BEDROCK_OTEL = "aws.bedrock"
AZURE_MODEL = "gpt-4o-mini"
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"

PLANTED_PROMPT = "Quokka-Marmalade-Zeppelin-4417"
PLANTED_SYSTEM = "Ostrich-Tangerine-Harbour-2290"
PLANTED_ANSWER = "Walrus-Cinnamon-Lighthouse-8853"
PLANTED_ERROR = "Narwhal-Pistachio-Glacier-6671"
PLANTED_EMAIL = "ada.lovelace.planted@example.org"
PLANTED_KEY = "sk-PLANTEDsecretKEY0123456789abcdefXYZ"
CONFIGURED_SECRET = "Configured-Secret-Mongoose-3187"  # as if it were the gateway's own API key
PLANTED = (PLANTED_PROMPT, PLANTED_SYSTEM, PLANTED_ANSWER, PLANTED_ERROR, PLANTED_EMAIL, PLANTED_KEY, CONFIGURED_SECRET)

MESSAGES = (
    ChatMessage("system", f"You are terse. {PLANTED_SYSTEM}"),
    ChatMessage("user", f"{PLANTED_PROMPT}: write to {PLANTED_EMAIL} with key {PLANTED_KEY} or {CONFIGURED_SECRET}"),
)
ANSWER = f"{PLANTED_ANSWER}. Done."
COST = Decimal("0.000033")
COUNTERFACTUAL = Decimal("0.000120")
FAILED = Attempt(
    "azure",
    AZURE_MODEL,
    "error",
    latency_ms=12.0,
    error_type="rate_limited",
    error_message=f"429 from upstream {PLANTED_ERROR} {PLANTED_KEY}",
    retryable=True,
    streamed=True,
)
ANSWERED = Attempt(
    "bedrock", BEDROCK_MODEL, "ok", latency_ms=30.0, ttft_ms=15.0, usage=Usage(96, 7), cost_usd=COST, streamed=True
)
RESULT = GenerateResult(
    text=ANSWER,
    provider="bedrock",
    model=BEDROCK_MODEL,
    usage=Usage(96, 7),
    cost_usd=COST,
    estimated_cost_usd=Decimal("0.00004"),
    counterfactual_cost_usd=COUNTERFACTUAL,
    latency_ms=45.0,
    ttft_ms=28.0,
    attempts=(FAILED, ANSWERED),
    fallback_used=True,
    request_id="req_planted",
    route_reason="low_cost: cheapest",
    finish_reason="end_turn",
)
GATEWAY_START = {"task": "chat", "priority": "low_cost", "team": "research", "key_name": "ci-key"}
GATEWAY_END = {"policy.decision": "allow"}


def drive_fallback(tel, *, parent_headers=None, injected: list | None = None):
    """One rate-limited attempt, then one that answers; returns the request trace."""
    trace = tel.start_request(
        "chat",
        None,
        max_tokens=64,
        temperature=0.2,
        messages=MESSAGES,
        parent_headers=parent_headers,
        gateway_attrs=GATEWAY_START,
    )
    first = trace.attempt(AZURE_OTEL, AZURE_MODEL, "azure.test", 443)
    if injected is not None:
        injected.append(first.inject_headers())
    first.end(FAILED)
    second = trace.attempt(BEDROCK_OTEL, BEDROCK_MODEL, "bedrock-runtime.test", 443)
    if injected is not None:
        injected.append(second.inject_headers())
    second.end(
        ANSWERED,
        response_model="claude-3-haiku-20240307",
        response_id="msg_planted_01",
        finish_reason="end_turn",
        output_text=ANSWER,
    )
    trace.end(RESULT, GATEWAY_END)
    return trace
