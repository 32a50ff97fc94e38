"""HTTP hygiene of the API: routes clients probe, ambiguous headers, encodings, and what a
failed-over request tells a retrying client. Real uvicorn, the official SDK and httpx."""

from __future__ import annotations

import gzip
import json

import httpx
import openai
import pytest
from gateway_fixtures import demo_gateway
from openai import OpenAI

from gateway_core.api import create_app
from gateway_core.api.errors import failover_answer
from gateway_core.types import Attempt

from .conftest import Served

HELLO = [{"role": "user", "content": "Say hello in five words."}]
V1_BODY = {"model": "auto", "messages": HELLO}


@pytest.fixture(scope="module")
def quick_gw(tmp_path_factory):
    # One SDK attempt per candidate, so a failover that waits on retry-after stays fast.
    g = demo_gateway(tmp_path_factory.mktemp("hygiene") / "log.sqlite", GATEWAY_SDK_MAX_ATTEMPTS="1")
    yield g
    g.close()


@pytest.fixture(scope="module")
def quick(quick_gw):
    with Served(create_app(quick_gw)) as s:
        yield s


@pytest.fixture
def faults(quick_gw):
    yield quick_gw.emulators
    for emu in quick_gw.emulators.running().values():
        emu.clear_faults()
        emu.reset_stats()


def test_head_on_the_health_route_answers_like_get(http):
    r = http.head("/healthz")
    assert r.status_code == 200 and r.content == b""
    assert http.get("/healthz").json()["status"] == "ok"


def test_models_retrieve_returns_one_model_and_a_404_names_an_unknown_one(sdk):
    m = sdk.models.retrieve("gpt-4o-mini")
    assert (m.id, m.object, m.owned_by) == ("gpt-4o-mini", "model", "azure")
    assert sdk.models.retrieve("anthropic.claude-3-haiku-20240307-v1:0").owned_by == "bedrock"
    assert sdk.models.retrieve("auto").owned_by == "gateway"
    with pytest.raises(openai.NotFoundError) as e:
        sdk.models.retrieve("gpt-9-preview")
    assert e.value.code == "model_not_found" and e.value.param == "model"


def test_a_method_the_route_lacks_gets_405_with_allow(http):
    r = http.delete("/v1/chat/completions")
    assert r.status_code == 405 and "POST" in r.headers["allow"]
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_two_authorization_headers_are_refused_naming_the_header(http):
    headers = [("authorization", "Bearer one"), ("authorization", "Bearer two"), ("content-type", "application/json")]
    r = http.post("/v1/chat/completions", content=json.dumps(V1_BODY), headers=headers)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "authorization" and r.json()["error"]["code"] == "duplicate_header"
    r = http.post("/generate", content=b'{"prompt": "hi"}', headers=headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == "authorization"


def test_a_gzip_body_is_accepted_and_the_limit_applies_after_decompression(http):
    headers = {"content-type": "application/json", "content-encoding": "gzip"}
    r = http.post("/v1/chat/completions", content=gzip.compress(json.dumps(V1_BODY).encode()), headers=headers)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"]
    # 2 MiB of spaces compress to about 2 KiB: under the limit on the wire, over it inflated.
    bomb = gzip.compress(b'{"prompt": "hi"' + b" " * (2 * 1024 * 1024) + b"}")
    assert len(bomb) < 1024 * 1024
    r = http.post("/generate", content=bomb, headers=headers)
    assert r.status_code == 413 and "after decompression" in r.json()["error"]["message"]
    r = http.post("/generate", content=b"not gzip at all", headers=headers)
    assert r.status_code == 400 and r.json()["error"]["field"] == "content-encoding"


def test_a_content_encoding_other_than_gzip_or_identity_gets_415(http):
    r = http.post("/v1/chat/completions", content=b"{}", headers={"content-type": "application/json", "content-encoding": "br"})
    assert r.status_code == 415 and r.json()["error"]["param"] == "content-encoding"


def test_a_pinned_model_is_never_served_by_another_model(quick, faults):
    faults.azure.set_faults(status=503)
    with OpenAI(base_url=quick.url + "/v1", api_key="k", max_retries=0) as sdk:
        with pytest.raises(openai.APIStatusError) as e:
            sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO)
    attempts = e.value.body["attempts"]
    assert [(a["provider"], a["model"]) for a in attempts] == [("azure", "gpt-4o-mini")]
    assert faults.bedrock.stats()["requests"] == 0


def test_after_a_failover_the_sdk_is_told_not_to_retry_the_whole_request(quick, faults):
    for emu in faults.running().values():
        emu.set_faults(status=503)
    with OpenAI(base_url=quick.url + "/v1", api_key="k") as sdk:  # default max_retries=2
        with pytest.raises(openai.InternalServerError) as e:
            sdk.chat.completions.create(model="auto", messages=HELLO)
    assert e.value.status_code == 502 and e.value.response.headers["x-should-retry"] == "false"
    calls = sum(emu.stats()["requests"] for emu in faults.running().values())
    assert calls == 4  # one gateway request: 4 candidates, one SDK attempt each (not 3 x 4)


def test_when_every_candidate_is_rate_limited_the_answer_says_how_long_to_wait(quick, faults):
    for emu in faults.running().values():
        emu.set_faults(status=429, retry_after_s=7)
    r = httpx.post(quick.url + "/v1/chat/completions", json=V1_BODY, timeout=30)
    assert r.status_code == 503
    assert r.headers["retry-after"] == "7" and r.headers["x-should-retry"] == "false"
    assert {a["error_type"] for a in r.json()["error"]["attempts"]} == {"rate_limited"}


def _attempt(kind, retry_after=None):
    return Attempt("p", "m", "error", 1.0, error_type=kind, retry_after=retry_after)


@pytest.mark.parametrize(
    "attempts, status, headers",
    [
        ((_attempt("unavailable"),), 502, {}),
        ((_attempt("unavailable"), _attempt("rate_limited", 3)), 502, {"x-should-retry": "false"}),
        ((_attempt("rate_limited", 2.2), _attempt("rate_limited", 0.5)), 503, {"x-should-retry": "false", "retry-after": "3"}),
        ((_attempt("rate_limited"),), 503, {"retry-after": "1"}),
        ((_attempt("timeout"), _attempt("timeout")), 504, {"x-should-retry": "false"}),
        ((), 502, {}),
    ],
)
def test_the_failover_answer_by_what_the_attempts_met(attempts, status, headers):
    assert failover_answer(attempts) == (status, headers)


def test_cors_is_off_by_default_and_answers_only_listed_origins_when_set(http, tmp_path):
    preflight = {"origin": "http://app.example", "access-control-request-method": "POST"}
    assert "access-control-allow-origin" not in http.options("/v1/chat/completions", headers=preflight).headers
    g = demo_gateway(tmp_path / "cors.sqlite", GATEWAY_CORS_ORIGINS="http://app.example")
    try:
        with Served(create_app(g)) as s:
            ok = httpx.options(s.url + "/v1/chat/completions", headers=preflight)
            other = httpx.options(s.url + "/v1/chat/completions", headers={**preflight, "origin": "http://evil.example"})
            posted = httpx.post(s.url + "/v1/chat/completions", json=V1_BODY, headers={"origin": "http://app.example"})
    finally:
        g.close()
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "http://app.example"
    assert "access-control-allow-origin" not in other.headers
    assert posted.headers["access-control-allow-origin"] == "http://app.example"
    assert "x-request-id" in posted.headers["access-control-expose-headers"]
