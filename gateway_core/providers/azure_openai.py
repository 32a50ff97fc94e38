"""Azure OpenAI adapter: the OpenAI chat wire format through the official ``openai.AzureOpenAI`` client.

Azure is the OpenAI wire format with Azure's auth (an ``api-key`` header), the deployment
in the URL path, and an ``api-version`` query; ``openai_wire`` does the converting, error
mapping and calling, so this module holds only what is Azure's: its settings, its facts,
and how its client is built. A deployment is named by the operator, so pricing needs to
know which model it serves (``AZURE_OPENAI_MODEL_MAP``); answers report the dated model
version, which the price table resolves by itself.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from ..config import CommaList, ProviderSettings, secret_value
from ..errors import ConfigError
from ..governance.regions import UNKNOWN, azure_geography, azure_region, parse_region_map
from .openai_wire import OpenAIWireProvider

NAME = "azure"
EMULATOR_KEY = "emulated-key"  # the loopback emulator accepts any key; this one guards nothing
REGIONS_VARIABLE = "AZURE_OPENAI_DEPLOYMENT_REGIONS"


def _model_map(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    pairs = {}
    for item in (p.strip() for p in value.split(",") if p.strip()):
        if "=" not in item:
            raise ValueError(f"expected deployment=model, got {item!r}")
        dep, model = (s.strip() for s in item.split("=", 1))
        pairs[dep] = model
    return pairs


def _region_map(value: Any) -> Any:
    return parse_region_map(value, REGIONS_VARIABLE) if isinstance(value, str) else value


_UNKNOWN_REGION = "is not an Azure region this gateway knows (a geography code such as eu or us also works)"


class AzureSettings(ProviderSettings):
    endpoint: str | None = Field(None, validation_alias="AZURE_OPENAI_ENDPOINT")
    api_key: SecretStr | None = Field(None, validation_alias="AZURE_OPENAI_API_KEY", repr=False)
    deployments: CommaList = Field(("gpt-4o-mini",), validation_alias="AZURE_OPENAI_DEPLOYMENT")
    api_version: str = Field("2024-10-21", validation_alias="AZURE_OPENAI_API_VERSION")
    model_map: Annotated[dict[str, str], NoDecode, BeforeValidator(_model_map)] = Field(
        default_factory=dict, validation_alias="AZURE_OPENAI_MODEL_MAP"
    )
    # Where the resource runs (``swedencentral``, ``eastus2``...), and deployments that run
    # elsewhere: a data-zone or global deployment is configured with its geography (eu, us, global).
    resource_region: str | None = Field(None, validation_alias="AZURE_OPENAI_REGION")
    deployment_regions: Annotated[dict[str, str], NoDecode, BeforeValidator(_region_map)] = Field(
        default_factory=dict, validation_alias=REGIONS_VARIABLE
    )

    @field_validator("resource_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and azure_geography(value) == UNKNOWN:
            raise ValueError(_UNKNOWN_REGION)
        return value

    @field_validator("deployment_regions")
    @classmethod
    def _regions(cls, value: dict[str, str]) -> dict[str, str]:
        for deployment, region in value.items():
            if azure_geography(region) == UNKNOWN:
                raise ValueError(f"{region!r} for deployment {deployment} {_UNKNOWN_REGION}; got {deployment}={region}")
        return value

    def complete(self) -> bool:
        return bool(self.endpoint and self.api_key)

    def missing(self) -> ConfigError | None:
        if not self.endpoint:
            return ConfigError("AZURE_OPENAI_ENDPOINT", "is required in live mode")
        if not self.api_key:
            return ConfigError("AZURE_OPENAI_API_KEY", "is required in live mode")
        return None

    def model_ids(self) -> tuple[str, ...]:
        return self.deployments or ("gpt-4o-mini",)

    def priced_as(self, model: str) -> str:
        # A deployment is billed as the model it serves, not by its own name.
        return self.model_map.get(model, model)

    def geography(self, model: str) -> str:
        return azure_region(model, default_region=self.resource_region, deployment_regions=self.deployment_regions)


class AzureOpenAIProvider(OpenAIWireProvider):
    """``Provider`` over an injected ``openai.AzureOpenAI`` client."""

    name = NAME
    label = "Azure OpenAI"
    color = "blue"  # Streamlit badge colour
    chart_color = "#2563eb"
    otel_name = "azure.ai.openai"  # gen_ai.provider.name in the OpenTelemetry GenAI conventions
    Settings = AzureSettings
    emulator = "azure"  # served by the loopback Azure OpenAI emulator in demo mode
    bill_format = "cost-details"  # its cloud bill: the Cost Management cost-details export

    @classmethod
    def from_settings(cls, settings, *, endpoint: str | None = None, api_key: str | None = None) -> AzureOpenAIProvider:
        import openai

        own: AzureSettings = settings.provider(NAME)
        endpoint = endpoint or own.endpoint
        api_key = api_key or secret_value(own.api_key)
        if not endpoint:
            raise ConfigError("AZURE_OPENAI_ENDPOINT", "is required to reach Azure OpenAI")
        if not api_key:
            raise ConfigError("AZURE_OPENAI_API_KEY", "is required to reach Azure OpenAI")
        client = openai.AzureOpenAI(
            azure_endpoint=endpoint,
            api_key=api_key,
            api_version=own.api_version,
            # One knob bounds every call: sdk_max_attempts HTTP attempts per candidate.
            max_retries=settings.sdk_max_attempts - 1,
            timeout=openai.Timeout(settings.timeout_s, connect=5),
        )
        return cls(client, model_map=own.model_map)

    @classmethod
    def for_emulator(cls, settings, url: str) -> AzureOpenAIProvider:
        return cls.from_settings(settings, endpoint=url, api_key=EMULATOR_KEY)

    @classmethod
    def emulated_models(cls, own: AzureSettings) -> dict[str, str]:
        """Deployment -> the model it serves, for the emulator's deployment table."""
        return {d: own.priced_as(d) for d in own.model_ids()}
