"""Settings: read once from the environment (and ``.env``) at the edge, then passed down.

Everything is parsed by pydantic-settings. ``Settings`` holds the gateway's own variables
(``GATEWAY_*``) plus one settings object per registered provider, each declared by its
provider class (``Provider.Settings``, a ``ProviderSettings``) with the variable names the
SDKs use. Real environment variables win over ``.env``; an empty variable counts as unset.
Every invalid or missing value raises one ``ConfigError`` naming the variable. Secret
fields are ``SecretStr`` and kept out of ``repr``, so a logged or displayed ``Settings``
never shows them. The standard ``OTEL_*`` variables are gathered here from the same
sources into ``otel_env``, for telemetry to read. Nothing else in ``gateway_core`` reads
``os.environ`` for configuration; ``.env.example`` lists every variable.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, SettingsConfigDict, SettingsError

from .errors import ConfigError
from .telemetry.otel_env import VARIABLES as OTEL_VARIABLES
from .telemetry.otel_env import parse_otel_env

MODES = ("auto", "demo", "live")
MIN_ADMIN_KEY_CHARS = 16
EMULATOR_PROFILES = ("demo", "zero")

# A mapping standing in for the process environment while ``from_mapping`` reads it.
_MAPPING: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("settings_mapping", default=None)


def split_list(value: Any) -> Any:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; other values pass through to validation."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    return value


# A comma-separated variable; NoDecode keeps pydantic-settings from reading it as JSON.
CommaList = Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_list)]


def secret_value(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class _MappingSource(EnvSettingsSource):
    """The environment source, reading a given mapping instead of ``os.environ``."""

    def __init__(self, settings_cls, mapping: Mapping[str, str]):
        self._mapping = mapping
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in self._mapping.items() if not (self.env_ignore_empty and v == "")}


class ConfigModel(BaseSettings):
    """Base of every settings class: frozen, variables named exactly, empty means unset."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True, env_ignore_empty=True)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings):
        mapping = _MAPPING.get()
        if mapping is not None:
            return (init_settings, _MappingSource(settings_cls, mapping))
        return (init_settings, env_settings, dotenv_settings)

    @classmethod
    def read(cls, dotenv_path: str | os.PathLike | None = None, **values):
        """An instance from the current source (the environment and ``dotenv_path``, or the
        mapping ``reading_mapping`` installed); a bad value raises ``ConfigError``."""
        try:
            return cls(_env_file=dotenv_path, **values)
        except ValidationError as e:
            raise _config_error(cls, e) from None
        except SettingsError:  # a value the source could not even decode
            raise ConfigError(" or ".join(cls.env_names()), "has a value that cannot be parsed") from None

    @classmethod
    def env_names(cls) -> tuple[str, ...]:
        """Every variable this class reads."""
        names: list[str] = []
        for field in cls.model_fields.values():
            alias = field.validation_alias
            if isinstance(alias, str):
                names.append(alias)
            elif isinstance(alias, AliasChoices):
                names.extend(a for a in alias.choices if isinstance(a, str))
        return tuple(names)


def _config_error(cls, e: ValidationError) -> ConfigError:
    first = e.errors()[0]
    loc = first.get("loc") or ("configuration",)
    variable = str(loc[0])
    field = next((f for f in cls.model_fields.values() if f.validation_alias == variable), None)
    message = first.get("msg", "is invalid").removeprefix("Value error, ")
    if field is not None and "got " not in message and "input" in first and isinstance(first["input"], str):
        message = f"{message}, got {first['input'][:80]!r}"
    return ConfigError(variable, message)


def _otel_variables(mapping: Mapping[str, str] | None, dotenv) -> dict[str, str]:
    """The ``OTEL_*`` variables of the source the other settings come from (real variables over ``.env``)."""
    if mapping is None:
        mapping = {}
        if dotenv:
            from dotenv import dotenv_values

            mapping.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        mapping.update(os.environ)
    return {k: v for k, v in mapping.items() if k.startswith("OTEL_") and isinstance(v, str)}


@contextmanager
def reading_mapping(mapping: Mapping[str, str] | None) -> Iterator[None]:
    """Within the block, settings classes read ``mapping`` instead of the environment."""
    token = _MAPPING.set(mapping)
    try:
        yield
    finally:
        _MAPPING.reset(token)


