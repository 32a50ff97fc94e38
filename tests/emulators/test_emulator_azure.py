"""The Azure OpenAI emulator, driven by the real ``openai`` SDK (docs/wire.md)."""

from __future__ import annotations

import threading
import time

import openai
import pytest

from gateway_core.emulators import Timing, start_emulators, tokens

MSGS = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Hello, how are you today?"}]
QUESTION = [{"role": "user", "content": "How should I choose between caching strategies for database queries?"}]


def _collect(stream):
    chunks, text = [], []
    for chunk in stream:
        chunks.append(chunk)
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
    return chunks, "".join(text)


def test_chat_completion_reports_model_version_and_usage(azure):
    r = azure.chat.completions.create(model="gpt-4o-mini", messages=MSGS)
    assert r.model == "gpt-4o-mini-2024-07-18"
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.content
    if tokens.azure_rule("gpt-4o-mini").startswith("tiktoken"):
        assert r.usage.prompt_tokens == 24  # the cookbook's worked example
    assert r.usage.completion_tokens == tokens.azure_text_tokens("gpt-4o", r.choices[0].message.content)
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    assert r.usage.prompt_tokens_details.cached_tokens == 0
    assert r.usage.completion_tokens_details.reasoning_tokens == 0
    assert r.prompt_filter_results[0]["content_filter_results"]["jailbreak"] == {"filtered": False, "detected": False}
    assert r.choices[0].content_filter_results["hate"]["severity"] == "safe"


def test_stream_matches_non_stream_and_follows_azure_chunk_order(azure):
    plain = azure.chat.completions.create(model="gpt-4o", messages=QUESTION)
    chunks, text = _collect(
        azure.chat.completions.create(model="gpt-4o", messages=QUESTION, stream=True, stream_options={"include_usage": True})
    )
    assert text == plain.choices[0].message.content
    first = chunks[0]
    assert first.choices == [] and first.id == "" and first.prompt_filter_results
    assert chunks[1].choices[0].delta.role == "assistant"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 3  # small word groups
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == plain.usage.prompt_tokens


def test_usage_chunk_only_when_requested(azure):
    chunks, _ = _collect(azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True))
    assert all(getattr(c, "usage", None) is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_max_tokens_truncates_with_length_finish(azure):
    full = azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    cut = azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, max_tokens=5)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 5
    assert full.choices[0].message.content.startswith(cut.choices[0].message.content)
    _, streamed = _collect(azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, max_tokens=5, stream=True))
    assert streamed == cut.choices[0].message.content


def test_v1_route_takes_deployment_from_body(emulators):
    client = openai.OpenAI(base_url=emulators.azure.url + "/openai/v1/", api_key="k", max_retries=0)
    r = client.chat.completions.create(model="gpt-4.1-nano", messages=QUESTION)
    assert r.model == "gpt-4.1-nano-2025-04-14"
    assert emulators.azure.stats()["by_route"] == {"v1.chat.completions": 1}


def test_rate_limit_headers_and_request_id_on_success(azure):
    raw = azure.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=QUESTION)
    assert int(raw.headers["x-ratelimit-remaining-requests"]) < int(raw.headers["x-ratelimit-limit-requests"])
    assert int(raw.headers["x-ratelimit-remaining-tokens"]) < int(raw.headers["x-ratelimit-limit-tokens"])
    assert raw.headers["x-request-id"] == raw.headers["apim-request-id"]
    assert raw.parse().choices[0].message.content


def test_missing_api_version_is_resource_not_found(emulators, raw):
    status, _, body = raw(
        emulators.azure.url, "POST", "/openai/deployments/gpt-4o-mini/chat/completions", {"messages": QUESTION}, {"api-key": "k"}
    )
    assert status == 404 and body["error"]["message"] == "Resource not found"


