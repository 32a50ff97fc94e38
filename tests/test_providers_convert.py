"""Pure converter and error-mapping tests: plain dicts and hand-built SDK exceptions, no network."""

from __future__ import annotations

import httpx2
import openai
import pytest
from botocore import exceptions as bce

from gateway_core.config import Settings
from gateway_core.errors import (
    AuthFailed,
    BadRequest,
    ContentFiltered,
    ContextTooLong,
    ModelNotFound,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from gateway_core.providers import PROVIDERS, AzureOpenAIProvider, BedrockProvider
from gateway_core.providers import bedrock as br
from gateway_core.providers import openai_wire as ow
from gateway_core.providers._errors import interrupted
from gateway_core.providers.base import ProviderCall
from gateway_core.redact import sanitize
from gateway_core.types import ChatMessage

M = ChatMessage


def call(*msgs, temperature=None, model="m"):
    return ProviderCall(model, tuple(M(r, c) for r, c in msgs), 64, temperature)


# --- Azure converters ------------------------------------------------------------------

AZURE_STREAM = [
    {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "choices": [],
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    },
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        "usage": None,
    },
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}],
    },
    {"id": "c1", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": None}]},
    {"id": "c1", "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    {
        "id": "c1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [],
        "usage": {"prompt_tokens": 12, "completion_tokens": 2, "total_tokens": 14, "prompt_tokens_details": {"cached_tokens": 4}},
    },
]


def test_azure_to_wire_keeps_roles_and_omits_unset_temperature():
    wire = ow.to_wire(call(("system", "be brief"), ("user", "hi")))
    assert wire == {
        "model": "m",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_tokens": 64,
    }
    assert ow.to_wire(call(("user", "hi"), temperature=1.5))["temperature"] == 1.5


def test_azure_from_wire_reads_text_model_version_and_cached_tokens():
    payload = {
        "id": "chatcmpl-1",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "Hi there"}}],
        "usage": {
            "prompt_tokens": 33,
            "completion_tokens": 5,
            "total_tokens": 38,
            "prompt_tokens_details": {"cached_tokens": 10},
        },
    }
    c = ow.from_wire(payload, deployment="gpt-4o-mini", request_id="req-1", provider="azure")
    assert (c.text, c.model, c.finish_reason, c.request_id) == ("Hi there", "gpt-4o-mini-2024-07-18", "stop", "req-1")
    assert (c.usage.input_tokens, c.usage.output_tokens, c.usage.cached_input_tokens, c.usage.source) == (33, 5, 10, "provider")


