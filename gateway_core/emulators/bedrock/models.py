"""The Bedrock emulator's model table and model-id resolution (docs/wire.md).

An id may be a bare foundation-model id, a cross-region inference profile (``us.``, ``eu.``,
``apac.``, ``jp.``, ``au.``, ``global.`` + id) or a full ARN of either. Each row says which
geo profiles exist, whether a bare id may be invoked on demand (Haiku 4.5 and Sonnet 4.5 may
not), the model's output cap, and a lifecycle status: ``active``, ``legacy`` (still served)
or ``eol`` (answered with ResourceNotFoundException). Resolution is a pure function.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "global")


@dataclass(frozen=True)
class BedrockModel:
    model_id: str
    status: str = "active"  # active | legacy | eol
    profiles: tuple[str, ...] = GEO_PREFIXES
    profile_only: bool = False
    max_output: int = 8_192
    context_window: int = 200_000

    @property
    def short_name(self) -> str:
        """The Anthropic name InvokeModel reports, e.g. ``claude-3-haiku-20240307``."""
        name = self.model_id.split(".", 1)[-1]
        return name.rsplit("-v", 1)[0] if "-v" in name else name


_ALL4 = ("us", "eu", "apac", "jp", "au", "global")
DEFAULT_MODELS: dict[str, BedrockModel] = {
    m.model_id: m
    for m in (
        BedrockModel("anthropic.claude-3-haiku-20240307-v1:0", "legacy", ("us", "eu", "apac"), max_output=4_096),
        BedrockModel("anthropic.claude-3-sonnet-20240229-v1:0", "legacy", (), max_output=4_096),
        BedrockModel("anthropic.claude-3-5-haiku-20241022-v1:0", "legacy", ("us",)),
        BedrockModel("anthropic.claude-3-5-sonnet-20240620-v1:0", "legacy", ("us", "eu", "apac")),
        BedrockModel("anthropic.claude-3-5-sonnet-20241022-v2:0", "legacy", ("us", "eu")),
        BedrockModel("anthropic.claude-3-7-sonnet-20250219-v1:0", "legacy", ("us", "eu"), max_output=64_000),
        BedrockModel("anthropic.claude-sonnet-4-20250514-v1:0", "legacy", ("us", "eu", "apac", "global"), max_output=64_000),
        BedrockModel("anthropic.claude-opus-4-20250514-v1:0", "legacy", ("us", "eu"), max_output=32_000),
        BedrockModel("anthropic.claude-haiku-4-5-20251001-v1:0", "active", _ALL4, True, 64_000),
        BedrockModel("anthropic.claude-sonnet-4-5-20250929-v1:0", "active", _ALL4, True, 64_000),
    )
}


def model_table(models=None) -> dict[str, BedrockModel]:
    """None: the default table. A list of ids: only those (known rows keep their details).
    A mapping id -> dict of row fields (or None): the default table extended/overridden."""
    if models is None:
        return dict(DEFAULT_MODELS)
    if isinstance(models, Mapping):
        table = dict(DEFAULT_MODELS)
        for mid, fields in models.items():
            base = table.get(mid, BedrockModel(mid))
            fields = dict(fields or {})
            if "profiles" in fields:
                fields["profiles"] = tuple(fields["profiles"])
            table[mid] = replace(base, **fields)
        return table
    return {mid: DEFAULT_MODELS.get(mid, BedrockModel(mid)) for mid in models}


class ModelRejected(Exception):
    """The id cannot be invoked; carries the Bedrock error code, status and message."""

    def __init__(self, code: str, status: int, message: str):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


INVALID_ID = "The provided model identifier is invalid."


def resolve(raw_id: str, table: Mapping[str, BedrockModel]) -> tuple[BedrockModel, str | None]:
    """(model row, geo prefix or None for a bare id), or raise ModelRejected."""
    model_id = raw_id
    if raw_id.startswith("arn:"):
        parts = raw_id.split(":", 5)
        if len(parts) < 6 or parts[2] != "bedrock" or "/" not in parts[5]:
            raise ModelRejected("ValidationException", 400, INVALID_ID)
        kind, model_id = parts[5].split("/", 1)
        if kind not in ("inference-profile", "foundation-model"):
            raise ModelRejected("ValidationException", 400, INVALID_ID)
        if (kind == "inference-profile") != (model_id.split(".", 1)[0] in GEO_PREFIXES):
            raise ModelRejected("ValidationException", 400, INVALID_ID)
    prefix = None
    head, _, rest = model_id.partition(".")
    if head in GEO_PREFIXES and rest:
        prefix, model_id = head, rest
    row = table.get(model_id)
    if row is None or (prefix is not None and prefix not in row.profiles):
        raise ModelRejected("ValidationException", 400, INVALID_ID)
    if row.status == "eol":
        raise ModelRejected(
            "ResourceNotFoundException",
            404,
            "This model version has reached the end of its life. Please refer to the AWS documentation for more details.",
        )
    if prefix is None and row.profile_only:
        raise ModelRejected(
            "ValidationException",
            400,
            f"Invocation of model ID {model_id} with on-demand throughput isn't supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
        )
    return row, prefix
