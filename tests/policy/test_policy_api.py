"""The example policies through the REST API, over real HTTP: ``/generate`` with httpx and
``/v1`` with the official ``openai`` SDK, keys presented as bearer tokens, refusals as 403
``policy_denied`` in each route's own error shape."""

from __future__ import annotations

import httpx
import openai
import pytest
from api.conftest import Served
from openai import OpenAI
from policy_gateway import EU, POLICIES, SATURDAY_23, keys, policy_gateway, rows

from gateway_core.api import create_app
from gateway_core.api.contract_results import GenerateError, GenerateResponse

CHAT = "Summarise the quarterly storage review in two sentences."
CARD = "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """All four examples, on a Saturday night, served on loopback; one key per team."""
    with policy_gateway(tmp_path_factory.mktemp("policy-api") / "log.sqlite", POLICIES, at=SATURDAY_23) as gw:
        secrets = keys(gw, ana="legal", rui="research", sam="support")
        with Served(create_app(gw)) as server:
            server.gw, server.secrets = gw, secrets
            yield server


def generate(server, key: str, **body) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.secrets[key]}"}
    return httpx.post(server.url + "/generate", json={"prompt": CHAT, "max_tokens": 48, **body}, headers=headers, timeout=30)


def sdk(server, key: str) -> OpenAI:
    return OpenAI(base_url=server.url + "/v1", api_key=server.secrets[key], max_retries=0, timeout=30)


def chat(client: OpenAI, text: str = CHAT, model: str = "auto", **kw):
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": text}], max_tokens=48, **kw
    )


def test_an_eu_team_is_served_in_the_eu_on_both_routes_and_the_answer_names_the_policy(served):
    answer = generate(served, "ana", provider_hint="openai")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["provider"], body["model"]) in EU
    assert body["policy"]["version"] == served.gw.policy.version and "eu_residency_applies" in body["policy"]["matched"]
    assert GenerateResponse.model_validate(body).policy.excluded, "the documented schema holds the decision"
    with sdk(served, "ana") as client:
        raw = chat(client, model="openai")
    assert (raw.headers["x-gateway-provider"], raw.headers["x-gateway-model"]) in EU
    assert raw.parse().choices[0].message.content


def test_off_hours_only_cheap_models_answer_cheapest_first(served):
    body = generate(served, "rui", priority="low_latency", provider_hint="bedrock").json()
    assert (body["provider"], body["model"]) == ("azure", "gpt-4o-mini") and "off_hours" in body["route_reason"]


def test_personal_data_is_kept_from_the_listed_provider_and_a_card_is_masked_before_the_call(served):
    with sdk(served, "rui") as client:
        raw = chat(client, "Write to ana.lopez@example.com about the review.", model="openai")
        assert raw.headers["x-gateway-provider"] != "openai"
        masked = chat(client, f"Summarise: the customer paid with card {CARD} and was charged twice.")
    text = masked.parse().choices[0].message.content
    assert "[card]" in text and CARD not in text


@pytest.mark.parametrize(
    "key, fields, messages",
    [
        ("sam", {"model": "gpt-4o"}, ["team support may not use model gpt-4o"]),
        ("rui", {"prompt": "Deploy with sk-abcdefghijklmnopqrstuvwx"}, None),
    ],
    ids=["allow-list", "credential"],
)
def test_a_refusal_is_403_policy_denied_on_generate(served, key, fields, messages):
    r = generate(served, key, **fields)
    assert r.status_code == 403
    err = r.json()["error"]
    assert (err["type"], err["field"], err["policy_version"]) == ("policy_denied", None, served.gw.policy.version)
    assert GenerateError.model_validate(r.json()).error.messages == err["messages"]
    assert err["messages"] == (messages or [err["message"]]) and "; ".join(err["messages"]) == err["message"]


def test_a_refusal_is_403_policy_denied_on_v1_for_the_sdk_streaming_or_not(served):
    with sdk(served, "sam") as client:
        with pytest.raises(openai.PermissionDeniedError) as plain:
            chat(client, model="gpt-4o")
        with pytest.raises(openai.PermissionDeniedError) as streamed:
            client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": CHAT}], max_tokens=48, stream=True
            )
    for refused in (plain.value, streamed.value):
        assert refused.status_code == 403 and refused.code == "policy_denied"
        assert refused.body["message"] == "team support may not use model gpt-4o"
        assert refused.body["messages"] == [refused.body["message"]] and refused.body["type"] == "invalid_request_error"


def test_refusals_are_logged_as_rejected_requests_and_answers_carry_the_policy(served):
    generate(served, "sam", model="gpt-4o")
    rejected = [r for r in rows(served.gw, "rejected_requests") if r["error_type"] == "policy_denied"]
    assert rejected and {r["field"] for r in rejected} == {"policy"} and {r["source"] for r in rejected} == {"api"}
    answered = rows(served.gw)
    assert answered and all(r["policy_version"] == served.gw.policy.version for r in answered)


def test_the_openapi_document_names_both_refusals_that_answer_403(served):
    doc = httpx.get(served.url + "/openapi.json", headers={"Authorization": f"Bearer {served.secrets['ana']}"}).json()
    for path in ("/generate", "/v1/chat/completions"):
        why = doc["paths"][path]["post"]["responses"]["403"]["description"]
        assert "model_not_allowed:" in why and "policy_denied:" in why, why
        assert "rate_limited:" in doc["paths"][path]["post"]["responses"]["429"]["description"]
    facts = doc["components"]["schemas"]["GenerateResponse"]["properties"]
    assert "policy" in facts and "messages" in doc["components"]["schemas"]["GenerateErrorDetail"]["properties"]
