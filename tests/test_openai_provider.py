"""The OpenAI-compatible provider: configured by the SDK's own variables, routed, priced and logged
like the others, and driven in live mode through a plain ``openai.OpenAI`` client against the
Azure emulator's ``/openai/v1`` route (bearer key, model in the body)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from gateway_fixtures import HAIKU, log_rows

from gateway_core import AllProvidersFailed, ConfigError, Gateway, GenerateRequest, Settings
from gateway_core.emulators import start_emulators
from gateway_core.emulators.azure.wire import MODEL_VERSIONS
from gateway_core.pricing import PriceTable
from gateway_core.providers import PROVIDERS, OpenAICompatProvider

OPENAI_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano")


@pytest.mark.parametrize(
    "env, enabled",
    [
        ({}, False),
        ({"OPENAI_MODEL": "gpt-4o"}, False),  # a model alone does not turn it on
        ({"OPENAI_API_KEY": "sk-test-key"}, True),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:11434/v1"}, True),  # a local server needs no key
    ],
)
def test_openai_takes_part_only_when_a_key_or_base_url_is_set(env, enabled):
    s = Settings.from_mapping(env)
    assert ("openai" in s.enabled_providers()) is enabled
    assert s.provider("openai").model_ids() == (("gpt-4o",) if "OPENAI_MODEL" in env else ("gpt-4o-mini",))


def test_openai_models_are_comma_separated_and_its_key_stays_secret():
    s = Settings.from_mapping({"OPENAI_API_KEY": "sk-planted-0123456789", "OPENAI_MODEL": "gpt-4.1-nano, gpt-4o"})
    assert s.provider("openai").model_ids() == ("gpt-4.1-nano", "gpt-4o")
    assert "sk-planted-0123456789" not in repr(s) and "sk-planted-0123456789" in s.secrets()


def test_live_mode_does_not_require_openai_but_checks_the_others():
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping({"GATEWAY_MODE": "live", "OPENAI_API_KEY": "sk-test-key"})
    assert info.value.variable == "AZURE_OPENAI_ENDPOINT"


def test_the_registry_lists_openai_with_its_facts():
    assert PROVIDERS["openai"] is OpenAICompatProvider
    assert OpenAICompatProvider.label == "OpenAI-compatible" and not OpenAICompatProvider.calibrate_input_tokens
    assert {"OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"} <= set(Settings.env_names())


@pytest.mark.parametrize("model", OPENAI_MODELS)
def test_every_openai_model_has_a_dated_price_row(model):
    table = PriceTable.load()
    row = table.lookup("openai", model)
    assert row is not None and row.status == "active" and row.source and row.verified_at is not None
    assert row.output > row.input > 0
    # The service answers with the dated version, which bills as the same row.
    assert table.lookup("openai", MODEL_VERSIONS[model]) == row


def _live_env(emus, db) -> dict[str, str]:
    return {
        "GATEWAY_MODE": "live",
        "GATEWAY_DB_PATH": str(db),
        "GATEWAY_TIMEOUT_S": "5",
        "AZURE_OPENAI_ENDPOINT": emus.azure.url,
        "AZURE_OPENAI_API_KEY": "azure-test-key",
        "BEDROCK_ENDPOINT_URL": emus.bedrock.url,
        "BEDROCK_MODEL_ID": HAIKU,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": "us-east-1",
        "OPENAI_BASE_URL": f"{emus.azure.url}/openai/v1",
        "OPENAI_API_KEY": "openai-test-key",
        "OPENAI_MODEL": "gpt-4.1-nano,gpt-4o-mini",
    }


@pytest.fixture(scope="module")
def emus():
    # The Azure emulator serves both the Azure deployments and the plain OpenAI route.
    with start_emulators(profile="zero", azure_deployments=["gpt-4o-mini", "gpt-4.1-nano"]) as e:
        yield e


@pytest.fixture
def gw(emus, tmp_path):
    for emu in (emus.azure, emus.bedrock):
        emu.clear_faults()
        emu.reset_stats()
    g = Gateway.from_env(_live_env(emus, tmp_path / "log.sqlite"), dotenv_path=None)
    yield g
    g.close()


def test_live_openai_answers_through_the_v1_route_and_is_priced_as_openai(gw, emus, tmp_path):
    assert gw.provider_modes() == {"azure": "LIVE", "bedrock": "LIVE", "openai": "LIVE"}
    assert ("openai", "gpt-4.1-nano") in gw.candidates() and ("openai", "gpt-4o-mini") in gw.candidates()
    r = gw.generate(GenerateRequest(prompt="Name three rivers.", provider_hint="openai", model="gpt-4.1-nano"))
    assert (r.provider, r.model) == ("openai", "gpt-4.1-nano") and r.text
    assert r.model == "gpt-4.1-nano" and r.extra["reported_model"].startswith("gpt-4.1-nano-")
    price = PriceTable.load().lookup("openai", "gpt-4.1-nano")
    expected = price.charge(r.usage.input_tokens, r.usage.output_tokens)
    assert r.cost_usd == expected and r.cost_usd > Decimal(0)
    assert emus.azure.stats()["by_route"] == {"v1.chat.completions": 1}
    gw.close()
    row = log_rows(tmp_path / "log.sqlite")[-1]
    assert (row["provider"], row["model"], row["status"], row["final"]) == ("openai", "gpt-4.1-nano", "ok", 1)
    assert row["cost_usd"] == pytest.approx(float(expected))


def test_live_openai_streams_with_usage(gw):
    stream = gw.stream(GenerateRequest(prompt="Tell me about routing", provider_hint="openai", model="gpt-4o-mini"))
    text = "".join(stream)
    assert text == stream.result.text and stream.result.provider == "openai"
    assert stream.result.usage.output_tokens > 0 and stream.result.ttft_ms is not None


def test_a_failing_openai_endpoint_falls_back_to_another_provider(gw, emus):
    emus.azure.set_faults(status=503)  # the emulator behind both Azure and the OpenAI route
    r = gw.generate(GenerateRequest(prompt="Hello", provider_hint="openai"))
    assert r.fallback_used and r.provider == "bedrock"
    assert [a.provider for a in r.attempts][0] == "openai" and r.attempts[0].error_type == "unavailable"


def test_compare_covers_every_configured_provider(gw):
    results = gw.compare(GenerateRequest(prompt="Compare me"))
    assert [r.provider for r in results] == ["azure", "bedrock", "openai"]
    assert all(r.text and r.cost_usd is not None for r in results)


def test_a_wrong_key_is_an_auth_failure_not_a_fallback_storm(emus, tmp_path):
    with start_emulators(profile="zero", azure_api_key="the-right-key") as keyed:
        env = _live_env(keyed, tmp_path / "keyed.sqlite") | {"AZURE_OPENAI_API_KEY": "the-right-key"}
        g = Gateway.from_env(env, dotenv_path=None)
        try:
            with pytest.raises(Exception) as info:
                g.generate(GenerateRequest(prompt="Hello", provider_hint="openai", fallback=False))
        finally:
            g.close()
    assert not isinstance(info.value, AllProvidersFailed)
    assert info.value.type_name == "auth_failed" and "openai-test-key" not in str(info.value)
