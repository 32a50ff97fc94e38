"""Price table: name resolution, exact Decimal costs, overrides and lifecycle status."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from gateway_core.errors import ConfigError
from gateway_core.pricing import COST_QUANTUM, PriceTable, split_profile
from gateway_core.types import Usage

HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"
SONNET_45 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU_3 = "anthropic.claude-3-haiku-20240307-v1:0"
HAIKU_35 = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


EXPECTED_ROWS = {
    ("azure", "gpt-4o-mini"): ("0.15", "0.60", "0.075"),
    ("azure", "gpt-4o"): ("2.50", "10.00", "1.25"),
    ("azure", "gpt-4.1"): ("2.00", "8.00", "0.50"),
    ("azure", "gpt-4.1-mini"): ("0.40", "1.60", "0.10"),
    ("azure", "gpt-4.1-nano"): ("0.10", "0.40", "0.025"),
    ("azure", "o3-mini"): ("1.10", "4.40", "0.55"),
    ("azure", "o4-mini"): ("1.10", "4.40", "0.275"),
    ("bedrock", HAIKU_3): ("0.25", "1.25", None),
    ("bedrock", "anthropic.claude-3-sonnet-20240229-v1:0"): ("3.00", "15.00", None),
    ("bedrock", HAIKU_35): ("0.80", "4.00", "0.08"),
    ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0"): ("3.00", "15.00", "0.30"),
    ("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"): ("3.00", "15.00", "0.30"),
    ("bedrock", "anthropic.claude-3-7-sonnet-20250219-v1:0"): ("3.00", "15.00", "0.30"),
    ("bedrock", "anthropic.claude-sonnet-4-20250514-v1:0"): ("3.00", "15.00", "0.30"),
    ("bedrock", "anthropic.claude-opus-4-20250514-v1:0"): ("15.00", "75.00", "1.50"),
    ("bedrock", HAIKU_45): ("1.00", "5.00", "0.10"),
    ("bedrock", SONNET_45): ("3.00", "15.00", "0.30"),
    ("openai", "gpt-4o-mini"): ("0.15", "0.60", "0.075"),
    ("openai", "gpt-4o"): ("2.50", "10.00", "1.25"),
    ("openai", "gpt-4.1"): ("2.00", "8.00", "0.50"),
    ("openai", "gpt-4.1-mini"): ("0.40", "1.60", "0.10"),
    ("openai", "gpt-4.1-nano"): ("0.10", "0.40", "0.025"),
}


def test_packaged_table_has_every_documented_row_with_provenance(table):
    rows = {(p.provider, p.model): p for p in table.rows()}
    assert set(rows) == set(EXPECTED_ROWS)
    for key, (inp, out, cached) in EXPECTED_ROWS.items():
        p = rows[key]
        assert (p.input, p.output) == (Decimal(inp), Decimal(out)), key
        assert p.cached_input == (None if cached is None else Decimal(cached)), key
        checked = date(2026, 11, 30) if p.provider == "openai" else date(2026, 11, 26)
        assert isinstance(p.input, Decimal) and p.source and p.verified_at == checked
    assert table.version == "2026-11-30"


@pytest.mark.parametrize(
    "provider, name, canonical",
    [
        ("azure", "gpt-4o-mini", "gpt-4o-mini"),
        ("azure", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("azure", "gpt-4o-2024-11-20", "gpt-4o"),
        ("azure", "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        ("azure", "gpt-4o-2030-01-01", "gpt-4o"),  # any future dated version of a known model
        ("azure", " GPT-4o-Mini ", "gpt-4o-mini"),
        ("bedrock", HAIKU_3, HAIKU_3),
        ("bedrock", f"us.{HAIKU_3}", HAIKU_3),
        ("bedrock", f"eu.{HAIKU_3}", HAIKU_3),
        ("bedrock", f"apac.{HAIKU_35}", HAIKU_35),
        ("bedrock", f"global.{HAIKU_45}", HAIKU_45),
        ("bedrock", f"jp.{HAIKU_45}", HAIKU_45),
        ("bedrock", f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{HAIKU_35}", HAIKU_35),
        ("bedrock", f"arn:aws:bedrock:eu-west-2::foundation-model/{HAIKU_3}", HAIKU_3),
    ],
)
def test_lookup_resolves_versions_profiles_and_arns(table, provider, name, canonical):
    assert table.lookup(provider, name).model == canonical
    assert table.canonical_model(provider, name) == canonical


@pytest.mark.parametrize(
    "provider, name",
    [
        ("azure", "my-custom-deployment"),
        ("azure", HAIKU_3),  # a Bedrock model is not priced under Azure
        ("bedrock", "gpt-4o-mini"),
        ("bedrock", "anthropic.claude-unknown-20990101-v1:0"),
        ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3"),
        ("azure", ""),
    ],
)
def test_unknown_model_is_unpriced_not_free(table, provider, name):
    assert table.lookup(provider, name) is None
    assert table.cost(provider, name, Usage(1000, 1000)) is None
    assert table.estimate_cost(provider, name, 1000, 1000) is None
    assert table.status(provider, name) is None
    assert table.canonical_model(provider, name) == name.strip()


def test_million_input_tokens_of_gpt_4o_mini_cost_exactly_fifteen_cents(table):
    cost = table.cost("azure", "gpt-4o-mini", Usage(1_000_000, 0))
    assert cost == Decimal("0.15")
    assert cost.as_tuple().exponent == COST_QUANTUM.as_tuple().exponent


def test_cached_tokens_are_billed_at_the_cached_rate(table):
    # 600k fresh at 0.15 + 400k cached at 0.075 + 1M out at 0.60
    usage = Usage(1_000_000, 1_000_000, cached_input_tokens=400_000)
    assert table.cost("azure", "gpt-4o-mini-2024-07-18", usage) == Decimal("0.09") + Decimal("0.03") + Decimal("0.60")


def test_model_without_prompt_cache_bills_cached_tokens_as_input(table):
    usage = Usage(1_000_000, 0, cached_input_tokens=500_000)
    assert table.cost("bedrock", HAIKU_3, usage) == Decimal("0.25")


def test_single_token_of_cheapest_rate_is_exact(table):
    assert table.cost("azure", "gpt-4.1-nano", Usage(0, 0, cached_input_tokens=0)) == Decimal(0)
    assert table.cost("azure", "gpt-4.1-nano", Usage(1, 0, cached_input_tokens=1)) == Decimal("0.000000025")


def test_estimate_cost_charges_all_prompt_tokens_at_input_rate(table):
    assert table.estimate_cost("azure", "gpt-4o", 2_000, 500) == Decimal("0.005") + Decimal("0.005")
    assert table.estimate_cost("bedrock", f"us.{HAIKU_35}", 1_000_000, 1_000_000) == Decimal("4.80")


@pytest.mark.parametrize(
    "name, input_per_m, output_per_m",
    [
        (HAIKU_45, "1.00", "5.00"),
        (f"global.{HAIKU_45}", "1.00", "5.00"),
        (f"us.{HAIKU_45}", "1.10", "5.50"),
        (f"eu.{SONNET_45}", "3.30", "16.50"),
        (f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/au.{SONNET_45}", "3.30", "16.50"),
        (f"us.{HAIKU_35}", "0.80", "4.00"),  # before 4.5, us. costs the same as in-region
    ],
)
def test_geo_profiles_of_the_45_generation_cost_ten_percent_more(table, name, input_per_m, output_per_m):
    assert table.cost("bedrock", name, Usage(1_000_000, 0)) == Decimal(input_per_m)
    assert table.cost("bedrock", name, Usage(0, 1_000_000)) == Decimal(output_per_m)


def test_geo_multiplier_applies_to_cached_rate_and_is_reported(table):
    price = table.lookup("bedrock", f"us.{HAIKU_45}")
    assert price.applied_multiplier == Decimal("1.10")
    assert price.cached_input == Decimal("0.11")
    assert table.lookup("bedrock", HAIKU_45).applied_multiplier == 1


@pytest.mark.parametrize(
    "provider, name, status",
    [
        ("azure", "gpt-4o-mini", "active"),
        ("azure", "gpt-4.1", "active"),
        ("azure", "o3-mini-2025-01-31", "legacy"),
        ("azure", "o4-mini", "legacy"),
        ("bedrock", "anthropic.claude-3-sonnet-20240229-v1:0", "legacy"),
        ("bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "retired"),
        ("bedrock", "anthropic.claude-sonnet-4-20250514-v1:0", "legacy"),
        ("bedrock", f"global.{SONNET_45}", "active"),
    ],
)
def test_status_reports_lifecycle(table, provider, name, status):
    assert table.status(provider, name) == status


OVERRIDE = """
version = "site-1"

