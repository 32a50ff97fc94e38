"""The Bedrock runtime emulator, driven by the real boto3 ``bedrock-runtime`` client (docs/wire.md)."""

from __future__ import annotations

import base64
import json
import math

import boto3
import pytest
from botocore.exceptions import ConnectionClosedError, EventStreamError, ReadTimeoutError

from gateway_core.emulators import start_emulators

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
SONNET = "anthropic.claude-3-sonnet-20240229-v1:0"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
QUESTION = "How should I choose between caching strategies for database queries?"
MSGS = [{"role": "user", "content": [{"text": QUESTION}]}]


def _text(resp) -> str:
    return resp["output"]["message"]["content"][0]["text"]


def _stream_text(resp, seen: list | None = None) -> str:
    parts = []
    for event in resp["stream"]:
        if seen is not None:
            seen.append(event)
        if "contentBlockDelta" in event:
            parts.append(event["contentBlockDelta"]["delta"]["text"])
    return "".join(parts)


def test_converse_answers_with_claude_like_usage(bedrock):
    r = bedrock.converse(modelId=SONNET, messages=MSGS, system=[{"text": "Be helpful."}])
    text = _text(r)
    assert r["stopReason"] == "end_turn" and text
    usage = r["usage"]
    # The documented rule: ceil(chars / 3.5) of all text + 3 per message (system included).
    assert usage["inputTokens"] == math.ceil((len(QUESTION) + len("Be helpful.")) / 3.5) + 6
    assert usage["outputTokens"] == math.ceil(len(text) / 3.5)
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert r["metrics"]["latencyMs"] >= 0 and r["ResponseMetadata"]["RequestId"]


def test_converse_stream_gives_same_text_and_usage(bedrock):
    plain = bedrock.converse(modelId=HAIKU, messages=MSGS)
    events = []
    text = _stream_text(bedrock.converse_stream(modelId=HAIKU, messages=MSGS), events)
    assert text == _text(plain)
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    assert kinds.count("contentBlockDelta") > 3
    assert events[-1]["metadata"]["usage"] == plain["usage"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"


def test_providers_answer_in_different_voices(emulators, azure, bedrock):
    a = azure.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": QUESTION}]).choices[0].message.content
    b = _text(bedrock.converse(modelId=SONNET, messages=MSGS))
    assert a != b and "\n- " in a and len(b) > len(a)


def test_max_tokens_stops_with_max_tokens_reason(bedrock):
    r = bedrock.converse(modelId=HAIKU, messages=MSGS, inferenceConfig={"maxTokens": 4})
    assert r["stopReason"] == "max_tokens" and r["usage"]["outputTokens"] == 4
    assert _text(bedrock.converse(modelId=HAIKU, messages=MSGS)).startswith(_text(r))


def test_invoke_model_speaks_anthropic_messages(bedrock):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": [{"role": "user", "content": QUESTION}]}
    r = bedrock.invoke_model(modelId=HAIKU, body=json.dumps(body))
    out = json.loads(r["body"].read())
    assert r["contentType"] == "application/json"
    assert out["type"] == "message" and out["model"] == "claude-3-haiku-20240307" and out["stop_reason"] == "end_turn"
    assert out["content"][0]["text"] == _text(bedrock.converse(modelId=HAIKU, messages=MSGS))
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-output-token-count"] == str(out["usage"]["output_tokens"])


def test_invoke_stream_sends_anthropic_events(bedrock):
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": [{"role": "user", "content": QUESTION}]}
    r = bedrock.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(body))
    events = [json.loads(e["chunk"]["bytes"]) for e in r["body"]]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    text = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert text == _text(bedrock.converse(modelId=HAIKU, messages=MSGS))
    assert events[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == events[-2]["usage"]["output_tokens"]


def test_invoke_requires_anthropic_version(bedrock):
    body = {"max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(bedrock.exceptions.ValidationException, match="anthropic_version"):
        bedrock.invoke_model(modelId=HAIKU, body=json.dumps(body))


def test_count_tokens_matches_converse_usage(bedrock):
    counted = bedrock.count_tokens(modelId=HAIKU, input={"converse": {"messages": MSGS}})["inputTokens"]
    assert counted == bedrock.converse(modelId=HAIKU, messages=MSGS)["usage"]["inputTokens"]
    body = base64.b64encode(
        json.dumps(
            {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [{"role": "user", "content": QUESTION}]}
        ).encode()
    )
    assert bedrock.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": base64.b64decode(body)}})["inputTokens"] == counted


def test_inference_profile_ids_and_arns_are_accepted(bedrock):
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
    for model_id in ("us." + HAIKU, "eu." + HAIKU, arn, "global." + HAIKU_45):
        assert _text(bedrock.converse(modelId=model_id, messages=MSGS))


def test_percent_encoded_id_is_split_before_decoding(emulators, raw):
    path = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    status, _, body = raw(
        emulators.bedrock.url, "POST", path, {"messages": MSGS}, {"Authorization": "AWS4-HMAC-SHA256 Credential=test"}
    )
    assert status == 200 and body["output"]["message"]["content"][0]["text"]


def test_profile_only_model_rejects_bare_id(bedrock):
    with pytest.raises(bedrock.exceptions.ValidationException, match="on-demand throughput isn't supported"):
        bedrock.converse(modelId=HAIKU_45, messages=MSGS)


@pytest.mark.parametrize("model_id", ["anthropic.claude-9-20990101-v1:0", "bad model", "apac." + SONNET])
def test_unknown_model_ids_are_invalid(bedrock, model_id):
    with pytest.raises(bedrock.exceptions.ValidationException, match="model identifier is invalid"):
        bedrock.converse(modelId=model_id, messages=MSGS)


def test_model_table_can_be_replaced_and_extended():
    with start_emulators(
        providers=("bedrock",), bedrock_models={"anthropic.claude-next-v1:0": {"profile_only": False}, SONNET: {"status": "eol"}}
    ) as emu:
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=emu.bedrock.url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert _text(client.converse(modelId="anthropic.claude-next-v1:0", messages=MSGS))
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.converse(modelId=SONNET, messages=MSGS)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"inferenceConfig": {"temperature": 1.5}}, "inferenceConfig.temperature"),
        ({"inferenceConfig": {"topP": 1.2}}, "inferenceConfig.topP"),
        ({"inferenceConfig": {"maxTokens": 100_000}}, "exceeds the model limit"),
        ({"messages": [{"role": "assistant", "content": [{"text": "hi"}]}]}, "must start with a user message"),
        ({"messages": MSGS + MSGS}, "must alternate"),
        ({"messages": [{"role": "user", "content": [{"text": "   "}]}]}, "is blank"),
    ],
)
def test_invalid_requests_raise_validation_exception(bedrock, kwargs, fragment):
    args = dict({"modelId": HAIKU, "messages": MSGS}, **kwargs)
    with pytest.raises(bedrock.exceptions.ValidationException, match=fragment):
        bedrock.converse(**args)


