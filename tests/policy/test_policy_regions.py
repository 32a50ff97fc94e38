"""Candidate regions as geography codes: Bedrock from profile prefixes or the client region,
Azure from settings, the OpenAI-compatible endpoint from its own setting; every route carries one."""

from __future__ import annotations

import pytest
from gateway_fixtures import demo_env

from gateway_core import Gateway, Settings
from gateway_core.errors import ConfigError
from gateway_core.governance.regions import (
    aws_geography,
    azure_geography,
    azure_region,
    bedrock_region,
    parse_region_map,
)

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.mark.parametrize(
    "model_id, client_region, expected",
    [
        (HAIKU, "eu-central-1", "eu"),
        (HAIKU, "us-east-1", "us"),
        (HAIKU, "ap-northeast-1", "apac"),
        (HAIKU, "eu-west-2", "uk"),
        (HAIKU, "eu-central-2", "ch"),
        (HAIKU, None, "unknown"),
        (f"eu.{HAIKU}", "us-east-1", "eu"),
        (f"us.{HAIKU}", "eu-west-1", "us"),
        (f"apac.{HAIKU}", "eu-west-1", "apac"),
        (f"global.{HAIKU}", "eu-west-1", "global"),
        (f"us-gov.{HAIKU}", "us-gov-west-1", "us"),
        (f"arn:aws:bedrock:eu-west-3::foundation-model/{HAIKU}", "us-east-1", "eu"),
        (f"arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.{HAIKU}", "eu-west-1", "us"),
        ("arn:aws:bedrock:ap-south-1:123456789012:application-inference-profile/a1b2c3", "us-east-1", "apac"),
        ("amazon.titan-text-express-v1", "sa-east-1", "sa"),
    ],
)
def test_bedrock_region_comes_from_the_profile_prefix_or_the_client_region(model_id, client_region, expected):
    assert bedrock_region(model_id, client_region) == expected


@pytest.mark.parametrize(
    "region, expected",
    [
        ("us-gov-west-1", "us"),
        ("ca-central-1", "ca"),
        ("me-central-1", "me"),
        ("il-central-1", "me"),
        ("af-south-1", "af"),
        ("mx-central-1", "mx"),
        ("eu", "eu"),
        ("mars-north-1", "unknown"),
        ("", "unknown"),
    ],
)
def test_aws_region_names_map_to_geographies(region, expected):
    assert aws_geography(region) == expected


@pytest.mark.parametrize(
    "region, expected",
    [
        ("westeurope", "eu"),
        ("West Europe", "eu"),
        ("swedencentral", "eu"),
        ("germanywestcentral", "eu"),
        ("francecentral", "eu"),
        ("uksouth", "uk"),
        ("switzerlandnorth", "ch"),
        ("norwayeast", "no"),
        ("eastus2", "us"),
        ("northcentralus", "us"),
        ("westus3", "us"),
        ("canadaeast", "ca"),
        ("japaneast", "apac"),
        ("australiaeast", "apac"),
        ("southeastasia", "apac"),
        ("southindia", "apac"),
        ("brazilsouth", "sa"),
        ("uaenorth", "me"),
        ("southafricanorth", "af"),
        ("EU", "eu"),
        ("global", "global"),
        ("atlantis", "unknown"),
        (None, "unknown"),
    ],
)
def test_azure_region_names_map_to_geographies(region, expected):
    assert azure_geography(region) == expected


@pytest.mark.parametrize(
    "deployment, default, mapping, expected",
    [
        ("gpt-4o-mini", "swedencentral", None, "eu"),
        ("gpt-4o-mini", "swedencentral", {"gpt-4o-mini": "eastus2"}, "us"),
        ("gpt-4o", "swedencentral", {"gpt-4o-mini": "eastus2"}, "eu"),
        ("gpt-4o", None, {"gpt-4o": "global"}, "global"),
        ("gpt-4o", None, None, "unknown"),
    ],
)
def test_azure_deployment_region_prefers_the_per_deployment_map(deployment, default, mapping, expected):
    assert azure_region(deployment, default_region=default, deployment_regions=mapping) == expected


def test_region_map_parses_and_names_the_variable_when_malformed():
    assert parse_region_map(" a=westeurope, b = eu ,", "AZURE_OPENAI_REGIONS") == {"a": "westeurope", "b": "eu"}
    assert parse_region_map(None, "AZURE_OPENAI_REGIONS") == {}
    for bad in ("a", "a=", "=eu"):
        with pytest.raises(ConfigError) as err:
            parse_region_map(bad, "AZURE_OPENAI_REGIONS")
        assert err.value.variable == "AZURE_OPENAI_REGIONS"


# --- regions as provider facts: the settings that say where each configured model runs --------


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, {"gpt-4o-mini": "unknown", HAIKU: "uk", "gpt-4.1-mini": "unknown"}),
        (
            {"AZURE_OPENAI_REGION": "swedencentral", "AWS_REGION": "eu-central-1", "OPENAI_REGION": "US"},
            {"gpt-4o-mini": "eu", HAIKU: "eu", "gpt-4.1-mini": "us"},
        ),
        (
            {
                "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini,gpt-4o",
                "AZURE_OPENAI_REGION": "eastus2",
                "AZURE_OPENAI_DEPLOYMENT_REGIONS": "gpt-4o-mini=eu",
                "BEDROCK_MODEL_ID": f"eu.{HAIKU},us.{HAIKU}",
                "AWS_REGION": "ap-southeast-2",
            },
            {"gpt-4o-mini": "eu", "gpt-4o": "us", f"eu.{HAIKU}": "eu", f"us.{HAIKU}": "us", "gpt-4.1-mini": "unknown"},
        ),
    ],
    ids=["demo-defaults", "resource-regions", "per-deployment-and-profiles"],
)
def test_every_configured_route_carries_its_region(tmp_path, env, expected):
    base = {
        "AZURE_OPENAI_DEPLOYMENT": "gpt-4o-mini",
        "BEDROCK_MODEL_ID": HAIKU,
        "OPENAI_API_KEY": "test-only",
        "OPENAI_MODEL": "gpt-4.1-mini",
    }
    settings = Settings.from_mapping(demo_env(tmp_path / "log.sqlite", **{**base, **env}))
    with Gateway(settings) as gw:
        assert {r.model: r.region for r in gw.runtime.routes} == expected
        assert {s["model"]: s["region"] for s in gw.provider_status()} == expected
        facts = gw.runtime.candidate_facts
        assert all(facts[(r.provider, r.model)]["region"] == r.region for r in gw.runtime.routes)


@pytest.mark.parametrize(
    "env, variable",
    [
        ({"AZURE_OPENAI_REGION": "westeurop"}, "AZURE_OPENAI_REGION"),
        ({"AZURE_OPENAI_DEPLOYMENT_REGIONS": "gpt-4o-mini=atlantis"}, "AZURE_OPENAI_DEPLOYMENT_REGIONS"),
        ({"AZURE_OPENAI_DEPLOYMENT_REGIONS": "gpt-4o-mini"}, "AZURE_OPENAI_DEPLOYMENT_REGIONS"),
        ({"OPENAI_REGION": "mars"}, "OPENAI_REGION"),
    ],
)
def test_a_region_the_gateway_cannot_place_is_a_config_error_naming_the_variable(env, variable):
    with pytest.raises(ConfigError) as err:
        Settings.from_mapping(env)
    assert err.value.variable == variable
