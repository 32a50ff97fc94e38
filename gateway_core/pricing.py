"""Prices as data: the packaged ``prices.toml`` table, optional overrides, and exact cost maths.

A ``PriceTable`` maps what a provider reports or what an operator configures (Azure dated
model versions, Bedrock geo inference profiles, full ARNs) onto one canonical row keyed by
(provider, model), and turns usage into USD as ``Decimal``. An unknown model yields ``None``,
never a silent $0, so the caller can mark the row unpriced.

Costs are quantised to ``COST_QUANTUM`` (1e-10 USD, banker's rounding) so that sums over the
usage log are reproducible; at that grain a single token of the cheapest model (0.025 USD per
1M tokens) is still represented exactly.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .types import Usage

PRICES_ENV = "GATEWAY_PRICES_FILE"
STATUSES = ("active", "legacy", "retired")
COST_QUANTUM = Decimal("1e-10")

# Bedrock cross-region profiles. ``global.`` is the reference price; the rest are "geo"
# profiles, which cost ``geo_multiplier`` times more from the 4.5 generation on.
GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "ca", "us-gov")
GLOBAL_PREFIX = "global"
_PROFILE = re.compile(rf"^({'|'.join(map(re.escape, (*GEO_PREFIXES, GLOBAL_PREFIX)))})\.(.+)$")
_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # Azure model versions: gpt-4o-mini-2024-07-18
_MONEY_FIELDS = ("input", "output", "cached_input", "cache_write", "geo_multiplier")
_CACHE_LIMIT = 4096  # resolved names; cleared wholesale so odd inputs cannot grow it forever


@dataclass(frozen=True)
class Price:
    """One row of the price table. Money fields are USD per 1M tokens.

    ``applied_multiplier`` is 1 for the row itself and ``geo_multiplier`` on the copy that
    ``lookup`` returns for a geo inference profile (whose rates are already scaled).
    """

    provider: str
    model: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    source: str = ""
    verified_at: date | None = None
    status: str = "active"
    aliases: tuple[str, ...] = ()
    geo_multiplier: Decimal | None = None
    notes: str = ""
    applied_multiplier: Decimal = Decimal(1)
    max_output: int | None = None  # the model's own output cap, when known

    def scaled(self, factor: Decimal) -> Price:
        def mul(v):
            return None if v is None else v * factor

        return replace(
            self,
            input=self.input * factor,
            output=self.output * factor,
            cached_input=mul(self.cached_input),
            cache_write=mul(self.cache_write),
            applied_multiplier=self.applied_multiplier * factor,
        )

    def charge(self, input_tokens: int, output_tokens: int, cached_input_tokens: int = 0) -> Decimal:
        """USD for one call. ``input_tokens`` includes the cached ones, as providers report it."""
        if input_tokens < 0 or output_tokens < 0:
            raise ValueError("token counts must not be negative")
        cached = min(max(cached_input_tokens, 0), input_tokens)
        # A model without a prompt cache bills any "cached" token as ordinary input.
        cached_rate = self.input if self.cached_input is None else self.cached_input
        total = (input_tokens - cached) * self.input + cached * cached_rate + output_tokens * self.output
        return total.scaleb(-6).quantize(COST_QUANTUM, rounding=ROUND_HALF_EVEN)


def split_profile(model_id: str) -> tuple[str | None, str]:
    """``(profile prefix or None, bare id)`` for a Bedrock id, profile id or ARN.

    ``arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.x-v1:0`` -> ``("us", "anthropic.x-v1:0")``.
    Model ids contain ``:`` but never ``/``, so the ARN's resource id is everything after the last ``/``.
    """
    name = model_id.strip()
    if name.startswith("arn:"):
        name = name.rsplit("/", 1)[-1]
    m = _PROFILE.match(name)
    return (m.group(1), m.group(2)) if m else (None, name)


class PriceTable:
    """Lookup and costing over price rows. Safe to share between threads (read-mostly dicts)."""

    def __init__(self, rows: Iterable[Price], version: str):
        self.version = version
        self._rows: dict[tuple[str, str], Price] = {}
        self._names: dict[tuple[str, str], tuple[str, str]] = {}
        for p in rows:
            self._rows[(p.provider, p.model.lower())] = p
        for key, p in self._rows.items():
            for alias in p.aliases:
                self._names.setdefault((p.provider, alias.lower()), key)
        # A row's own name always wins over another row's alias.
        self._names.update({key: key for key in self._rows})
        self._cache: dict[tuple[str, str], Price | None] = {}

    # --- loading ------------------------------------------------------------------------

    @classmethod
    def load(cls, override_file: str | None = None) -> PriceTable:
        """The packaged table, with the rows of ``override_file`` (if any) replacing or extending it.

        A missing or malformed override raises ``ConfigError`` naming ``GATEWAY_PRICES_FILE``.
        """
        packaged = resources.files(__package__).joinpath("prices.toml").read_bytes()
        version, rows = _parse(packaged)
        table = {(p.provider, p.model.lower()): p for p in rows}
        if override_file:
            try:
                raw = Path(override_file).read_bytes()
            except OSError as e:
                raise ConfigError(PRICES_ENV, f"cannot read price file {override_file!r}: {e.strerror}") from None
            try:
                _, extra = _parse(raw)
            except ValueError as e:
                raise ConfigError(PRICES_ENV, f"invalid price file {override_file!r}: {e}") from None
            table.update({(p.provider, p.model.lower()): p for p in extra})
            version = f"{version}+{hashlib.sha256(raw).hexdigest()[:8]}"
        return cls(table.values(), version)

    @classmethod
    def from_settings(cls, settings) -> PriceTable:
        return cls.load(settings.prices_file)

    # --- queries ------------------------------------------------------------------------

    def rows(self) -> tuple[Price, ...]:
        return tuple(sorted(self._rows.values(), key=lambda p: (p.provider, p.model)))

    def lookup(self, provider: str, model: str) -> Price | None:
        """The row billing ``model`` on ``provider`` (geo-scaled for 4.5-generation geo profiles), or None."""
        key = (provider, model)
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = self._resolve(provider, model)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = price
        return price

    def cost(self, provider: str, model: str, usage: Usage) -> Decimal | None:
        """USD for provider-reported usage; None when the model is unpriced."""
        price = self.lookup(provider, model)
        if price is None:
            return None
        return price.charge(usage.input_tokens, usage.output_tokens, usage.cached_input_tokens)

    def estimate_cost(self, provider: str, model: str, input_tokens: int, output_tokens: int) -> Decimal | None:
        """Pre-request estimate: every prompt token at the full input rate (the cache hit is unknown)."""
        price = self.lookup(provider, model)
        return None if price is None else price.charge(input_tokens, output_tokens)

    def canonical_model(self, provider: str, model: str) -> str:
        """The table's id for ``model``; unknown names come back stripped but otherwise unchanged."""
        price = self.lookup(provider, model)
        return price.model if price is not None else model.strip()

    def status(self, provider: str, model: str) -> str | None:
        price = self.lookup(provider, model)
        return None if price is None else price.status

    def _resolve(self, provider: str, model: str) -> Price | None:
        if not isinstance(model, str) or not model.strip():
            return None
        prefix, bare = split_profile(model.lower())
        key = self._names.get((provider, bare)) or self._names.get((provider, _DATED.sub("", bare)))
        if key is None:
            return None
        row = self._rows[key]
        if prefix in GEO_PREFIXES and row.geo_multiplier is not None:
            return row.scaled(row.geo_multiplier)
        return row