[[prices]]
provider = "azure"
model = "gpt-4o-mini"
input = "0.165"
cached_input = "0.083"
output = "0.66"
source = "EA agreement"
verified_at = 2026-12-01
status = "active"

[[prices]]
provider = "bedrock"
model = "anthropic.claude-opus-4-1-20250805-v1:0"
input = "15.00"
output = "75.00"
status = "legacy"
"""


def test_override_file_replaces_and_extends_rows(tmp_path):
    f = tmp_path / "prices.toml"
    f.write_text(OVERRIDE)
    table = PriceTable.load(str(f))
    assert table.cost("azure", "gpt-4o-mini", Usage(1_000_000, 0)) == Decimal("0.165")
    assert table.lookup("azure", "gpt-4o-mini").source == "EA agreement"
    opus = table.lookup("bedrock", "us.anthropic.claude-opus-4-1-20250805-v1:0")
    assert opus.output == Decimal("75.00") and opus.status == "legacy"
    assert table.lookup("azure", "gpt-4o").input == Decimal("2.50")  # untouched rows survive
    assert len(table.rows()) == len(EXPECTED_ROWS) + 1


def test_override_changes_the_logged_price_version(tmp_path):
    f = tmp_path / "prices.toml"
    f.write_text(OVERRIDE)
    first = PriceTable.load(str(f)).version
    f.write_text(OVERRIDE.replace('"0.165"', '"0.17"'))
    second = PriceTable.load(str(f)).version
    assert first.startswith("2026-11-30+") and second.startswith("2026-11-30+")
    assert first != second


@pytest.mark.parametrize(
    "text, reason",
    [
        ("[[prices]\nprovider = ", "not valid TOML"),
        ('[[prices]]\nprovider = "azure"\nmodel = "x"\noutput = "1"\n', "missing 'input'"),
        ('[[prices]]\nprovider = "azure"\nmodel = "x"\ninput = "cheap"\noutput = "1"\n', "not a number"),
        ('[[prices]]\nprovider = "azure"\nmodel = "x"\ninput = "-1"\noutput = "1"\n', "non-negative"),
        ('[[prices]]\nprovider = "azure"\nmodel = "x"\ninput = "1"\noutput = "1"\nstatus = "eol"\n', "status"),
        ('[[prices]]\nprovider = "gcp"\nmodel = "x"\ninput = "1"\noutput = "1"\n', "provider"),
        ('[[prices]]\nprovider = "azure"\nmodel = "x"\ninput = "1"\nouput = "1"\n', "unknown field"),
        ('prices = "none"\n', "[[prices]]"),
    ],
)
def test_malformed_override_names_the_variable(tmp_path, text, reason):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        PriceTable.load(str(f))
    assert exc.value.variable == "GATEWAY_PRICES_FILE"
    assert "GATEWAY_PRICES_FILE" in str(exc.value) and reason in str(exc.value)


def test_missing_override_file_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="GATEWAY_PRICES_FILE"):
        PriceTable.load(str(tmp_path / "nowhere.toml"))


def test_split_profile_handles_ids_profiles_and_arns():
    assert split_profile(HAIKU_3) == (None, HAIKU_3)
    assert split_profile(f"global.{HAIKU_45}") == ("global", HAIKU_45)
    assert split_profile(f"arn:aws:bedrock:us-east-1:1:inference-profile/apac.{HAIKU_3}") == ("apac", HAIKU_3)


def test_repeated_lookups_return_the_same_resolution(table):
    name = f"eu.{SONNET_45}"
    assert table.lookup("bedrock", name) is table.lookup("bedrock", name)