class ProviderSettings(ConfigModel):
    """One provider's configuration, declared on its class as ``Provider.Settings``.

    A provider is *enabled* when it takes part at all, *complete* when it can reach the
    real service; ``auto`` mode emulates an enabled provider that is not complete."""

    def enabled(self) -> bool:
        return True

    def complete(self) -> bool:
        raise NotImplementedError

    def missing(self) -> ConfigError | None:
        """What live mode lacks to reach the real service, naming the first variable."""
        raise NotImplementedError

    def model_ids(self) -> tuple[str, ...]:
        """The configured model ids (or deployments): one route each."""
        raise NotImplementedError

    def priced_as(self, model: str) -> str:
        """The price-table model that bills ``model``."""
        return model

    def geography(self, model: str) -> str:
        """Where ``model`` runs, as the geography code routing policies compare (``eu``, ``us``,
        ``uk``...; see ``governance.regions``); ``unknown`` unless the provider can tell."""
        return "unknown"

    def secrets(self) -> tuple[str, ...]:
        values = (
            secret_value(getattr(self, name))
            for name, f in type(self).model_fields.items()
            if f.annotation in (SecretStr, SecretStr | None)
        )
        return tuple(v for v in values if v)


class Settings(ConfigModel):
    mode: Literal["auto", "demo", "live"] = Field("auto", validation_alias="GATEWAY_MODE")
    db_path: str = Field("./usage_logs.sqlite", validation_alias="GATEWAY_DB_PATH")
    prices_file: str | None = Field(None, validation_alias="GATEWAY_PRICES_FILE")
    store_content: bool = Field(False, validation_alias="GATEWAY_STORE_CONTENT")
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode, BeforeValidator(split_list)] = Field(
        (), validation_alias="GATEWAY_API_KEYS", repr=False
    )
    emulator_profile: Literal["demo", "zero"] = Field("demo", validation_alias="GATEWAY_EMULATOR_PROFILE")
    timeout_s: float = Field(120.0, ge=0.05, le=3600, validation_alias="GATEWAY_TIMEOUT_S")
    sdk_max_attempts: int = Field(2, ge=1, le=5, validation_alias="GATEWAY_SDK_MAX_ATTEMPTS")
    # Console sign-in: who is an admin or an operator (e-mail addresses or values of the
    # role claim); everyone else signed in is a viewer. See console/roles.py.
    console_admins: CommaList = Field((), validation_alias="GATEWAY_CONSOLE_ADMINS")
    console_operators: CommaList = Field((), validation_alias="GATEWAY_CONSOLE_OPERATORS")
    console_role_claim: str = Field("groups", min_length=1, validation_alias="GATEWAY_CONSOLE_ROLE_CLAIM")
    console_open: bool = Field(False, validation_alias="GATEWAY_CONSOLE_OPEN")
    # The HTTP server's own limits (the API's request-level limits live in api/).
    header_timeout_s: float = Field(10.0, ge=0.1, le=600, validation_alias="GATEWAY_HEADER_TIMEOUT_S")
    max_connections: int = Field(1000, ge=1, le=100_000, validation_alias="GATEWAY_MAX_CONNECTIONS")
    cors_origins: Annotated[tuple[str, ...], NoDecode, BeforeValidator(split_list)] = Field(
        (), validation_alias="GATEWAY_CORS_ORIGINS"
    )
    # Quality floor: skip a model whose blind-vote win-rate lower bound for the task is below it.
    quality_floor: float | None = Field(None, ge=0, le=1, validation_alias="GATEWAY_QUALITY_FLOOR")
    quality_min_votes: int = Field(30, ge=1, le=1_000_000, validation_alias="GATEWAY_QUALITY_MIN_VOTES")
    # Bill reconciliation: a meter table whose rows are tried before the packaged one.
    bill_meters_file: str | None = Field(None, validation_alias="GATEWAY_BILL_METERS_FILE")
    # Governance: the secret that guards the admin API (keys, teams, budgets). Unset, the
    # admin routes do not exist.
    admin_key: SecretStr | None = Field(None, validation_alias="GATEWAY_ADMIN_KEY", repr=False)
    # The usage log when its storage fails: where rows spill, what requests do when nothing
    # can be stored, and the bounds (README, "When the usage log's storage fails").
    spill_dir: str | None = Field(None, validation_alias="GATEWAY_SPILL_DIR")
    on_log_failure: Literal["serve", "refuse"] | None = Field(None, validation_alias="GATEWAY_ON_LOG_FAILURE")
    log_queue_mb: float = Field(64.0, ge=1, le=65536, validation_alias="GATEWAY_LOG_QUEUE_MB")
    db_busy_timeout_s: float = Field(10.0, ge=0.05, le=600, validation_alias="GATEWAY_DB_BUSY_TIMEOUT_S")
    db_max_mb: float | None = Field(None, gt=0, validation_alias="GATEWAY_DB_MAX_MB")
    # PostgreSQL instead of the SQLite file: the log, keys, budgets and rate limits shared by
    # every instance (README, "Scaling out"). The URL may hold a password: kept out of repr.
    db_url: SecretStr | None = Field(None, validation_alias="GATEWAY_DB_URL", repr=False)
    db_pool_size: int = Field(10, ge=1, le=1000, validation_alias="GATEWAY_DB_POOL_SIZE")
    # One entry per registered provider, filled by ``from_env``; not read from a variable.
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    # The routing policy's variables (``governance.policy.PolicySettings``), filled by ``from_env``.
    policy: ConfigModel | None = None
    # The OTEL_* variables as set, filled by ``from_env`` (a collector header may be a credential).
    otel_env: dict[str, str] = Field(default_factory=dict, repr=False)

    @field_validator("mode", "emulator_profile", "on_log_failure", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("store_content", "console_open", mode="before")
    @classmethod
    def _boolean(cls, value: Any) -> Any:
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("1", "true", "yes", "on"):
                return True
            if v in ("0", "false", "no", "off"):
                return False
            raise ValueError("expected true or false")
        return value

    @field_validator("db_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        from .db.target import check_url

        return None if value is None else SecretStr(check_url(value.get_secret_value()))

    @field_validator("admin_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_ADMIN_KEY_CHARS:
            raise ValueError(f"must be at least {MIN_ADMIN_KEY_CHARS} characters; it guards every key and budget")
        return value

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv_path: str | os.PathLike | None = ".env") -> Settings:
        """Settings from ``env`` (default: the process environment) layered over a ``.env`` file.

        Real environment variables win over ``.env``, as python-dotenv does by default."""
        if env is None:
            dotenv = dotenv_path if dotenv_path and Path(dotenv_path).is_file() else None
            return cls._build(None, dotenv)
        merged: dict[str, str] = {}
        if dotenv_path and Path(dotenv_path).is_file():
            from dotenv import dotenv_values

            merged.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        merged.update(env)
        return cls._build(merged, None)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Settings from ``env`` alone: no process environment, no ``.env``."""
        return cls._build(dict(env), None)

    @classmethod
    def _build(cls, mapping: Mapping[str, str] | None, dotenv) -> Settings:
        from .governance.policy import PolicySettings
        from .providers import PROVIDERS

        with reading_mapping(mapping):
            providers = {name: p.Settings.read(dotenv) for name, p in PROVIDERS.items()}
            policy = PolicySettings.read(dotenv)
            settings = cls.read(dotenv, providers=providers, policy=policy, otel_env=_otel_variables(mapping, dotenv))
        settings.check()
        return settings

    @classmethod
    def env_names(cls) -> tuple[str, ...]:
        from .governance.policy import PolicySettings
        from .providers import PROVIDERS

        provider_names = tuple(n for p in PROVIDERS.values() for n in p.Settings.env_names())
        return super().env_names() + provider_names + PolicySettings.env_names() + OTEL_VARIABLES

    # --- which providers take part, and which are live ------------------------------

    def provider(self, name: str) -> ProviderSettings:
        return self.providers[name]

    def enabled_providers(self) -> tuple[str, ...]:
        return tuple(name for name, p in self.providers.items() if p.enabled())

    def emulated_providers(self) -> tuple[str, ...]:
        """Enabled providers to serve from the in-process emulators, per GATEWAY_MODE."""
        if self.mode == "live":
            return ()
        return tuple(n for n in self.enabled_providers() if self.mode == "demo" or not self.providers[n].complete())

    def log_failure_policy(self) -> str:
        """``GATEWAY_ON_LOG_FAILURE``, or by default ``serve`` when every provider is emulated
        (a demo loses nothing real) and ``refuse`` as soon as one is live (an unrecorded call
        to a real provider is spend nobody can account for)."""
        if self.on_log_failure:
            return self.on_log_failure
        return "serve" if set(self.emulated_providers()) == set(self.enabled_providers()) else "refuse"

    def check(self) -> None:
        """Raise ``ConfigError`` naming a telemetry variable that cannot work, or the first
        missing variable that live mode needs."""
        parse_otel_env(self.otel_env)
        if self.mode != "live":
            return
        for name in self.enabled_providers():
            problem = self.providers[name].missing()
            if problem is not None:
                raise problem

    def database(self) -> str:
        """Where the usage database is: ``GATEWAY_DB_URL`` when set, else the ``GATEWAY_DB_PATH`` file."""
        return secret_value(self.db_url) or self.db_path

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this configuration holds, for scrubbing text before it leaves."""
        from .db.target import password

        url = secret_value(self.db_url)
        values = [secret_value(k) for k in self.api_keys] + [secret_value(self.admin_key)]
        values += [url, password(url)] if url else []
        values += [v for p in self.providers.values() for v in p.secrets()]
        return tuple(v for v in values if v and len(v) >= 4)

    def api_key_values(self) -> tuple[str, ...]:
        return tuple(k.get_secret_value() for k in self.api_keys)
