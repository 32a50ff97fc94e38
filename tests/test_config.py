"""Settings: env parsing, modes, and errors that name the variable at fault."""

from __future__ import annotations

import pytest

from gateway_core import ConfigError, Settings


def test_defaults_follow_the_design():
    s = Settings.from_mapping({})
    azure, bedrock = s.provider("azure"), s.provider("bedrock")
    assert s.mode == "auto"
    assert azure.model_ids() == ("gpt-4o-mini",)
    assert bedrock.model_ids() == ("anthropic.claude-3-5-haiku-20241022-v1:0",)
    assert azure.api_version == "2024-10-21"
    assert bedrock.region == "eu-west-2"
    assert s.db_path == "./usage_logs.sqlite"
    assert s.store_content is False


def test_comma_separated_models_give_several_candidates():
    s = Settings.from_mapping({"AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini, gpt-4o", "BEDROCK_MODEL_ID": "a,b,c"})
    assert s.provider("azure").model_ids() == ("gpt-4o-mini", "gpt-4o")
    assert s.provider("bedrock").model_ids() == ("a", "b", "c")


def test_a_deployment_is_priced_as_the_model_it_serves():
    azure = Settings.from_mapping({"AZURE_OPENAI_MODEL_MAP": "prod-mini=gpt-4o-mini, big = gpt-4o"}).provider("azure")
    assert (azure.priced_as("prod-mini"), azure.priced_as("big"), azure.priced_as("gpt-4.1")) == (
        "gpt-4o-mini",
        "gpt-4o",
        "gpt-4.1",
    )


def test_empty_variables_count_as_unset():
    s = Settings.from_mapping({"AZURE_OPENAI_DEPLOYMENT": "", "GATEWAY_MODE": "", "AWS_REGION": ""})
    assert s.provider("azure").model_ids() == ("gpt-4o-mini",) and s.mode == "auto"
    assert s.provider("bedrock").region == "eu-west-2"


@pytest.mark.parametrize(
    "env, emulated",
    [
        ({}, ("azure", "bedrock")),
        ({"GATEWAY_MODE": "demo", "AZURE_OPENAI_ENDPOINT": "http://x", "AZURE_OPENAI_API_KEY": "k"}, ("azure", "bedrock")),
        ({"AZURE_OPENAI_ENDPOINT": "http://x", "AZURE_OPENAI_API_KEY": "k"}, ("bedrock",)),
        ({"AWS_PROFILE": "dev"}, ("azure",)),
        ({"AZURE_OPENAI_ENDPOINT": "http://x"}, ("azure", "bedrock")),  # no key: incomplete
    ],
)
def test_auto_mode_emulates_only_incomplete_providers(env, emulated):
    assert Settings.from_mapping(env).emulated_providers() == emulated


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"GATEWAY_MODE": "live"}, "AZURE_OPENAI_ENDPOINT"),
        ({"GATEWAY_MODE": "live", "AZURE_OPENAI_ENDPOINT": "http://x"}, "AZURE_OPENAI_API_KEY"),
        ({"GATEWAY_MODE": "live", "AZURE_OPENAI_ENDPOINT": "http://x", "AZURE_OPENAI_API_KEY": "k"}, "AWS_PROFILE"),
        ({"GATEWAY_MODE": "sometimes"}, "GATEWAY_MODE"),
        ({"GATEWAY_STORE_CONTENT": "maybe"}, "GATEWAY_STORE_CONTENT"),
        ({"AZURE_OPENAI_MODEL_MAP": "nonsense"}, "AZURE_OPENAI_MODEL_MAP"),
        ({"GATEWAY_TIMEOUT_S": "-1"}, "GATEWAY_TIMEOUT_S"),
        ({"GATEWAY_SDK_MAX_ATTEMPTS": "nine"}, "GATEWAY_SDK_MAX_ATTEMPTS"),
        ({"GATEWAY_EMULATOR_PROFILE": "fast"}, "GATEWAY_EMULATOR_PROFILE"),
        ({"GATEWAY_CONSOLE_OPEN": "perhaps"}, "GATEWAY_CONSOLE_OPEN"),
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(env)
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_secrets_never_show_in_repr():
    s = Settings.from_mapping(
        {
            "AZURE_OPENAI_API_KEY": "azure-secret-123",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-456",
            "GATEWAY_API_KEYS": "api-secret-789",
        }
    )
    text = repr(s)
    assert "azure-secret-123" not in text and "aws-secret-456" not in text and "api-secret-789" not in text
    assert set(s.secrets()) >= {"azure-secret-123", "aws-secret-456", "api-secret-789"}


def test_dotenv_file_is_read_and_real_env_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GATEWAY_DB_PATH=/from/dotenv.sqlite\nAWS_REGION=us-east-1\n")
    s = Settings.from_env({"AWS_REGION": "eu-central-1"}, dotenv_path=dotenv)
    assert s.db_path == "/from/dotenv.sqlite"
    assert s.provider("bedrock").region == "eu-central-1"


def test_process_environment_wins_over_dotenv_when_read_natively(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GATEWAY_DB_PATH=/from/dotenv.sqlite\nAWS_REGION=us-east-1\nAZURE_OPENAI_DEPLOYMENT=a,b\n")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.delenv("GATEWAY_DB_PATH", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_DEPLOYMENT", raising=False)
    s = Settings.from_env(dotenv_path=dotenv)
    assert s.db_path == "/from/dotenv.sqlite" and s.provider("azure").model_ids() == ("a", "b")
    assert s.provider("bedrock").region == "eu-central-1"


def test_from_mapping_ignores_the_process_environment(monkeypatch):
    monkeypatch.setenv("GATEWAY_DB_PATH", "/from/process.sqlite")
    assert Settings.from_mapping({}).db_path == "./usage_logs.sqlite"
