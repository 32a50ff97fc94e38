"""The OpenAI-compatible routes, driven by the official ``openai`` SDK over real HTTP."""

from __future__ import annotations

from decimal import Decimal

import openai
import pytest
from gateway_fixtures import HAIKU

from .conftest import rows

HELLO = [{"role": "user", "content": "Say hello in five words."}]


def test_create_returns_a_chat_completion_with_usage(sdk):
    c = sdk.chat.completions.create(model="auto", messages=HELLO)
    assert c.object == "chat.completion"
    assert c.choices[0].message.role == "assistant"
    assert c.choices[0].message.content.strip()
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.prompt_tokens > 0 and c.usage.completion_tokens > 0
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens
    assert c.id.startswith("chatcmpl-")


def test_model_bedrock_routes_to_bedrock(sdk):
    raw = sdk.chat.completions.with_raw_response.create(model="bedrock", messages=HELLO)
    assert raw.headers["x-gateway-provider"] == "bedrock"
    assert raw.parse().model.startswith("anthropic.")


def test_a_configured_model_id_pins_that_model(sdk):
    c = sdk.chat.completions.create(model=HAIKU, messages=HELLO)
    assert c.model == HAIKU


def test_extra_body_priority_low_cost_picks_the_cheapest_model(sdk):
    raw = sdk.chat.completions.with_raw_response.create(model="auto", messages=HELLO, extra_body={"priority": "low_cost"})
    assert (raw.headers["x-gateway-provider"], raw.headers["x-gateway-model"]) == ("azure", "gpt-4o-mini")
    facts = raw.parse().model_extra["x_gateway"]
    assert facts["route_reason"].startswith("low_cost")


def test_headers_carry_provider_model_cost_and_request_id(sdk, gw):
    raw = sdk.chat.completions.with_raw_response.create(model="azure", messages=HELLO, user="sdk-headers")
    h = raw.headers
    assert h["x-gateway-provider"] == "azure"
    assert h["x-gateway-model"] in ("gpt-4o-mini", "gpt-4o")
    assert Decimal(h["x-gateway-cost-usd"]) > 0
    logged = rows(gw, f"request_id = '{h['x-request-id']}'")
    assert [r["user"] for r in logged] == ["sdk-headers"]
    assert Decimal(str(logged[-1]["cost_usd"])) == pytest.approx(Decimal(h["x-gateway-cost-usd"]))


def test_multi_turn_messages_reach_the_model_with_the_system_prompt(sdk):
    c = sdk.chat.completions.create(
        model="auto",
        messages=[
            {"role": "developer", "content": "You are terse."},
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": "Blue."},
            {"role": "user", "content": [{"type": "text", "text": "Another one?"}]},
        ],
        max_completion_tokens=20,
        temperature=0.2,
    )
    assert c.choices[0].message.content.strip()
    assert c.usage.completion_tokens <= 20


def test_stream_yields_text_chunks_and_a_finish_reason(sdk):
    chunks = list(sdk.chat.completions.create(model="auto", messages=HELLO, stream=True))
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text.strip()
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(ch.object == "chat.completion.chunk" for ch in chunks)
    assert all(ch.usage is None for ch in chunks)  # not asked for


def test_stream_include_usage_ends_with_a_usage_chunk_matching_the_log(sdk, gw):
    stream = sdk.chat.completions.create(model="bedrock", messages=HELLO, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    last = chunks[-1]
    assert last.choices == []
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    facts = last.model_extra["x_gateway"]
    assert facts["provider"] == "bedrock"
    logged = rows(gw, f"request_id = '{facts['request_id']}'")[-1]
    assert (logged["input_tokens"], logged["output_tokens"]) == (last.usage.prompt_tokens, last.usage.completion_tokens)
    assert logged["streamed"] == 1


def test_stream_headers_carry_the_request_id_and_final_chunk_names_the_provider(sdk):
    with sdk.chat.completions.with_streaming_response.create(model="azure", messages=HELLO, stream=True) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        request_id = resp.headers["x-request-id"]
        chunks = list(resp.parse())
    final = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason][0]
    assert final.model_extra["x_gateway"]["request_id"] == request_id
    assert final.model_extra["x_gateway"]["provider"] == "azure"


def test_models_lists_aliases_and_configured_models(sdk, gw):
    ids = [m.id for m in sdk.models.list()]
    assert ids[:3] == ["auto", "azure", "bedrock"]
    assert set(ids[3:]) == {m for _, m in gw.candidates()}


def test_unknown_model_raises_bad_request_naming_model(sdk):
    with pytest.raises(openai.BadRequestError) as e:
        sdk.chat.completions.create(model="gpt-9-preview", messages=HELLO)
    assert e.value.param == "model"
    assert e.value.body["type"] == "invalid_request_error"


def test_stream_cut_after_text_surfaces_as_an_api_error(sdk, gw):
    gw.emulators.azure.set_faults(cut_stream_after=2, cut_mode="drop")
    try:
        stream = sdk.chat.completions.create(model="azure", messages=HELLO, stream=True, extra_body={"fallback": False})
        with pytest.raises(openai.APIError) as e:
            for _ in stream:
                pass
    finally:
        gw.emulators.azure.clear_faults()
    assert e.value.body["code"] == "provider_error"
    assert "stream_interrupted" in e.value.message