# --- parsing ------------------------------------------------------------------------------

_ROW_FIELDS = {f.name for f in fields(Price)} - {"applied_multiplier"}


def _parse(raw: bytes) -> tuple[str, list[Price]]:
    """``(version, rows)`` from TOML bytes; raises ValueError with a readable reason."""
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"not valid TOML ({e})") from None
    version = data.get("version", "")
    if not isinstance(version, str):
        raise ValueError("'version' must be a string")
    items = data.get("prices")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("expected [[prices]] tables")
    rows, seen = [], set()
    for n, item in enumerate(items, 1):
        try:
            price = _row(item)
        except ValueError as e:
            raise ValueError(f"[[prices]] row {n}: {e}") from None
        key = (price.provider, price.model.lower())
        if key in seen:
            raise ValueError(f"[[prices]] row {n}: duplicate row for {price.provider}/{price.model}")
        seen.add(key)
        rows.append(price)
    return version, rows


def _row(item: dict[str, Any]) -> Price:
    unknown = set(item) - _ROW_FIELDS
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(sorted(unknown))}")
    for name in ("provider", "model", "input", "output"):
        if name not in item:
            raise ValueError(f"missing {name!r}")
    from .providers import PROVIDER_NAMES

    provider = item["provider"]
    if provider not in PROVIDER_NAMES:
        raise ValueError(f"provider must be one of {', '.join(PROVIDER_NAMES)}; got {provider!r}")
    model = item["model"]
    if not isinstance(model, str) or not model.strip():
        raise ValueError("'model' must be a non-empty string")
    status = item.get("status", "active")
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}; got {status!r}")
    aliases = item.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ValueError("'aliases' must be a list of strings")
    money = {k: _money(k, item[k]) for k in _MONEY_FIELDS if k in item}
    if money.get("geo_multiplier") == 0:
        raise ValueError("'geo_multiplier' must be greater than zero")
    return Price(
        provider=provider,
        model=model.strip(),
        status=status,
        aliases=tuple(a.strip() for a in aliases),
        source=str(item.get("source", "")),
        notes=str(item.get("notes", "")),
        verified_at=_date(item.get("verified_at")),
        max_output=_cap(item.get("max_output")),
        **money,
    )


def _cap(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("'max_output' must be a positive integer")
    return value


def _money(name: str, value: object) -> Decimal:
    # Strings are the documented form; TOML numbers are accepted via str() so 0.15 stays 0.15.
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f'{name!r} must be a decimal string like "0.15"')
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name!r} is not a number: {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{name!r} must be a non-negative number; got {value!r}")
    return d


def _date(value: object) -> date | None:
    if value is None or (isinstance(value, date) and not hasattr(value, "hour")):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"'verified_at' must be a date like 2026-11-26; got {value!r}")
