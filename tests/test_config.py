"""Settings: env parsing, modes, and errors that name the variable at fault."""

from __future__ import annotations

import pytest

from gateway_core import ConfigError, Settings


def test_defaults_follow_the_design():
    s = Settings.from_mapping({})
    assert s.mode == "auto"
    assert s.azure_deployments == ("gpt-4o-mini",)
    assert s.bedrock_model_ids == ("anthropic.claude-3-sonnet-20240229-v1:0",)
    assert s.azure_api_version == "2024-10-21"
    assert s.aws_region == "eu-west-2"
    assert s.db_path == "./usage_logs.sqlite"
    assert s.store_content is False


def test_comma_separated_models_give_several_candidates():
    s = Settings.from_mapping({"AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini, gpt-4o", "BEDROCK_MODEL_ID": "a,b,c"})
    assert s.azure_deployments == ("gpt-4o-mini", "gpt-4o")
    assert s.bedrock_model_ids == ("a", "b", "c")


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
    ],
)
def test_bad_configuration_names_the_variable(env, variable):
    with pytest.raises(ConfigError) as info:
        Settings.from_mapping(env)
    assert info.value.variable == variable
    assert variable in str(info.value)


def test_secrets_never_show_in_repr():
    s = Settings.from_mapping({"AZURE_OPENAI_API_KEY": "azure-secret-123", "AWS_SECRET_ACCESS_KEY": "aws-secret-456",
                               "GATEWAY_API_KEYS": "api-secret-789"})
    text = repr(s)
    assert "azure-secret-123" not in text and "aws-secret-456" not in text and "api-secret-789" not in text
    assert set(s.secrets()) >= {"azure-secret-123", "aws-secret-456", "api-secret-789"}


def test_dotenv_file_is_read_and_real_env_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GATEWAY_DB_PATH=/from/dotenv.sqlite\nAWS_REGION=us-east-1\n")
    s = Settings.from_env({"AWS_REGION": "eu-central-1"}, dotenv_path=dotenv)
    assert s.db_path == "/from/dotenv.sqlite"
    assert s.aws_region == "eu-central-1"
