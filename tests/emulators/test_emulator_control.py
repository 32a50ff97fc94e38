"""Controlling the emulators: fault specs, admin routes, latency profiles, the standalone process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from botocore.exceptions import ReadTimeoutError

from gateway_core.emulators import FaultError
from gateway_core.emulators.latency import Pacer

ROOT = Path(__file__).resolve().parents[2]
QUESTION = [{"role": "user", "content": "What makes a good retry policy?"}]
BEDROCK_MSGS = [{"role": "user", "content": [{"text": "What makes a good retry policy?"}]}]
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def _outcomes(client, n: int) -> list[str]:
    out = []
    for _ in range(n):
        try:
            client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
            out.append("ok")
        except openai.APIStatusError as exc:
            out.append(str(exc.status_code))
    return out


def test_admin_routes_set_read_and_clear_faults(emulators, azure, raw):
    url = emulators.azure.url
    status, _, body = raw(url, "POST", "/_emulator/faults", {"status": 503})
    assert status == 200 and body["faults"] == {"error_rate": 1.0, "status": 503}
    with pytest.raises(openai.InternalServerError):
        azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION)
    assert raw(url, "GET", "/_emulator/faults")[2]["faults"]["status"] == 503
    stats = raw(url, "GET", "/_emulator/stats")[2]
    assert stats["requests"] == 1 and stats["faults_injected"] == 1 and stats["by_status"] == {"503": 1}
    assert raw(url, "DELETE", "/_emulator/faults")[0] == 200
    assert azure.chat.completions.create(model="gpt-4o-mini", messages=QUESTION).choices[0].message.content
    assert raw(url, "GET", "/_emulator/stats")[2]["requests"] == 2


@pytest.mark.parametrize(
    "fields, fragment",
    [
        ({"status": 418}, "status must be one of"),
        ({"status": 400}, "needs a code"),
        ({"status": 429, "code": "content_filter"}, "only meaningful with status 400"),
        ({"error_rate": 1.5, "status": 429}, "error_rate must be between"),
        ({"error_rate": 0.5}, "needs a fault"),
        ({"hang_s": -1}, "hang_s must be between"),
        ({"cut_stream_after": 1.5}, "must be an integer"),
        ({"cut_mode": "explode", "cut_stream_after": 1}, "cut_mode must be one of"),
        ({"mix": []}, "non-empty list"),
        ({"mix": [{"status": 429}], "status": 503}, "either mix"),
        ({"mix": [{"weight": 2}]}, "needs status, hang_s or cut_stream_after"),
        ({"stauts": 429}, "unknown field"),
    ],
)
def test_nonsense_faults_are_rejected(emulators, raw, fields, fragment):
    with pytest.raises(FaultError, match=fragment):
        emulators.bedrock.set_faults(**fields)
    status, _, body = raw(emulators.bedrock.url, "POST", "/_emulator/faults", fields)
    assert status == 400 and fragment in body["error"]
    assert emulators.bedrock.faults() == {}


def test_admin_route_rejects_a_body_that_is_not_json(emulators, raw):
    status, _, body = raw(emulators.azure.url, "POST", "/_emulator/faults", b"status=429")
    assert status == 400 and "JSON" in body["error"]


def test_error_rate_with_seed_is_repeatable(emulators, azure):
    emulators.azure.set_faults(error_rate=0.5, status=500, seed=42)
    first = _outcomes(azure, 20)
    emulators.azure.set_faults(error_rate=0.5, status=500, seed=42)
    assert _outcomes(azure, 20) == first
    assert {"ok", "500"} == set(first)
    emulators.azure.set_faults(error_rate=0.5, status=500, seed=43)
    assert _outcomes(azure, 20) != first


def test_mixed_faults_pick_every_entry_of_the_mix(emulators, make_azure):
    mix = [{"status": 429}, {"status": 503}, {"status": 400, "code": "content_filter"}]
    emulators.azure.set_faults(error_rate=0.6, mix=mix, seed=7)
    outcomes = _outcomes(make_azure(max_retries=0), 60)
    assert {"ok", "429", "503", "400"} == set(outcomes)
    assert emulators.azure.stats()["faults_injected"] == 60 - outcomes.count("ok")
    assert emulators.azure.faults()["mix"][0] == {"status": 429, "weight": 1.0}


def test_thirty_percent_mixed_faults_spec_is_accepted(emulators):
    spec = emulators.bedrock.set_faults(
        error_rate=0.3,
        mix=[{"status": 429}, {"status": 503}, {"hang_s": 2}, {"cut_stream_after": 0}, {"cut_stream_after": 3}],
        seed=7,
    )
    assert spec["error_rate"] == 0.3 and len(spec["mix"]) == 5


def test_extra_latency_applies_to_every_call_without_counting_as_a_fault(emulators, make_bedrock):
    emulators.bedrock.set_faults(extra_latency_ms=1500)
    with pytest.raises(ReadTimeoutError):
        make_bedrock(read_timeout=0.3).converse(modelId=HAIKU, messages=BEDROCK_MSGS)
    assert emulators.bedrock.stats()["faults_injected"] == 0
    emulators.bedrock.set_faults(extra_latency_ms=1, status=429, error_rate=0.0)
    assert make_bedrock().converse(modelId=HAIKU, messages=BEDROCK_MSGS)["stopReason"] == "end_turn"


def test_demo_profile_makes_bedrock_slower_than_azure():
    azure, bedrock = Pacer("azure", "demo", seed=1), Pacer("bedrock", "demo", seed=1)

    def median_ttft(pacer: Pacer, model: str) -> float:
        return sorted(pacer.plan(model, 100)[0] for _ in range(51))[25]

    assert median_ttft(azure, "gpt-4o") < median_ttft(bedrock, "anthropic.claude-3-sonnet-20240229-v1:0")
    assert Pacer("azure", "zero").plan("gpt-4o", 1000) == (0.0, 0.0)
    one, two = Pacer("azure", "demo", seed=5), Pacer("azure", "demo", seed=5)
    assert [one.plan("gpt-4o", 50) for _ in range(5)] == [two.plan("gpt-4o", 50) for _ in range(5)]


def test_profile_can_be_switched_at_run_time(emulators, raw):
    emulators.azure.set_profile("demo")
    assert emulators.azure.stats()["profile"] == "demo"
    status, _, body = raw(emulators.azure.url, "POST", "/_emulator/profile", {"profile": "zero"})
    assert status == 200 and emulators.azure.stats()["profile"] == "zero"
    assert raw(emulators.azure.url, "POST", "/_emulator/profile", {"profile": "warp"})[0] == 400
    with pytest.raises(ValueError):
        emulators.azure.set_profile("warp")


def test_standalone_process_serves_both_sdks(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway_core.emulators", "--azure-port", "0", "--bedrock-port", "0", "--profile", "zero"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [proc.stdout.readline() for _ in range(12)]
        banner = "".join(lines)
        azure_url = re.search(r"AZURE_OPENAI_ENDPOINT=(\S+)", banner).group(1)
        bedrock_url = re.search(r"BEDROCK_ENDPOINT_URL=(\S+)", banner).group(1)
        for line in ("GATEWAY_MODE=live", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION="):
            assert line in banner
        client = openai.AzureOpenAI(azure_endpoint=azure_url, api_key="any", api_version="2024-10-21", max_retries=0, timeout=10)
        assert client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION).choices[0].message.content
        streamed = [c for c in client.chat.completions.create(model="gpt-4o-mini", messages=QUESTION, stream=True)]
        assert streamed[0].choices == [] and streamed[-1].choices[0].finish_reason == "stop"
        import boto3

        brt = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=bedrock_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        assert brt.converse(modelId=HAIKU, messages=BEDROCK_MSGS)["usage"]["totalTokens"] > 0
        events = list(brt.converse_stream(modelId=HAIKU, messages=BEDROCK_MSGS)["stream"])
        assert "metadata" in events[-1]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0 and "emulators stopped" in out
