"""Demo cloud bills written from the log itself, with planted effects to find.

A fresh install has no bill to reconcile, and the reconciliation has to be shown (and
tested) against something whose answer is known. ``write_demo_bills`` writes, for the
log's last ``days`` complete days, one export per provider that has a ``bill_format``:
the tokens and dollars the log holds, split into input and output meter lines as the real
exports spell them, plus lines a real export also carries: another service's usage (out
of scope) and, optionally, an AI meter the meter table does not know. ``gaps`` plants a
relative difference for chosen models (0.10: the bill says 10% more than the log).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from ..providers import PROVIDERS
from .filters import Filters

# Meter spellings seen in real exports, for the demo's models; others get a generic one.
DEMO_METERS = {
    "gpt-4o-mini": "gpt-4o-mini-0718-{d}-glbl Tokens",
    "gpt-4o": "gpt 4o 1120 {d} glbl Tokens",
    "gpt-4.1-mini": "gpt 4.1 mini {d} glbl Tokens",
    "anthropic.claude-3-haiku-20240307-v1:0": "USE1-Claude3Haiku-{d}-tokens",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "USE1-Claude3.5Haiku-{d}-tokens",
    "anthropic.claude-3-sonnet-20240229-v1:0": "USE1-Claude3Sonnet-{d}-tokens",
}
UNKNOWN = {"cost-details": "gpt-image-1 Img Outp glbl Tokens", "cur": "USE1-TitanEmbedTextV2-input-tokens"}
_DIRECTION = {"cost-details": ("Inp", "Outp"), "cur": ("input", "output")}
EA_COLUMNS = ("Date", "SubscriptionName", "MeterCategory", "MeterSubCategory", "MeterName", "Quantity", "UnitOfMeasure",
              "UnitPrice", "EffectivePrice", "CostInBillingCurrency", "BillingCurrency", "ResourceName")  # fmt: skip
CUR_COLUMNS = ("bill_payer_account_id", "line_item_usage_start_date", "line_item_product_code", "line_item_usage_type",
               "line_item_usage_amount", "line_item_unblended_cost", "line_item_currency_code", "line_item_resource_id")  # fmt: skip
LEGACY = {c: "lineItem/" + "".join(p.title() for p in c.removeprefix("line_item_").split("_")) for c in CUR_COLUMNS[1:]}


def _meter(fmt: str, model: str, output: bool) -> str:
    d = _DIRECTION[fmt][output]
    generic = f"{model} {d} glbl Tokens" if fmt == "cost-details" else f"USE1-{model}-{d}-tokens"
    return DEMO_METERS.get(model, generic).format(d=d)


def _lines(usage: pd.DataFrame, prices, gaps: Mapping, unknown: bool) -> dict[str, list[dict]]:
    """format -> neutral line dicts (day, meter, category, tokens, cost)."""
    out: dict[str, list[dict]] = {}
    for r in usage.itertuples(index=False):
        fmt = getattr(PROVIDERS.get(r.provider), "bill_format", None)
        price = prices.lookup(r.provider, r.model)
        if fmt is None or price is None:
            continue
        g = 1.0 + gaps.get((r.provider, prices.canonical_model(r.provider, r.model)), 0.0)
        out_cost = float(r.log_output) * float(price.output) / 1e6
        for output, tokens, cost in ((False, r.log_input, float(r.log_cost_usd) - out_cost), (True, r.log_output, out_cost)):
            line = {
                "day": r.day,
                "meter": _meter(fmt, price.model, output),
                "scope": True,
                "tokens": tokens * g,
                "cost": cost * g,
            }
            out.setdefault(fmt, []).append(line)
    for fmt, lines in out.items():
        for day in sorted({x["day"] for x in lines}):
            lines.append({"day": day, "meter": "Standard LRS Data Stored", "scope": False, "tokens": 1000.0, "cost": 0.02})
            if unknown:
                lines.append({"day": day, "meter": UNKNOWN[fmt], "scope": True, "tokens": 50_000.0, "cost": 0.75})
    return out


def _cost_details_row(x: dict, mca: bool) -> dict:
    day = date.fromisoformat(str(x["day"]))
    row = {
        "Date": day.isoformat() if mca else day.strftime("%m/%d/%Y"),
        "SubscriptionName": "demo-subscription",
        "MeterCategory": "Foundry Models" if x["scope"] else "Storage",
        "MeterSubCategory": "Azure OpenAI" if x["scope"] else "Blob",
        "MeterName": x["meter"],
        "Quantity": f"{x['tokens'] / 1000:.6f}",
        "UnitOfMeasure": "1K",
        "UnitPrice": f"{x['cost'] / max(x['tokens'] / 1000, 1e-9):.8f}",
        "EffectivePrice": f"{x['cost'] / max(x['tokens'] / 1000, 1e-9):.8f}",
        "CostInBillingCurrency": f"{x['cost']:.10f}",
        "BillingCurrency": "USD",
        "ResourceName": "gateway-openai",
    }
    # Customer Agreement exports spell the same columns in camelCase.
    return {k[0].lower() + k[1:]: v for k, v in row.items()} if mca else row


def _cur_row(x: dict, legacy: bool) -> dict:
    row = {
        "bill_payer_account_id": "111122223333",
        "line_item_usage_start_date": f"{x['day']}T00:00:00Z",
        "line_item_product_code": "AmazonBedrock" if x["scope"] else "AmazonS3",
        "line_item_usage_type": x["meter"],
        "line_item_usage_amount": f"{x['tokens']:.3f}",
        "line_item_unblended_cost": f"{x['cost']:.10f}",
        "line_item_currency_code": "USD",
        "line_item_resource_id": "arn:aws:bedrock:us-east-1::foundation-model/demo",
    }
    return {LEGACY.get(k, k): v for k, v in row.items()} if legacy else row


def write_demo_bills(
    an,
    prices,
    out_dir: str | Path,
    *,
    days: int = 30,
    today: date | None = None,
    gaps: Mapping[tuple[str, str], float] | None = None,
    unknown_meter: bool = True,
    mca: bool = False,
    legacy_cur: bool = False,
    parquet: bool = False,
) -> list[Path]:
    """Write one export per billed provider into ``out_dir``; returns their paths."""
    today = today or datetime.now(UTC).date()
    usage = an.usage_by_model_day(Filters(today - timedelta(days=days), today))
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt, lines in _lines(usage, prices, gaps or {}, unknown_meter).items():
        if fmt == "cost-details":
            rows = [_cost_details_row(x, mca) for x in lines]
        else:
            rows = [_cur_row(x, legacy_cur) for x in lines]
        path = out_dir / f"demo-{fmt}.{'parquet' if parquet and fmt == 'cur' else 'csv'}"
        if path.suffix == ".parquet":
            pd.DataFrame(rows).to_parquet(path, index=False)
        else:
            with path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        paths.append(path)
    return paths
