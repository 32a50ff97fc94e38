"""End-to-end behaviour of the Gateway facade: real SDKs, in-process emulators, real SQLite."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest
from gateway_fixtures import HAIKU, demo_gateway, log_rows

from gateway_core import (
    AllProvidersFailed,
    ContentFiltered,
    GatewayError,
    GenerateRequest,
    StreamInterrupted,
    ValidationError,
)

PARAGRAPH = (
    "The quarterly review covered three regions. Sales in the north grew by twelve percent, "
    "driven by the new retail partners. The south stayed flat because of supply delays. "
    "The west launched two products and hired forty engineers. Overall revenue rose six percent."
)


@pytest.fixture
def gw(tmp_path):
    g = demo_gateway(tmp_path / "log.sqlite")
    yield g
    g.close()


def test_generate_answers_with_cost_route_and_usage(gw):
    r = gw.generate(GenerateRequest(prompt="Summarise: " + PARAGRAPH, task="summarise", priority="low_cost"))
    assert r.text.strip()
    assert r.provider in ("azure", "bedrock")
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.usage.source == "provider"
    assert isinstance(r.cost_usd, Decimal) and r.cost_usd > 0
    assert r.estimated_cost_usd is not None and r.counterfactual_cost_usd is not None
    assert r.counterfactual_provider not in (None, r.provider)
    assert r.route_reason.startswith("low_cost")
    assert len(r.attempts) == 1 and not r.fallback_used


def test_low_cost_picks_the_cheapest_configured_model(gw):
    r = gw.generate(GenerateRequest(prompt="Hello there", priority="low_cost"))
    # gpt-4o-mini ($0.15/$0.60) is the cheapest of the four configured candidates.
    assert (r.provider, r.model) == ("azure", "gpt-4o-mini")


def test_provider_hint_bedrock_answers_from_bedrock(gw):
    r = gw.generate(GenerateRequest(prompt="Hello", provider_hint="bedrock"))
    assert r.provider == "bedrock"


def test_azure_throttled_falls_back_to_bedrock_and_logs_both_attempts(gw, tmp_path):
    gw.emulators.azure.set_faults(status=429)
    r = gw.generate(GenerateRequest(prompt="Hello", provider_hint="azure"))
    assert r.provider == "bedrock" and r.fallback_used
    assert [a.status for a in r.attempts] == ["error", "ok"]
    assert r.attempts[0].error_type == "rate_limited"
    gw.usage_log.flush()
    rows = log_rows(tmp_path / "log.sqlite", f"request_id = '{r.request_id}'")
    assert [(x["provider"], x["status"], x["final"]) for x in rows] == [("azure", "error", 0), ("bedrock", "ok", 1)]


def test_stream_cut_before_first_token_falls_back(gw):
    gw.emulators.azure.set_faults(cut_stream_after=0)
    stream = gw.stream(GenerateRequest(prompt="Tell me about routing", provider_hint="azure"))
    text = "".join(stream)
    assert text and stream.result.provider == "bedrock"
    assert stream.result.attempts[0].status == "error"
    assert stream.result.ttft_ms is not None


def test_stream_cut_after_first_token_raises_and_is_logged_as_error(gw, tmp_path):
    gw.emulators.azure.set_faults(cut_stream_after=2)
    stream = gw.stream(GenerateRequest(prompt="Tell me about routing in detail", provider_hint="azure"))
    got = []
    with pytest.raises(StreamInterrupted) as info:
        for chunk in stream:
            got.append(chunk)
    assert got, "some text reached the caller before the cut"
    gw.usage_log.flush()
    rows = log_rows(tmp_path / "log.sqlite", f"request_id = '{info.value.request_id}'")
    assert [(r["status"], r["error_type"], r["final"]) for r in rows] == [("error", "stream_interrupted", 1)]


def test_non_retryable_error_ends_the_request_without_fallback(gw):
    gw.emulators.azure.set_faults(status=400, code="content_filter")
    with pytest.raises(ContentFiltered) as info:
        gw.generate(GenerateRequest(prompt="Hello", provider_hint="azure"))
    assert len(info.value.attempts) == 1


def test_all_providers_failing_carries_every_attempt(gw):
    gw.emulators.azure.set_faults(status=503)
    gw.emulators.bedrock.set_faults(status=503)
    with pytest.raises(AllProvidersFailed) as info:
        gw.generate(GenerateRequest(prompt="Hello"))
    assert {a.provider for a in info.value.attempts} == {"azure", "bedrock"}
    assert all(a.status == "error" for a in info.value.attempts)


def test_compare_runs_both_providers_without_fallback(gw):
    gw.emulators.bedrock.set_faults(status=503)
    azure, bedrock = gw.compare(GenerateRequest(prompt="Compare me"))
    assert azure.provider == "azure" and azure.text
    assert isinstance(bedrock, GatewayError) and bedrock.provider == "bedrock"
    assert len(bedrock.attempts) == 1, "compare never falls back to the other provider"


def test_close_flushes_and_the_original_query_works(tmp_path):
    db = tmp_path / "log.sqlite"
    g = demo_gateway(db)
    for _ in range(5):
        g.generate(GenerateRequest(prompt="Hello", task="chat", priority="low_cost"))
    g.close()
    con = sqlite3.connect(db)
    rows = con.execute(
        "SELECT provider, model, total_tokens_est, cost_est_usd FROM usage_logs ORDER BY id DESC LIMIT 10"
    ).fetchall()
    con.close()
    assert len(rows) == 5
    assert all(r[2] > 0 and r[3] > 0 for r in rows)


def test_unknown_model_is_unpriced_not_free(tmp_path):
    db = tmp_path / "log.sqlite"
    g = demo_gateway(db, AZURE_OPENAI_DEPLOYMENT="house-model", AZURE_OPENAI_MODEL_MAP="house-model=gpt-9-preview")
    try:
        r = g.generate(GenerateRequest(prompt="Hello", provider_hint="azure"))
    finally:
        g.close()
    assert r.provider == "azure" and r.unpriced and r.cost_usd is None
    row = log_rows(db, f"request_id = '{r.request_id}'")[-1]
    assert row["unpriced"] == 1 and row["cost_usd"] is None


def test_invalid_request_is_rejected_before_any_call(gw):
    with pytest.raises(ValidationError) as info:
        gw.generate(GenerateRequest(prompt="   "))
    assert info.value.field == "prompt"
    assert gw.emulators.azure.stats()["requests"] == 0


def test_content_is_not_stored_by_default_and_masked_when_enabled(tmp_path):
    secret_mail = "jane.doe@example.com"
    db = tmp_path / "off.sqlite"
    g = demo_gateway(db)
    g.generate(GenerateRequest(prompt=f"Mail {secret_mail} about the invoice"))
    g.close()
    assert all(r["prompt_text"] is None and r["response_text"] is None for r in log_rows(db))

    db2 = tmp_path / "on.sqlite"
    g = demo_gateway(db2, GATEWAY_STORE_CONTENT="true")
    g.generate(GenerateRequest(prompt=f"Mail {secret_mail} about the invoice"))
    g.close()
    stored = log_rows(db2)[-1]
    assert stored["prompt_text"] and secret_mail not in stored["prompt_text"]
    assert "invoice" in stored["prompt_text"]


def test_router_learns_latency_across_restart(tmp_path):
    db = tmp_path / "log.sqlite"
    g = demo_gateway(db)
    for _ in range(3):
        g.generate(GenerateRequest(prompt="warm up", provider_hint="bedrock", model=HAIKU))
    g.close()
    g2 = demo_gateway(db)
    try:
        assert g2.latency.snapshot().samples.get(("bedrock", HAIKU), 0) >= 3
    finally:
        g2.close()


def test_live_mode_configured_only_by_env_works_against_running_emulators(tmp_path):
    from gateway_core import Gateway
    from gateway_core.emulators import start_emulators

    with start_emulators(profile="zero") as emus:
        env = {
            "GATEWAY_MODE": "live",
            "AZURE_OPENAI_ENDPOINT": emus.azure.url,
            "AZURE_OPENAI_API_KEY": "live-test-key",
            "BEDROCK_ENDPOINT_URL": emus.bedrock.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "BEDROCK_MODEL_ID": HAIKU,
            "GATEWAY_DB_PATH": str(tmp_path / "live.sqlite"),
        }
        gw = Gateway.from_env(env, dotenv_path=None)
        try:
            assert gw.emulators is None and gw.provider_modes() == {"azure": "LIVE", "bedrock": "LIVE"}
            azure = gw.generate(GenerateRequest(prompt="Hello", provider_hint="azure"))
            stream = gw.stream(GenerateRequest(prompt="Hello", provider_hint="bedrock"))
            text = "".join(stream)
        finally:
            gw.close()
        assert azure.provider == "azure" and azure.cost_usd > 0
        assert text and stream.result.provider == "bedrock" and stream.result.usage.output_tokens > 0
        assert emus.azure.stats()["requests"] >= 1 and emus.bedrock.stats()["requests"] >= 1


def test_cli_generate_prints_answer_provider_route_and_cost(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "GATEWAY_MODE": "demo",
        "GATEWAY_EMULATOR_PROFILE": "zero",
        "GATEWAY_DB_PATH": str(tmp_path / "cli.sqlite"),
    }
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway_core.cli",
            "generate",
            "Summarise: " + PARAGRAPH,
            "--task",
            "summarise",
            "--provider",
            "bedrock",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "provider : bedrock" in out.stdout
    assert "route    : " in out.stdout and "cost     : $" in out.stdout
    assert "Traceback" not in out.stderr


def test_cli_reports_bad_input_in_one_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "GATEWAY_MODE": "demo",
        "GATEWAY_EMULATOR_PROFILE": "zero",
        "GATEWAY_DB_PATH": str(tmp_path / "cli.sqlite"),
    }
    out = subprocess.run(
        [sys.executable, "-m", "gateway_core.cli", "generate", "   "],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: prompt:") and "Traceback" not in out.stderr