def test_azure_from_wire_without_usage_is_an_error_not_a_free_answer():
    with pytest.raises(ProviderUnavailable):
        ow.from_wire({"model": "x", "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}]})


def test_azure_stream_skips_empty_first_chunk_and_reads_usage_chunk():
    acc = ow.ChunkAccumulator("gpt-4o-mini")
    deltas = [d for chunk in AZURE_STREAM for d in acc.feed(chunk)]
    done = acc.finish()
    assert deltas == ["Hel", "lo"]
    assert (done.text, done.model, done.finish_reason) == ("Hello", "gpt-4o-mini-2024-07-18", "stop")
    assert (done.usage.input_tokens, done.usage.output_tokens, done.usage.cached_input_tokens) == (12, 2, 4)


@pytest.mark.parametrize("cut", [3, 5], ids=["before_finish_reason", "before_usage_chunk"])
def test_azure_stream_that_ends_early_is_a_cut(cut):
    acc = ow.ChunkAccumulator(provider="azure")
    for chunk in AZURE_STREAM[:cut]:
        acc.feed(chunk)
    with pytest.raises(ProviderUnavailable) as e:
        acc.finish()
    assert e.value.code == "stream_cut" and e.value.retryable and e.value.provider == "azure"


# --- Bedrock converters ----------------------------------------------------------------


def test_bedrock_to_wire_moves_system_and_merges_same_role_turns():
    wire = br.to_wire(
        call(("system", "be brief"), ("user", "a"), ("user", "b"), ("assistant", "c"), ("assistant", "d"), ("user", "e"))
    )
    assert wire["system"] == [{"text": "be brief"}]
    assert wire["messages"] == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
        {"role": "assistant", "content": [{"text": "c"}, {"text": "d"}]},
        {"role": "user", "content": [{"text": "e"}]},
    ]
    assert wire["modelId"] == "m" and wire["inferenceConfig"] == {"maxTokens": 64}


def test_bedrock_conversation_starting_with_assistant_gets_a_user_turn_first():
    wire = br.to_wire(call(("assistant", "hello"), ("user", "hi")))
    assert [m["role"] for m in wire["messages"]] == ["user", "assistant", "user"]


@pytest.mark.parametrize("given,sent", [(0.0, 0.0), (0.7, 0.7), (1.0, 1.0), (1.5, 1.0), (2.0, 1.0)])
def test_bedrock_temperature_is_clamped_to_one(given, sent):
    assert br.to_wire(call(("user", "hi"), temperature=given))["inferenceConfig"]["temperature"] == sent


def test_bedrock_without_user_turn_is_a_bad_request():
    with pytest.raises(BadRequest):
        br.to_wire(call(("system", "only a system prompt")))


def test_bedrock_from_wire_joins_text_blocks_and_folds_cache_reads_into_input():
    payload = {
        "output": {"message": {"role": "assistant", "content": [{"text": "Hel"}, {"text": "lo"}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 5, "outputTokens": 2, "totalTokens": 7, "cacheReadInputTokens": 3},
        "metrics": {"latencyMs": 12},
        "ResponseMetadata": {"RequestId": "rid"},
    }
    c = br.from_wire(payload, model="anthropic.claude-3-haiku-20240307-v1:0")
    assert (c.text, c.finish_reason, c.request_id, c.model) == (
        "Hello",
        "stop",  # end_turn, in OpenAI's spelling
        "rid",
        "anthropic.claude-3-haiku-20240307-v1:0",
    )
    assert (c.usage.input_tokens, c.usage.output_tokens, c.usage.cached_input_tokens) == (8, 2, 3)


BEDROCK_EVENTS = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "Hi "}}},
    {"contentBlockDelta": {"contentBlockIndex": 0, "delta": {"text": "there"}}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {"messageStop": {"stopReason": "end_turn"}},
    {"metadata": {"usage": {"inputTokens": 9, "outputTokens": 2, "totalTokens": 11}, "metrics": {"latencyMs": 5}}},
]


def test_bedrock_stream_events_accumulate_into_one_completion():
    acc = br.EventAccumulator("model-x")
    assert [d for ev in BEDROCK_EVENTS for d in acc.feed(ev)] == ["Hi ", "there"]
    done = acc.finish()
    assert (done.text, done.finish_reason, done.usage.input_tokens, done.usage.output_tokens) == ("Hi there", "stop", 9, 2)


@pytest.mark.parametrize("cut", [3, 5], ids=["no_message_stop", "no_metadata"])
def test_bedrock_stream_without_stop_or_metadata_is_a_cut(cut):
    acc = br.EventAccumulator()
    for ev in BEDROCK_EVENTS[:cut]:
        acc.feed(ev)
    with pytest.raises(ProviderUnavailable, match="stream ended"):
        acc.finish()


# --- Azure error mapping ---------------------------------------------------------------

_REQ = httpx2.Request("POST", "http://127.0.0.1/openai/deployments/d/chat/completions")


def azure_status_error(status, code, message="boom", headers=None):
    body = {"error": {"code": code, "message": message}}
    resp = httpx2.Response(status, json=body, headers=headers or {"x-request-id": "rid-1"}, request=_REQ)
    return openai.AzureOpenAI(azure_endpoint="http://127.0.0.1:1", api_key="k" * 8, api_version="2024-10-21")._make_status_error(
        f"Error code: {status}", body=body["error"], response=resp
    )