def test_unknown_deployment_is_not_found(azure):
    with pytest.raises(openai.NotFoundError) as info:
        azure.chat.completions.create(model="no-such-deployment", messages=QUESTION)
    assert info.value.code == "DeploymentNotFound"


def test_call_without_key_is_unauthorised(emulators, raw):
    status, _, body = raw(
        emulators.azure.url,
        "POST",
        "/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
        {"messages": QUESTION},
    )
    assert status == 401 and body["error"]["code"] == "401"
    status, _, _ = raw(
        emulators.azure.url,
        "POST",
        "/openai/v1/chat/completions",
        {"model": "gpt-4o-mini", "messages": QUESTION},
        {"Authorization": "Bearer any"},
    )
    assert status == 200


def test_required_key_rejects_other_keys():
    with start_emulators(providers=("azure",), azure_api_key="right-key") as emu:
        assert emu.bedrock is None
        client = openai.AzureOpenAI(azure_endpoint=emu.azure.url, api_key="wrong-key", api_version="2024-10-21", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
        good = openai.AzureOpenAI(azure_endpoint=emu.azure.url, api_key="right-key", api_version="2024-10-21", max_retries=0)
        assert good.chat.completions.create(model="gpt-4o-mini", messages=QUESTION).choices[0].message.content


def test_custom_deployment_names_map_to_model_versions():
    with start_emulators(providers=("azure",), azure_deployments={"prod-chat": "gpt-4o", "legacy": "gpt-35-turbo-0125"}) as emu:
        client = openai.AzureOpenAI(azure_endpoint=emu.azure.url, api_key="k", api_version="2024-10-21", max_retries=0)
        assert client.chat.completions.create(model="prod-chat", messages=QUESTION).model == "gpt-4o-2024-11-20"
        assert client.chat.completions.create(model="legacy", messages=QUESTION).model == "gpt-35-turbo-0125"
        with pytest.raises(openai.NotFoundError):
            client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"messages": []}, "messages"),
        ({"messages": QUESTION, "temperature": 2.5}, "temperature"),
        ({"messages": QUESTION, "max_tokens": 0}, "max_tokens"),
        ({"messages": QUESTION, "top_p": 1.5}, "top_p"),
    ],
)
def test_invalid_requests_name_the_parameter(azure, kwargs, param):
    with pytest.raises(openai.BadRequestError) as info:
        azure.chat.completions.create(model="gpt-4o-mini", **kwargs)
    assert info.value.param == param and info.value.type == "invalid_request_error"


def test_reasoning_model_rejects_max_tokens_and_reports_reasoning(azure):
    with pytest.raises(openai.BadRequestError) as info:
        azure.chat.completions.create(model="o4-mini", messages=QUESTION, max_tokens=100)
    assert info.value.code == "unsupported_parameter"
    r = azure.chat.completions.create(model="o4-mini", messages=QUESTION, max_completion_tokens=2000)
    details = r.usage.completion_tokens_details
    assert details.reasoning_tokens > 0
    assert r.usage.completion_tokens == details.reasoning_tokens + tokens.azure_text_tokens(
        "o4-mini", r.choices[0].message.content
    )


def test_rate_limit_is_retried_by_the_sdk_then_raised(emulators, make_azure):
    emulators.azure.set_faults(status=429)
    with pytest.raises(openai.RateLimitError) as info:
        make_azure(max_retries=2).chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    headers = info.value.response.headers
    assert headers["retry-after"] == "1" and headers["retry-after-ms"] == "10"
    assert info.value.request_id == headers["x-request-id"]
    stats = emulators.azure.stats()
    assert stats["requests"] == 3 and stats["retries_seen"] == 2 and stats["faults_injected"] == 3


def test_should_retry_false_stops_sdk_retries(emulators, make_azure):
    emulators.azure.set_faults(status=503, should_retry=False)
    with pytest.raises(openai.InternalServerError):
        make_azure(max_retries=2).chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert emulators.azure.stats()["requests"] == 1