def test_max_tokens_below_one_is_rejected_by_the_service(emulators, raw):
    # botocore refuses maxTokens=0 itself, so send what another client could send.
    body = {"messages": MSGS, "inferenceConfig": {"maxTokens": 0}}
    status, headers, out = raw(
        emulators.bedrock.url, "POST", f"/model/{HAIKU}/converse", body, {"Authorization": "AWS4-HMAC-SHA256 x"}
    )
    assert status == 400 and headers["x-amzn-errortype"].startswith("ValidationException:")
    assert "inferenceConfig.maxTokens" in out["message"]


def test_unsigned_request_is_forbidden(emulators, raw):
    status, headers, body = raw(emulators.bedrock.url, "POST", f"/model/{HAIKU}/converse", {"messages": MSGS})
    assert status == 403 and headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException:")
    assert "message" in body


def test_throttling_is_retried_then_raised(emulators, make_bedrock):
    emulators.bedrock.set_faults(status=429)
    client = make_bedrock(attempts=2)
    with pytest.raises(client.exceptions.ThrottlingException) as info:
        client.converse(modelId=HAIKU, messages=MSGS)
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-retry-after"] == "10"
    stats = emulators.bedrock.stats()
    assert stats["requests"] == 2 and stats["retries_seen"] == 1


@pytest.mark.parametrize(
    "status, name, retried",
    [
        (408, "ModelTimeoutException", False),
        (500, "InternalServerException", True),
        (503, "ServiceUnavailableException", True),
    ],
)
def test_server_faults_raise_modelled_exceptions(emulators, make_bedrock, status, name, retried):
    emulators.bedrock.set_faults(status=status)
    client = make_bedrock(attempts=3)
    with pytest.raises(getattr(client.exceptions, name)) as info:
        client.converse(modelId=HAIKU, messages=MSGS)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert emulators.bedrock.stats()["requests"] == (3 if retried else 1)


@pytest.mark.parametrize("code, fragment", [("content_filter", "content filtering"), ("context_length_exceeded", "too long")])
def test_400_faults_raise_validation_exception(emulators, bedrock, code, fragment):
    emulators.bedrock.set_faults(status=400, code=code)
    with pytest.raises(bedrock.exceptions.ValidationException, match=fragment):
        bedrock.converse(modelId=HAIKU, messages=MSGS)


def test_hang_raises_read_timeout(emulators, make_bedrock):
    emulators.bedrock.set_faults(hang_s=1.0)
    with pytest.raises(ReadTimeoutError):
        make_bedrock(read_timeout=0.2).converse(modelId=HAIKU, messages=MSGS)


def test_stream_cut_raises_event_stream_error_after_partial_text(emulators, bedrock):
    full = _text(bedrock.converse(modelId=HAIKU, messages=MSGS))
    emulators.bedrock.set_faults(cut_stream_after=3)
    events = []
    with pytest.raises(EventStreamError) as info:
        _stream_text(bedrock.converse_stream(modelId=HAIKU, messages=MSGS), events)
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"
    partial = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert len([e for e in events if "contentBlockDelta" in e]) == 3 and full.startswith(partial) and partial != full


def test_throttle_inside_stream_is_throttling_event_error(emulators, bedrock):
    emulators.bedrock.set_faults(cut_stream_after=0, status=429)
    with pytest.raises(EventStreamError) as info:
        _stream_text(bedrock.converse_stream(modelId=HAIKU, messages=MSGS))
    assert info.value.response["Error"]["Code"] == "throttlingException"
    assert emulators.bedrock.stats()["requests"] == 1  # in-stream errors are never retried


def test_cut_on_non_stream_call_closes_the_connection(emulators, make_bedrock):
    emulators.bedrock.set_faults(cut_stream_after=0)
    with pytest.raises(ConnectionClosedError):
        make_bedrock(attempts=2).converse(modelId=HAIKU, messages=MSGS)
    assert emulators.bedrock.stats()["requests"] == 2  # botocore retries a dropped connection
