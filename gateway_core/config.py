"""Settings: read once from the environment (and ``.env``) at the edge, then passed down.

Nothing else in ``gateway_core`` reads ``os.environ`` for configuration. The variable
names follow the original design and the SDK conventions; ``.env.example`` lists them.
Secrets are kept out of ``repr`` so a logged or displayed ``Settings`` never shows them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

from .errors import ConfigError

MODES = ("auto", "demo", "live")
EMULATOR_PROFILES = ("demo", "zero")

DEFAULT_AZURE_DEPLOYMENTS = ("gpt-4o-mini",)
DEFAULT_BEDROCK_MODELS = ("anthropic.claude-3-sonnet-20240229-v1:0",)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(p.strip() for p in (value or "").split(",") if p.strip())


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None or value.strip() == "":
        return default
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"expected true or false, got {value!r}")


def _number(name: str, value: str | None, default: float, lo: float, hi: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        n = float(value)
    except ValueError:
        raise ConfigError(name, f"expected a number, got {value!r}") from None
    if not lo <= n <= hi:
        raise ConfigError(name, f"must be between {lo} and {hi}")
    return n


def _model_map(value: str | None) -> dict[str, str]:
    pairs = {}
    for item in _split(value):
        if "=" not in item:
            raise ConfigError("AZURE_OPENAI_MODEL_MAP", f"expected deployment=model, got {item!r}")
        dep, model = (s.strip() for s in item.split("=", 1))
        pairs[dep] = model
    return pairs


@dataclass(frozen=True)
class Settings:
    mode: str = "auto"
    azure_endpoint: str | None = None
    azure_api_key: str | None = field(default=None, repr=False)
    azure_deployments: tuple[str, ...] = DEFAULT_AZURE_DEPLOYMENTS
    azure_api_version: str = "2024-10-21"
    azure_model_map: Mapping[str, str] = field(default_factory=dict)
    aws_profile: str | None = None
    aws_region: str = "eu-west-2"
    aws_access_key_id: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    bedrock_model_ids: tuple[str, ...] = DEFAULT_BEDROCK_MODELS
    bedrock_endpoint_url: str | None = None
    db_path: str = "./usage_logs.sqlite"
    prices_file: str | None = None
    store_content: bool = False
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    emulator_profile: str = "demo"
    timeout_s: float = 120.0
    sdk_max_attempts: int = 2

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike | None = ".env") -> "Settings":
        """Build settings from ``env`` (default ``os.environ``) layered over a ``.env`` file.

        Real environment variables win over ``.env``, as python-dotenv does by default.
        """
        merged: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            from dotenv import dotenv_values

            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(os.environ if env is None else env)
        return cls.from_mapping(merged)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> "Settings":
        g = env.get
        mode = (g("GATEWAY_MODE") or "auto").strip().lower()
        if mode not in MODES:
            raise ConfigError("GATEWAY_MODE", f"must be one of {', '.join(MODES)}, got {mode!r}")
        profile = (g("GATEWAY_EMULATOR_PROFILE") or "demo").strip().lower()
        if profile not in EMULATOR_PROFILES:
            raise ConfigError("GATEWAY_EMULATOR_PROFILE", f"must be one of {', '.join(EMULATOR_PROFILES)}")
        settings = cls(
            mode=mode,
            azure_endpoint=g("AZURE_OPENAI_ENDPOINT") or None,
            azure_api_key=g("AZURE_OPENAI_API_KEY") or None,
            azure_deployments=_split(g("AZURE_OPENAI_DEPLOYMENT")) or DEFAULT_AZURE_DEPLOYMENTS,
            azure_api_version=g("AZURE_OPENAI_API_VERSION") or "2024-10-21",
            azure_model_map=_model_map(g("AZURE_OPENAI_MODEL_MAP")),
            aws_profile=g("AWS_PROFILE") or None,
            aws_region=g("AWS_REGION") or g("AWS_DEFAULT_REGION") or "eu-west-2",
            aws_access_key_id=g("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=g("AWS_SECRET_ACCESS_KEY") or None,
            aws_session_token=g("AWS_SESSION_TOKEN") or None,
            bedrock_model_ids=_split(g("BEDROCK_MODEL_ID")) or DEFAULT_BEDROCK_MODELS,
            bedrock_endpoint_url=g("BEDROCK_ENDPOINT_URL") or None,
            db_path=g("GATEWAY_DB_PATH") or "./usage_logs.sqlite",
            prices_file=g("GATEWAY_PRICES_FILE") or None,
            store_content=_bool("GATEWAY_STORE_CONTENT", g("GATEWAY_STORE_CONTENT"), False),
            api_keys=_split(g("GATEWAY_API_KEYS")),
            emulator_profile=profile,
            timeout_s=_number("GATEWAY_TIMEOUT_S", g("GATEWAY_TIMEOUT_S"), 120.0, 0.05, 3600),
            sdk_max_attempts=int(_number("GATEWAY_SDK_MAX_ATTEMPTS", g("GATEWAY_SDK_MAX_ATTEMPTS"), 2, 1, 5)),
        )
        settings.check()
        return settings

    def with_overrides(self, **changes) -> "Settings":
        return replace(self, **changes)

    # --- which providers are live -------------------------------------------------------

    def azure_configured(self) -> bool:
        return bool(self.azure_endpoint and self.azure_api_key)

    def bedrock_configured(self) -> bool:
        return bool(self.aws_profile or (self.aws_access_key_id and self.aws_secret_access_key))

    def emulated_providers(self) -> tuple[str, ...]:
        """Providers to serve from the in-process emulators, per GATEWAY_MODE."""
        if self.mode == "demo":
            return ("azure", "bedrock")
        if self.mode == "live":
            return ()
        out = []
        if not self.azure_configured():
            out.append("azure")
        if not self.bedrock_configured():
            out.append("bedrock")
        return tuple(out)

    def check(self) -> None:
        """Raise ``ConfigError`` naming the first missing variable that live mode needs."""
        if self.mode != "live":
            return
        if not self.azure_endpoint:
            raise ConfigError("AZURE_OPENAI_ENDPOINT", "is required in live mode")
        if not self.azure_api_key:
            raise ConfigError("AZURE_OPENAI_API_KEY", "is required in live mode")
        if not self.bedrock_configured():
            raise ConfigError("AWS_PROFILE", "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY is required in live mode")

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this configuration holds, for scrubbing text before it leaves."""
        vals = (self.azure_api_key, self.aws_secret_access_key, self.aws_session_token, self.aws_access_key_id, *self.api_keys)
        return tuple(v for v in vals if v and len(v) >= 4)
