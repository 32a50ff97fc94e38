"""OpenAI-compatible adapter: any Chat Completions endpoint through the official ``openai.OpenAI`` client.

One adapter covers OpenAI itself and everything that speaks its wire format behind a bearer
key: Azure AI Foundry serverless endpoints, vLLM, Ollama, LM Studio, Azure OpenAI's own
``/openai/v1`` route. The settings use the SDK's variable names (``OPENAI_API_KEY``,
``OPENAI_BASE_URL``) plus ``OPENAI_MODEL`` for the model ids, and the provider takes part
only when one of the first two is set. Converting, calling and error mapping are
``openai_wire``'s; this module holds the settings, the facts and the client.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, field_validator

from ..config import CommaList, ProviderSettings, secret_value
from ..errors import ConfigError
from ..governance.regions import GEOGRAPHIES, UNKNOWN
from .openai_wire import OpenAIWireProvider

NAME = "openai"
DEFAULT_MODEL = "gpt-4o-mini"
EMULATOR_KEY = "emulated-key"  # the loopback emulator accepts any key; this one guards nothing
# Local servers (vLLM, Ollama) need no key, but the SDK refuses to build a client without one.
NO_KEY = "not-needed"


class OpenAISettings(ProviderSettings):
    api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY", repr=False)
    base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    models: CommaList = Field((DEFAULT_MODEL,), validation_alias="OPENAI_MODEL")
    # The geography the endpoint serves from (eu, us...): an endpoint can be anywhere, so
    # ``unknown`` until configured, which a residency policy treats as outside every geography.
    geography_code: str = Field(UNKNOWN, validation_alias="OPENAI_REGION")

    @field_validator("geography_code", mode="before")
    @classmethod
    def _geography(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            if value not in GEOGRAPHIES and value != UNKNOWN:
                raise ValueError(f"expected a geography code ({', '.join(sorted(GEOGRAPHIES))} or unknown), got {value!r}")
        return value

    def enabled(self) -> bool:
        return bool(self.base_url or self.api_key)

    def complete(self) -> bool:
        return self.enabled()

    def missing(self) -> ConfigError | None:
        return None if self.enabled() else ConfigError("OPENAI_API_KEY", "or OPENAI_BASE_URL is required")

    def model_ids(self) -> tuple[str, ...]:
        return self.models or (DEFAULT_MODEL,)

    def geography(self, model: str) -> str:
        return self.geography_code


class OpenAICompatProvider(OpenAIWireProvider):
    """``Provider`` over an injected ``openai.OpenAI`` client."""

    name = NAME
    label = "OpenAI-compatible"
    color = "violet"  # Streamlit badge colour
    chart_color = "#7c3aed"
    otel_name = "openai"  # gen_ai.provider.name in the OpenTelemetry GenAI conventions
    Settings = OpenAISettings
    # Emulated by the Azure OpenAI emulator's /openai/v1 route: the same wire, a bearer key.
    emulator = "azure"
    bill_format = None  # no cost export the gateway reads

    @classmethod
    def from_settings(cls, settings, *, base_url: str | None = None, api_key: str | None = None) -> OpenAICompatProvider:
        import openai

        own: OpenAISettings = settings.provider(NAME)
        client = openai.OpenAI(
            base_url=base_url or own.base_url,  # None: the SDK's default, OpenAI itself
            api_key=api_key or secret_value(own.api_key) or NO_KEY,
            # One knob bounds every call: sdk_max_attempts HTTP attempts per candidate.
            max_retries=settings.sdk_max_attempts - 1,
            timeout=openai.Timeout(settings.timeout_s, connect=5),
        )
        return cls(client)

    @classmethod
    def for_emulator(cls, settings, url: str) -> OpenAICompatProvider:
        return cls.from_settings(settings, base_url=f"{url}/openai/v1", api_key=EMULATOR_KEY)

    @classmethod
    def emulated_models(cls, own: OpenAISettings) -> dict[str, str]:
        """Each model id served under its own name by the emulator."""
        return {m: m for m in own.model_ids()}