@pytest.mark.parametrize(
    "status,code,cls,retryable",
    [
        (400, "content_filter", ContentFiltered, False),
        (400, "context_length_exceeded", ContextTooLong, False),
        (400, "unsupported_parameter", BadRequest, False),
        (422, "422", BadRequest, False),
        (401, "401", AuthFailed, False),
        (403, "AuthorizationFailed", AuthFailed, False),
        (404, "DeploymentNotFound", ModelNotFound, False),
        (408, "408", ProviderTimeout, True),
        (429, "429", RateLimited, True),
        (500, "InternalServerError", ProviderUnavailable, True),
        (503, "503", ProviderUnavailable, True),
    ],
)
def test_azure_status_errors_map_to_the_gateway_tree(status, code, cls, retryable):
    err = ow.map_error(azure_status_error(status, code), "azure")
    assert type(err) is cls and err.retryable is retryable
    assert (err.provider, err.status, err.request_id) == ("azure", status, "rid-1")


def test_azure_429_carries_retry_after_from_headers():
    err = ow.map_error(
        azure_status_error(429, "429", "Please retry after 6 seconds.", {"retry-after": "6", "retry-after-ms": "6000"}), "azure"
    )
    assert isinstance(err, RateLimited) and err.retry_after == 6.0


def test_azure_transport_and_mid_stream_errors_are_retryable():
    assert type(ow.map_error(openai.APITimeoutError(request=_REQ), "azure")) is ProviderTimeout
    assert type(ow.map_error(openai.APIConnectionError(request=_REQ), "azure")) is ProviderUnavailable
    mid = ow.map_error(openai.APIError("The server had an error", _REQ, body={"code": "server_error", "message": "x"}), "azure")
    assert type(mid) is ProviderUnavailable and mid.retryable


def test_azure_error_message_hides_the_key_and_the_prompt():
    key = "0123456789abcdef0123456789abcdef"
    err = ow.map_error(azure_status_error(401, "401", f"Access denied for key {key}"), "azure", (key,))
    assert key not in err.message and "azure HTTP 401" in err.message


# --- Bedrock error mapping -------------------------------------------------------------


def client_error(code, status, message="boom", cls=bce.ClientError):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "rid-2", "HTTPHeaders": {}},
    }
    return cls(response, "Converse")


@pytest.mark.parametrize(
    "code,status,message,cls",
    [
        ("ThrottlingException", 429, "Too many requests, please wait before trying again.", RateLimited),
        ("ServiceQuotaExceededException", 400, "quota", RateLimited),
        ("429", 429, "", RateLimited),
        ("ModelNotReadyException", 429, "not ready", ProviderUnavailable),
        ("ModelTimeoutException", 408, "took too long", ProviderTimeout),
        ("ModelErrorException", 424, "model error", ProviderUnavailable),
        ("InternalServerException", 500, "internal", ProviderUnavailable),
        ("ServiceUnavailableException", 503, "unavailable", ProviderUnavailable),
        ("502", 502, "", ProviderUnavailable),
        ("ValidationException", 400, "temperature must be <= 1", BadRequest),
        ("ValidationException", 400, "Input is too long for requested model.", ContextTooLong),
        ("ValidationException", 400, "The content was blocked by the content filter.", ContentFiltered),
        ("ValidationException", 400, "The provided model identifier is invalid.", ModelNotFound),
        ("ValidationException", 400, "Invocation of model ID x with on-demand throughput isn't supported.", ModelNotFound),
        ("ValidationException", 400, "Service is temporarily unavailable, please try again", ProviderUnavailable),
        ("ValidationException", 400, "Too many connections, please wait before trying again.", ProviderUnavailable),
        ("AccessDeniedException", 403, "You don't have access to the model", AuthFailed),
        ("UnrecognizedClientException", 403, "The security token included in the request is invalid.", AuthFailed),
        ("ResourceNotFoundException", 404, "Model has reached the end of its life", ModelNotFound),
    ],
)
def test_bedrock_client_errors_map_to_the_gateway_tree(code, status, message, cls):
    err = br._map_error(client_error(code, status, message))
    assert type(err) is cls and err.provider == "bedrock" and err.status == status


