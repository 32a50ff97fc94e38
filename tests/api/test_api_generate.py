"""``POST /generate``: the original contract over real HTTP, JSON and SSE, and provider failures."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal

import httpx
import pytest

from gateway_core.api import create_app

from .conftest import Served, rejected, rows

# The README's calls, byte for byte.
CURL_LOW_COST = b'{"prompt":"Hello","task":"chat","priority":"low_cost"}'
CURL_BEDROCK = b'{"prompt":"Hello","task":"chat","priority":"low_cost","provider_hint":"bedrock"}'
JSON = {"Content-Type": "application/json"}


def _post(http, body: bytes) -> httpx.Response:
    return http.post("/generate", content=body, headers=JSON)


def test_readme_curl_body_answers_with_the_full_result(http, gw):
    r = _post(http, CURL_LOW_COST)
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["text"].strip()
    assert (d["provider"], d["model"]) == ("azure", "gpt-4o-mini")  # the cheapest configured model
    assert d["usage"]["total_tokens"] == d["usage"]["input_tokens"] + d["usage"]["output_tokens"] > 0
    assert d["usage"]["source"] == "provider"
    assert d["estimate"]["input_tokens"] > 0 and Decimal(d["estimate"]["cost_usd"]) > 0
    assert Decimal(d["cost_usd"]) > 0 and d["unpriced"] is False
    assert d["counterfactual"]["provider"] == "bedrock" and Decimal(d["counterfactual"]["cost_usd"]) > 0
    assert d["latency_ms"] > 0 and d["ttft_ms"] is not None
    assert [a["status"] for a in d["attempts"]] == ["ok"]
    assert d["fallback_used"] is False and d["route_reason"].startswith("low_cost")
    assert r.headers["x-request-id"] == d["request_id"]
    assert rows(gw, f"request_id = '{d['request_id']}'")[-1]["final"] == 1


def test_readme_curl_body_with_bedrock_hint_answers_from_bedrock(http):
    r = _post(http, CURL_BEDROCK)
    assert r.status_code == 200, r.text
    assert r.json()["provider"] == "bedrock"
    assert r.headers["x-gateway-provider"] == "bedrock"


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
@pytest.mark.parametrize("body,provider", [(CURL_LOW_COST, "azure"), (CURL_BEDROCK, "bedrock")])
def test_the_literal_curl_command_works(server, body, provider):
    out = subprocess.run(
        ["curl", "-sS", "-X", "POST", f"{server.url}/generate", "-H", "Content-Type: application/json", "-d", body.decode()],
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert json.loads(out.stdout)["provider"] == provider


def test_null_and_auto_hint_and_defaults_are_accepted(http):
    r = http.post("/generate", json={"prompt": "Hi", "provider_hint": "auto", "task": None, "priority": None})
    assert r.status_code == 200, r.text
    assert r.json()["route_reason"].startswith("balanced")


def _sse(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in text.strip().split("\n\n"):
        name = None
        data = []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data.append(line[6:])
        events.append((name, "\n".join(data)))
    return events


def test_stream_sends_deltas_then_the_full_result_then_done(http, gw):
    r = http.post("/generate", json={"prompt": "Tell me a story", "stream": True, "provider_hint": "bedrock"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _sse(r.text)
    assert events[-1] == (None, "[DONE]")
    deltas = [json.loads(d)["delta"] for _, d in events[:-2]]
    final = json.loads(events[-2][1])
    assert len(deltas) > 1 and "".join(deltas) == final["text"]
    assert final["provider"] == "bedrock" and final["request_id"] == r.headers["x-request-id"]
    assert rows(gw, f"request_id = '{final['request_id']}'")[-1]["streamed"] == 1


@pytest.fixture
def faulty():
    """A server of its own, so faults and open breakers stay out of the shared gateway."""
    from gateway_fixtures import demo_gateway

    def start(tmp_path):
        gw = demo_gateway(tmp_path / "faulty.sqlite")
        return gw, Served(create_app(gw))

    return start


def test_every_provider_failing_is_a_502_listing_each_attempt(faulty, tmp_path):
    gw, served = faulty(tmp_path)
    gw.emulators.azure.set_faults(status=503)
    gw.emulators.bedrock.set_faults(status=503)
    with gw, served:
        r = httpx.post(served.url + "/generate", json={"prompt": "Hello SECRETPROMPT"}, timeout=30)
        ok = httpx.get(served.url + "/healthz")
    assert r.status_code == 502
    err = r.json()["error"]
    assert err["type"] == "all_providers_failed"
    assert {a["provider"] for a in err["attempts"]} == {"azure", "bedrock"}
    assert all(a["status"] == "error" and a["error_type"] == "unavailable" for a in err["attempts"])
    assert "SECRETPROMPT" not in r.text
    assert r.headers["x-request-id"] == err["request_id"]
    assert len(rows(gw, f"request_id = '{err['request_id']}'")) == len(err["attempts"])
    assert ok.status_code == 200


def test_content_filter_is_a_400_and_v1_says_content_filter(faulty, tmp_path):
    gw, served = faulty(tmp_path)
    gw.emulators.azure.set_faults(status=400, code="content_filter")
    with gw, served:
        r = httpx.post(served.url + "/generate", json={"prompt": "Hello", "provider_hint": "azure"}, timeout=30)
        v1 = httpx.post(
            served.url + "/v1/chat/completions",
            timeout=30,
            json={"model": "azure", "messages": [{"role": "user", "content": "Hello"}]},
        )
    assert r.status_code == 400 and r.json()["error"]["type"] == "content_filter"
    assert v1.status_code == 400 and v1.json()["error"]["code"] == "content_filter"


def test_all_failed_while_streaming_is_a_502_before_any_event(faulty, tmp_path):
    gw, served = faulty(tmp_path)
    gw.emulators.azure.set_faults(status=429)
    gw.emulators.bedrock.set_faults(status=500)
    with gw, served:
        r = httpx.post(served.url + "/generate", json={"prompt": "Hello", "stream": True}, timeout=30)
        v1 = httpx.post(
            served.url + "/v1/chat/completions",
            timeout=30,
            json={"model": "auto", "stream": True, "messages": [{"role": "user", "content": "Hello"}]},
        )
    assert r.status_code == 502 and r.headers["content-type"] == "application/json"
    assert len(r.json()["error"]["attempts"]) >= 2
    assert v1.status_code == 502 and v1.json()["error"]["code"] == "all_providers_failed"


def test_mid_stream_failure_is_an_error_event(faulty, tmp_path):
    gw, served = faulty(tmp_path)
    gw.emulators.bedrock.set_faults(cut_stream_after=2, cut_mode="drop")
    with gw, served:
        r = httpx.post(
            served.url + "/generate", timeout=30, json={"prompt": "Tell me a story", "stream": True, "provider_hint": "bedrock"}
        )
    events = _sse(r.text)
    assert r.status_code == 200
    assert events[0][0] is None and "delta" in json.loads(events[0][1])
    assert events[-1][0] == "error"
    assert json.loads(events[-1][1])["error"]["type"] == "provider_error"


def test_client_leaving_mid_stream_logs_a_cancelled_attempt_with_what_was_delivered(tmp_path):
    import time

    from gateway_fixtures import demo_gateway

    # The demo latency profile paces tokens like a real model, so the stream is still
    # running when the client walks away.
    gw = demo_gateway(tmp_path / "leave.sqlite", GATEWAY_EMULATOR_PROFILE="demo")
    with gw, Served(create_app(gw)) as served:
        body = {"prompt": "Write a long story about a lighthouse keeper.", "stream": True, "max_tokens": 400}
        with httpx.stream("POST", served.url + "/generate", json=body, timeout=30) as r:
            request_id = r.headers["x-request-id"]
            next(r.iter_lines())
        deadline = time.monotonic() + 20
        while not (logged := rows(gw, f"request_id = '{request_id}'")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert httpx.get(served.url + "/healthz").status_code == 200
    assert [(row["status"], row["error_type"]) for row in logged] == [("cancelled", "cancelled")]
    row = logged[0]
    # The provider bills what it generated, so the row carries an estimate of it.
    assert row["token_source"] == "estimated"
    assert row["input_tokens"] == row["prompt_tokens_est"] > 0
    assert 0 < row["output_tokens"] < 400
    assert row["cost_usd"] > 0 and row["unpriced"] == 0


def test_client_leaving_a_non_streaming_call_still_logs_the_full_billed_answer(tmp_path):
    import time

    from gateway_fixtures import demo_gateway

    gw = demo_gateway(tmp_path / "leave_sync.sqlite", GATEWAY_EMULATOR_PROFILE="demo")
    with gw, Served(create_app(gw)) as served:
        body = {"prompt": "Write a long story about a lighthouse keeper.", "max_tokens": 300, "user": "leaver"}
        with pytest.raises(httpx.TimeoutException):
            httpx.post(served.url + "/generate", json=body, timeout=0.3)
        deadline = time.monotonic() + 20
        while not (logged := rows(gw, "user = 'leaver'")) and time.monotonic() < deadline:
            time.sleep(0.1)
    # Nothing can stop a provider call already sent, so it runs to the end and is billed in full.
    assert [(row["status"], row["token_source"]) for row in logged] == [("ok", "provider")]
    assert logged[0]["output_tokens"] > 0 and logged[0]["cost_usd"] > 0


def test_an_unpriced_model_reports_null_cost_never_zero(tmp_path):
    from gateway_fixtures import demo_gateway

    gw = demo_gateway(tmp_path / "unpriced.sqlite", AZURE_OPENAI_DEPLOYMENT="house-model")
    with gw, Served(create_app(gw)) as served:
        r = httpx.post(served.url + "/generate", json={"prompt": "Hello", "model": "house-model"}, timeout=30)
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["model"], d["cost_usd"], d["unpriced"]) == ("house-model", None, True)
    assert r.headers["x-gateway-cost-usd"] == "unpriced"


def test_a_rejected_request_is_logged_with_its_user(http, gw):
    r = http.post("/generate", json={"prompt": "Hi", "user": "alice", "max_tokens": 0})
    assert r.status_code == 422
    assert rejected(gw)[-1]["user"] == "alice"