@pytest.mark.parametrize(
    "status, exc", [(500, openai.InternalServerError), (503, openai.InternalServerError), (408, openai.APIStatusError)]
)
def test_server_errors_raise_the_sdk_class(emulators, azure, status, exc):
    emulators.azure.set_faults(status=status)
    with pytest.raises(exc) as info:
        azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert info.value.status_code == status and info.value.code == str(status)
    if status == 408:
        assert not isinstance(info.value, (openai.BadRequestError, openai.InternalServerError))


@pytest.mark.parametrize("code, param", [("content_filter", "prompt"), ("context_length_exceeded", "messages")])
def test_400_faults_raise_bad_request_with_code(emulators, azure, code, param):
    emulators.azure.set_faults(status=400, code=code)
    with pytest.raises(openai.BadRequestError) as info:
        azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert info.value.code == code and info.value.param == param
    if code == "content_filter":
        assert info.value.body["innererror"]["code"] == "ResponsibleAIPolicyViolation"


def test_hang_makes_the_client_time_out(emulators, make_azure):
    emulators.azure.set_faults(hang_s=1.0)
    with pytest.raises(openai.APITimeoutError):
        make_azure(timeout=0.2).chat.completions.create(model="gpt-4o-mini", messages=QUESTION)


def test_stream_cut_mid_way_raises_connection_error_after_partial_text(emulators, azure):
    full = azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION).choices[0].message.content
    emulators.azure.set_faults(cut_stream_after=3)
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                received.append(chunk.choices[0].delta.content)
    assert len(received) == 3 and full.startswith("".join(received)) and "".join(received) != full


def test_stream_cut_before_first_token_sends_no_text(emulators, azure):
    emulators.azure.set_faults(cut_stream_after=0)
    chunks = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True):
            chunks.append(chunk)
    assert chunks and not any(c.choices and c.choices[0].delta.content for c in chunks)  # headers came, text did not
    # A cut on a non-stream call closes the connection without any answer.
    with pytest.raises(openai.APIConnectionError):
        azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)


def test_error_event_mid_stream_raises_api_error(emulators, azure):
    emulators.azure.set_faults(cut_stream_after=2, cut_mode="error_event")
    with pytest.raises(openai.APIError) as info:
        _collect(azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True))
    assert not isinstance(info.value, openai.APIStatusError) and info.value.code == "server_error"


def test_fifty_concurrent_streams_are_served_together(emulators):
    # A first-token delay of a minute holds every stream open on the server until the
    # profile switches back to zero, which releases them all at once.
    emulators.azure.set_profile(Timing(ttft_ms=60_000))
    client = openai.AzureOpenAI(
        azure_endpoint=emulators.azure.url, api_key="k", api_version="2024-10-21", max_retries=0, timeout=60
    )
    results, errors = [], []

    def one(i: int) -> None:
        try:
            msgs = [{"role": "user", "content": f"Question {i}: how do queues help with bursty traffic?"}]
            results.append(_collect(client.chat.completions.create(model="gpt-4o-mini", messages=msgs, stream=True))[1])
        except Exception as exc:  # collected so the assertion can show it
            errors.append(exc)

    # A few clients beyond 50: on a loaded 2-core machine one thread can be scheduled late,
    # and the claim under test is "at least 50 streams at once", not an exact count.
    clients = 54
    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 45
    while emulators.azure.stats()["active_streams"] < 50 and time.monotonic() < deadline and not errors:
        time.sleep(0.05)
    emulators.azure.set_profile("zero")
    for t in threads:
        t.join(30)
    assert errors == [] and len(results) == clients and all(results)
    # A client holds its last byte before the server thread has left the stream, so the open
    # count is read once the server says every stream has closed, not straight away.
    assert emulators.azure.wait_streams_closed(timeout=10)
    stats = emulators.azure.stats()
    assert stats["max_concurrent_streams"] >= 50 and stats["active_streams"] == 0