@pytest.mark.parametrize(
    "code,cls",
    [
        ("throttlingException", RateLimited),
        ("serviceUnavailableException", ProviderUnavailable),
        ("internalServerException", ProviderUnavailable),
        ("modelStreamErrorException", ProviderUnavailable),
        ("validationException", BadRequest),
        ("modelTimeoutException", ProviderTimeout),
    ],
)
def test_bedrock_in_stream_lower_camel_codes_map_like_http_ones(code, cls):
    exc = bce.EventStreamError({"Error": {"Code": code, "Message": "m"}}, "ConverseStream")
    assert type(br._map_error(exc)) is cls


@pytest.mark.parametrize(
    "exc,cls",
    [
        (bce.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"), ProviderTimeout),
        (bce.ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), ProviderTimeout),
        (bce.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), ProviderUnavailable),
        (bce.NoCredentialsError(), AuthFailed),
    ],
)
def test_bedrock_transport_errors_map_by_kind(exc, cls):
    assert type(br._map_error(exc)) is cls


def test_bedrock_error_message_drops_signatures_and_access_keys():
    msg = (
        "The request signature we calculated does not match. Credential=AKIAABCDEFGHIJKLMNOP/20261126/us-east-1/bedrock "
        "Signature=7f3a0c9be1d2f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9"
    )
    err = br._map_error(client_error("InvalidSignatureException", 403, msg))
    assert isinstance(err, AuthFailed)
    assert "AKIA" not in err.message and "7f3a0c9b" not in err.message
    assert err.message.startswith("bedrock HTTP 403 InvalidSignatureException")


# --- shared helpers --------------------------------------------------------------------


def test_sanitize_keeps_one_short_line_without_echoed_bodies():
    text = "bad request\n  details: " + '{"messages": [{"role": "user", "content": "my secret prompt"}]}' + "x" * 500
    out = sanitize(text)
    assert "secret prompt" not in out and "\n" not in out and len(out) <= 200
    assert sanitize("x" * 1000).endswith("…")


def test_failure_after_text_becomes_a_non_retryable_interruption():
    err = interrupted(ProviderUnavailable("azure: cut", provider="azure", code="stream_cut"), "Hello")
    assert not err.retryable and err.partial_text == "Hello" and err.provider == "azure"


def test_registry_names_every_adapter_by_its_provider_name_with_its_facts():
    assert PROVIDERS["azure"] is AzureOpenAIProvider and PROVIDERS["bedrock"] is BedrockProvider
    for name, cls in PROVIDERS.items():
        assert cls.name == name and cls.supports_streaming
        assert cls.label and cls.color and cls.chart_color.startswith("#")
        assert isinstance(cls.calibrate_input_tokens, bool) and cls.emulator
        assert cls.Settings.env_names(), f"{name} declares no variables"
    assert not AzureOpenAIProvider.calibrate_input_tokens and BedrockProvider.calibrate_input_tokens
    assert issubclass(RateLimited, ProviderError)


def test_sanitize_keeps_the_text_after_a_redacted_credential():
    out = sanitize("denied: Authorization: Bearer sk-abc.def for deployment gpt-4o-mini, retry later")
    assert "sk-abc" not in out and out.endswith("for deployment gpt-4o-mini, retry later")


def test_azure_from_settings_names_the_missing_variable():
    from gateway_core.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        AzureOpenAIProvider.from_settings(Settings.from_mapping({"AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:1"}))
    assert e.value.variable == "AZURE_OPENAI_API_KEY"


def test_adapters_built_from_settings_bound_sdk_attempts():
    s = Settings.from_mapping(
        {
            "AZURE_OPENAI_ENDPOINT": "http://127.0.0.1:1",
            "AZURE_OPENAI_API_KEY": "k" * 8,
            "GATEWAY_SDK_MAX_ATTEMPTS": "3",
            "GATEWAY_TIMEOUT_S": "42",
        }
    )
    azure = AzureOpenAIProvider.from_settings(s)
    assert azure.client.max_retries == 2 and azure.client.timeout.read == 42.0
    bedrock = BedrockProvider.from_settings(
        s, endpoint_url="http://127.0.0.1:1", aws_access_key_id="t", aws_secret_access_key="t"
    )
    cfg = bedrock.client.meta.config
    assert cfg.retries == {"mode": "standard", "total_max_attempts": 3} and cfg.read_timeout == 42.0
    assert bedrock.client.meta.region_name == s.provider("bedrock").region
